"""Residents take lessons through the real dispatcher: buttons, typing, resuming, stale taps."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.lessons.catalog import Library
from bot.lessons.models import DONE, LessonProgress
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from tests.botkit import Harness, running_bot
from tests.onboard import signed_up

Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


async def _events(h: Harness, telegram_id: int) -> list[Event]:
    async with h.app.sessions() as session:
        resident = await session.scalar(select(Resident).where(Resident.telegram_id == telegram_id))
        assert resident is not None
        return list(
            await session.scalars(
                select(Event).where(Event.subject == resident.pseudonym).order_by(Event.id)
            )
        )


async def _progress(h: Harness, lesson_id: str) -> list[LessonProgress]:
    async with h.app.sessions() as session:
        return list(
            await session.scalars(
                select(LessonProgress).where(LessonProgress.lesson_id == lesson_id)
            )
        )


async def test_a_lesson_in_bangla_by_buttons_with_a_wrong_then_right_answer(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        rahima = await signed_up(h, 6001, language="বাংলা", area="কুলাউড়া", first_name="রহিমা")
        [lessons] = await rahima.tap("📘 পাঠ")
        assert lessons.text.startswith("পাঠ\n")
        labels = [row[0][0] for row in lessons.buttons]
        assert labels[0] == "মোবাইল ব্যাংকিংয়ের পিন আর ওটিপি গোপন রাখুন"
        # Every shipped lesson, then the menu button.
        assert len(labels) == len(Library.load()) + 1 and labels[-1] == "◀ মেনু"

        [step] = await rahima.tap("মোবাইল ব্যাংকিংয়ের পিন")
        assert "১/৫" in step.text and "পিন হলো আপনার টাকার চাবি" in step.text
        for n in "২৩৪৫":
            [step] = await rahima.tap("পরের")
            assert f"{n}/৫" in step.text
        [quiz] = await rahima.tap("পরের")
        assert "প্রশ্ন" in quiz.text and "হেড অফিস" in quiz.text
        assert len(quiz.buttons) == 3

        [wrong] = await rahima.tap("কোডের অর্ধেক বলব")
        assert wrong.text.startswith("❌") and "আবার চেষ্টা করুন" in wrong.text
        [done] = await rahima.tap("ফোন কেটে দেব")
        assert done.text.startswith("✅ ঠিক।")
        assert "🎉" in done.text and "যা শিখলেন" in done.text
        assert "এরপর দেখুন: প্রতারক ফোন আর মেসেজ চিনুন" in done.text
        assert done.buttons[0][0][0] == "▶ প্রতারক ফোন আর মেসেজ চিনুন"

        [progress] = await _progress(h, "pin-otp")
        assert progress.status == DONE and progress.quiz_right is True
        assert progress.completed_at is not None

        kinds = [e.kind for e in await _events(h, 6001)]
        assert kinds.count(EventKind.LESSON_STARTED) == 1
        assert kinds.count(EventKind.STEP_REACHED) == 5
        assert kinds.count(EventKind.QUIZ_ANSWERED) == 2
        assert kinds.count(EventKind.LESSON_COMPLETED) == 1
        answers = [e for e in await _events(h, 6001) if e.kind == EventKind.QUIZ_ANSWERED]
        assert [a.data["right"] for a in answers if a.data] == [False, True]
        # Every lesson event carries the resident's area, for the reach reports.
        assert all(e.area_code and e.area_code.startswith("6058") for e in answers)

        [lessons] = await rahima.send("/lessons")
        assert lessons.buttons[0][0][0].startswith("✅ ")


async def test_a_lesson_in_english_by_typing(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        amina = await signed_up(h, 6002)
        [lessons] = await amina.send("/lessons")
        assert "Lessons" in lessons.text
        [step] = await amina.send("2")  # the second lesson in the list
        assert "Spot scam calls and messages" in step.text and "1/5" in step.text
        for n in range(2, 6):
            [step] = await amina.send("next" if n % 2 else "Next")
            assert f"{n}/5" in step.text
        shown = "\n".join(m.text for m in await amina.send("what?"))
        assert "Type “next”" in shown and "5/5" in shown
        [quiz] = await amina.send("পরবর্তী")  # the Bangla word works in any language
        assert "Quiz" in quiz.text and "50,000 taka" in quiz.text
        [wrong] = await amina.send("2")
        assert wrong.text.startswith("❌ That is a trick.")
        [done] = await amina.send("1")
        assert done.text.startswith("✅ Right.") and "You finished" in done.text
        # The summary's choices can be typed too: 1 starts the suggested next lesson.
        [following] = await amina.send("1")
        assert "Check a message before you forward it" in following.text
        # Leaving with /menu, then ordinary words reach the ordinary conversation again.
        await amina.send("/menu")
        [answer] = await amina.send("help")
        assert "/forget" in answer.text


async def test_a_resident_resumes_after_a_restart_and_old_buttons_stay_harmless(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        person = await signed_up(h, 6003)
        await person.send("/lessons")
        [step] = await person.tap("Lock your phone well")
        first_message = step.message_id
        await person.tap("Next")
        [step] = await person.tap("Next")
        assert "3/5" in step.text

    # A new process: nothing but the database carries over.
    async with running_bot(db_url) as h:
        person = h.person(6003)
        [step] = await person.send("next")
        assert "Lock your phone well" in step.text and "4/5" in step.text

        # An old Next (for step 1) is politely refused and moves nothing.
        await person.press(step.message_id, "ls:n:phone-lock:0", forge=True)
        answer = h.emulator.callback_answer(person.last_callback_id)
        assert answer is not None and "This button has expired" in (answer.text or "")
        # Forged taps: unknown lesson, quiz before the quiz, nonsense.
        for forged in ("ls:q:phone-lock:0", "ls:o:no-such-lesson", "ls:n:phone-lock:x", "ls:zz"):
            await person.press(step.message_id, forged, forge=True)
            answer = h.emulator.callback_answer(person.last_callback_id)
            assert answer is not None and "expired" in (answer.text or ""), forged

        # From the list, the lesson is marked started and opens where it stopped.
        [lessons] = await person.send("/lessons")
        assert any(row[0][0] == "▶ Lock your phone well" for row in lessons.buttons)
        [step] = await person.tap("Lock your phone well")
        assert "4/5" in step.text
        [progress] = await _progress(h, "phone-lock")
        assert progress.step == 3
        assert first_message  # the first message was edited in place, never re-sent


async def test_lessons_need_sign_up_first(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        stranger = h.person(6004)
        replies = await stranger.send("/lessons")
        assert "Choose your language" in replies[-1].text
        await stranger.send("/start")
        await stranger.press(stranger.last_with_buttons().message_id, "ls:o:pin-otp", forge=True)
        answer = h.emulator.callback_answer(stranger.last_callback_id)
        # No language chosen yet: the default (Bangla) explains.
        assert answer is not None and "মেয়াদ শেষ" in (answer.text or "")

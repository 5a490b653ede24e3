"""Trainers make workshop groups, residents join, lessons are pushed through the outbox."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram.transport import AiogramTransport
from bot.core.base import utcnow
from bot.delivery.outbox import OUTBOX
from bot.delivery.rate_limit import MemoryRateLimiter, RateLimits
from bot.delivery.sender import Sender, SenderConfig
from bot.lessons.models import LessonPush
from bot.lessons.pushes import cancel_draft, claim_draft, draft_of
from bot.residents.events import EventKind
from bot.residents.models import Event, Resident
from bot.staff.audit import audit_entries
from bot.staff.roles import Role, grant_role
from tests.botkit import Harness, Person, running_bot
from tests.onboard import signed_up

DHAKA_DIVISION = "30"
DHAKA_TZ = ZoneInfo("Asia/Dhaka")


Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


async def area_of(h: Harness, telegram_id: int) -> str:
    async with h.app.sessions() as session:
        code = await session.scalar(
            select(Resident.area_code).where(Resident.telegram_id == telegram_id)
        )
    assert code is not None
    return code


async def make_trainer(h: Harness, telegram_id: int) -> tuple[Person, str]:
    """A signed-up person made trainer for their own area (Kulaura upazila)."""
    person = await signed_up(h, telegram_id, first_name="Trainer")
    scope = await area_of(h, telegram_id)
    async with h.app.sessions.begin() as session:
        await grant_role(session, telegram_id, Role.TRAINER, scope, "cli:test")
    return person, scope


async def make_group(trainer: Person, area: str, name: str = "Women's digital group") -> str:
    [made] = await trainer.send(f"/newgroup {area} {name}")
    match = re.search(r"Join code: (\w+)", made.text)
    assert match, made.text
    return match.group(1)


async def drain(h: Harness) -> datetime:
    """Send what the outbox holds, with a clock set past its rows' quiet-hours deferral."""
    async with h.app.sessions() as session:
        latest: datetime | None = await session.scalar(select(func.max(OUTBOX.c.not_before)))
    assert latest is not None
    clock = max(latest, utcnow()) + timedelta(seconds=1)
    config = SenderConfig(name="test", idle_poll=0.05, flush_interval=0.01)
    limiter = MemoryRateLimiter(RateLimits(per_second=None))
    transport = AiogramTransport(h.app.bot)
    await Sender(h.app.sessions, transport, limiter, config, clock=lambda: clock).drain(horizon=1)
    return latest


async def outbox_rows(h: Harness, push_id: int) -> int:
    async with h.app.sessions() as session:
        query = select(func.count()).where(
            OUTBOX.c.job_kind == "lesson_push", OUTBOX.c.job_id == push_id
        )
        return int(await session.scalar(query) or 0)


async def test_residents_join_by_code_and_start_link_and_get_a_pushed_lesson(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url, small_count_k=3) as h:
        trainer, area = await make_trainer(h, 8000)
        code = await make_group(trainer, area)
        assert re.fullmatch(r"[A-Z2-9]{6}", code)
        assert f"start=join-{code}" in trainer.last_text()

        by_code = await signed_up(h, 8001)
        [joined] = await by_code.send(f"/join {code.lower()}")
        assert joined.text.startswith("You joined “Women's digital group”")
        [again] = await by_code.send(f"/join {code}")
        assert "already" in again.text

        # A newcomer follows the link: sign up first, then join.
        newcomer = h.person(8002)
        shown = "\n".join(m.text for m in await newcomer.send(f"/start join-{code}"))
        assert f"/join {code}" in shown and "Welcome" in shown
        await newcomer.send("English")
        await newcomer.send("Kulaura")
        await newcomer.send("yes")
        [joined] = await newcomer.send(f"/join {code}")
        assert "You joined" in joined.text

        by_link = await signed_up(h, 8003, language="বাংলা", area="কুলাউড়া")
        [joined] = await by_link.send(f"/start join-{code}")
        assert "দলে যোগ দিয়েছেন" in joined.text
        [bad] = await by_link.send("/join NOPE99")
        assert "কোডটি কাজ করছে না" in bad.text

        [groups] = await trainer.send("/groups")
        assert "3 joined" in groups.text and code in groups.text
        # Counts only: no Telegram id of a member appears.
        assert not any(str(uid) in groups.text for uid in (8001, 8002, 8003))

        # A bystander in the same area is not in the group and gets nothing.
        await signed_up(h, 8004)
        [preview] = await trainer.send(f"/push pin-otp group {code}")
        assert "will reach 3 residents" in preview.text
        [queued] = await trainer.tap("Send")
        assert queued.text.startswith("Queued for 3 residents")
        async with h.app.sessions() as session:
            push = await session.scalar(select(LessonPush))
        assert push is not None and push.status == "queued" and push.recipients == 3
        assert await outbox_rows(h, push.id) == 3
        # A second tap on the same (now edited) confirmation queues nothing more.
        yes = preview.buttons[0][0][1]
        await trainer.press(preview.message_id, yes, forge=True)
        assert await outbox_rows(h, push.id) == 3

        not_before = (await drain(h)).astimezone(DHAKA_TZ)
        # Queued now, but never delivered in quiet hours (21:00-08:00 in Dhaka).
        assert 8 <= not_before.hour < 21
        pushed = by_link.last()
        assert "আপনার জন্য নতুন পাঠ" in pushed.text
        [step] = await by_link.tap("শুরু করুন")
        assert "১/৫" in step.text
        assert "A new lesson for you" in by_code.last_text()
        assert "A new lesson" not in h.emulator.last_message(8004).text

        async with h.app.sessions() as session:
            delivered = await session.scalar(
                select(func.count()).where(Event.kind == EventKind.PUSH_DELIVERED.value)
            )
            assert delivered == 3
            [entry] = await audit_entries(session, act="lesson_pushed")
        assert entry.scope == area and entry.details["recipients"] == 3


async def test_a_push_to_an_area_counts_its_residents_and_respects_the_trainers_scope(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        trainer, area = await make_trainer(h, 8100)
        for uid in (8101, 8102):
            await signed_up(h, uid)
        [preview] = await trainer.send(f"/push scam-calls area {area} 2030-01-02 10:00")
        # The trainer is a resident of the area too.
        assert "will reach <5 residents" in preview.text and "2 January 2030" in preview.text

        [refused] = await trainer.send(f"/push scam-calls area {DHAKA_DIVISION}")
        assert "outside the area you train in" in refused.text
        [refused] = await trainer.send("/push no-such-lesson area 30")
        assert "No lesson" in refused.text

        # Another trainer's group is not this trainer's to push to.
        other, _ = await make_trainer(h, 8103)
        other_code = await make_group(other, area, "Other group")
        [refused] = await trainer.send(f"/push pin-otp group {other_code}")
        assert "No group of yours" in refused.text

        async with h.app.sessions() as session:
            assert await audit_entries(session, act="lesson_pushed") == []


async def test_residents_cannot_use_trainer_commands(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        trainer, area = await make_trainer(h, 8200)
        code = await make_group(trainer, area)
        resident = await signed_up(h, 8201)
        for command in (
            f"/push pin-otp area {area}",
            f"/newgroup {area} Mine",
            "/groups",
            f"/course group {code} every 1 at 10:00 pin-otp",
        ):
            [answer] = await resident.send(command)
            assert "I don't know that command" in answer.text, command
        # A trainer's confirmation data replayed by a resident is refused.
        [preview] = await trainer.send(f"/push pin-otp area {area}")
        await resident.press(resident.last().message_id, preview.buttons[0][0][1], forge=True)
        refused = h.emulator.callback_answer(resident.last_callback_id)
        assert refused is not None and "expired" in (refused.text or "")
        async with h.app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(OUTBOX)) == 0


async def test_staff_who_never_signed_up_are_answered_in_their_apps_language(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        await signed_up(h, 8301)
        area = await area_of(h, 8301)
        # Invited by link, never a resident: only the Telegram app says which language.
        english = h.person(8300, "Trainer", language_code="en-GB")
        bangla = h.person(8302, "Trainer", language_code="bn")
        async with h.app.sessions.begin() as session:
            for uid in (8300, 8302):
                await grant_role(session, uid, Role.TRAINER, area, "cli:test")

        [preview] = await english.send(f"/push pin-otp area {area}")
        assert "will reach <5 residents" in preview.text, preview.text
        assert [label for label, _ in preview.buttons[0]] == ["✅ Send", "✖ Cancel"]
        [queued] = await english.tap("Send")
        assert queued.text.startswith("Queued for"), queued.text

        [question] = await english.send(f"/register {area}")
        assert question.text.startswith("Registering a person in"), question.text
        # The taps that follow stay in English too.
        [gender] = await english.tap("English")
        assert "tell their gender" in gender.text, gender.text

        [refused] = await english.send(f"/push pin-otp area {DHAKA_DIVISION}")
        assert "outside the area you train in" in refused.text

        [preview] = await bangla.send(f"/push pin-otp area {area}")
        assert "পৌঁছাবে" in preview.text, preview.text

        # A language chosen as a resident wins over the app's.
        chose = await signed_up(h, 8303, language="বাংলা", area="কুলাউড়া", language_code="en")
        async with h.app.sessions.begin() as session:
            await grant_role(session, 8303, Role.TRAINER, area, "cli:test")
        [preview] = await chose.send(f"/push pin-otp area {area}")
        assert "পৌঁছাবে" in preview.text, preview.text


async def test_cancel_drops_a_draft_but_never_a_push_already_going_out(
    db_url: str, sessions: Sessions
) -> None:
    async with running_bot(db_url) as h:
        await signed_up(h, 8401)
        area = await area_of(h, 8401)
        trainer = h.person(8400, "Trainer", language_code="en")
        async with h.app.sessions.begin() as session:
            await grant_role(session, 8400, Role.TRAINER, area, "cli:test")

        await trainer.send(f"/push pin-otp area {area}")
        [cancelled] = await trainer.tap("Cancel")
        assert cancelled.text.startswith("Cancelled"), cancelled.text

        await trainer.send(f"/push pin-otp area {area}")
        async with h.app.sessions() as session:
            push_id = await session.scalar(select(func.max(LessonPush.id)))
            assert push_id is not None
            # This process has read the draft for a Cancel tap when another bot process
            # claims it for the trainer's Send: the Cancel must not undo the Send.
            assert await draft_of(session, push_id, 8400) is not None
            assert await claim_draft(h.app.sessions, push_id)
            assert not await cancel_draft(session, push_id)
            await session.commit()
        async with h.app.sessions() as session:
            statuses = (
                await session.scalars(select(LessonPush.status).order_by(LessonPush.id))
            ).all()
        assert statuses == ["cancelled", "queued"]

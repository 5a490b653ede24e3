"""Taking a lesson: the list, one step at a time, the quiz, the summary. No aiogram here.

Where a resident stands in a lesson lives in `lesson_progress` (one row per resident and
lesson), and `Resident.awaiting` holds "ls:<lesson id>" while a lesson is on screen ("ls:" for
the list) so typed words reach this flow. Every screen is rebuilt from that stored state, so a
restart, a second bot process or a typed number all see the same screen, and a button is
checked against the state before it acts: an old "Next" cannot skip a step twice.

Button actions (all well under Telegram's 64-byte callback data limit):
    ls:l                the list         ls:o:<id>         open (start, resume, or take again)
    ls:n:<id>:<step>    next after step  ls:q:<id>:<k>     answer the quiz with option k
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from bot.core.i18n import is_plain_number, to_latin_digits
from bot.core.screens import Option, Reply, Screen, normalize_typed, rows_of
from bot.lessons.catalog import Lesson, LessonText, Library
from bot.lessons.models import DONE, QUIZ, STEP, LessonProgress
from bot.residents.conversation import Conversation, Expired
from bot.residents.events import EventKind, record

PREFIX = "ls:"
Translate = Callable[..., str]  # (key, **params) -> text in one language

_TAG = re.compile(r"<[^>]+>")


def plain(text: str) -> str:
    """Text without HTML tags or entities, as a button label shows it."""
    return html.unescape(_TAG.sub("", text))


# ----- screens (pure: lesson text and a translator in, a Screen out) -------------------------


def step_screen(t: Translate, text: LessonText, index: int) -> Screen:
    """Step `index` (0-based) with its progress and a Next button."""
    head = t("lesson.step_head", title=text.title, n=index + 1, total=len(text.steps))
    action = f"{PREFIX}n:{text.lesson_id}:{index}"
    return Screen(f"{head}\n\n{text.steps[index].text}", ((Option(t("lesson.next"), action),),))


def quiz_screen(t: Translate, text: LessonText, note: str | None = None) -> Screen:
    """The quiz question with one button per answer; `note` (feedback) goes first."""
    quiz = text.quiz
    body = (
        f"{t('lesson.quiz_head', title=text.title)}\n\n{quiz.question}\n\n{t('lesson.quiz_hint')}"
    )
    options = [
        Option(plain(option.text), f"{PREFIX}q:{text.lesson_id}:{k}")
        for k, option in enumerate(quiz.options)
    ]
    return Screen(f"{note}\n\n{body}" if note else body, rows_of(options, 1))


def done_screen(
    t: Translate, text: LessonText, next_text: LessonText | None, note: str | None = None
) -> Screen:
    """The summary after a right answer: what was learnt (the lesson's summary), what next."""
    parts = [note] if note else []
    parts.append(t("lesson.done", title=text.title))
    if text.summary:
        learnt = "\n".join(f"• {point}" for point in text.summary)
        parts.append(f"{t('lesson.learnt')}\n{learnt}")
    rows: list[tuple[Option, ...]] = []
    if next_text is not None:
        parts.append(t("lesson.try_next", title=next_text.title))
        rows.append((Option(f"▶ {plain(next_text.title)}", f"{PREFIX}o:{next_text.lesson_id}"),))
    rows.append((Option(t("lesson.all"), f"{PREFIX}l"), Option(t("lesson.menu"), "m:back")))
    return Screen("\n\n".join(parts), tuple(rows))


def list_screen(t: Translate, texts: list[LessonText], status: dict[str, str]) -> Screen:
    """Every lesson in the resident's language, done ones marked."""
    options = []
    for text in texts:
        state = status.get(text.lesson_id)
        key = {DONE: "lesson.item_done", STEP: "lesson.item_started", QUIZ: "lesson.item_started"}
        label = t(key[state], title=plain(text.title)) if state else plain(text.title)
        options.append(Option(label, f"{PREFIX}o:{text.lesson_id}"))
    rows = (*rows_of(options, 1), (Option(t("lesson.menu"), "m:back"),))
    return Screen(t("lesson.list_title"), rows)


def push_screen(t: Translate, text: LessonText) -> Screen:
    """What a pushed lesson looks like when it arrives: its title and a Start button."""
    start = Option(t("lesson.start"), f"{PREFIX}o:{text.lesson_id}")
    return Screen(t("lesson.pushed", title=text.title), ((start,),))


def lesson_screens(t: Translate, text: LessonText, next_text: LessonText | None) -> list[Screen]:
    """Every message a resident receives taking the lesson once, answering right first time."""
    screens = [push_screen(t, text)]
    screens += [step_screen(t, text, i) for i in range(len(text.steps))]
    screens.append(quiz_screen(t, text))
    screens.append(done_screen(t, text, next_text, text.quiz.right_note))
    return screens


# ----- the flow ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    lesson: Lesson
    progress: LessonProgress


class LessonFlow:
    """Lessons for one resident within one update's session."""

    def __init__(self, conversation: Conversation, library: Library) -> None:
        self.c = conversation
        self.library = library

    @property
    def _resident_id(self) -> int:
        assert self.c.resident is not None
        return self.c.resident.id

    def _text(self, lesson: Lesson) -> LessonText:
        return lesson.text_for(self.c.language)

    def _next_text(self, text: LessonText) -> LessonText | None:
        following = self.library.get(text.next_id) if text.next_id else None
        return self._text(following) if following else None

    def _set_awaiting(self, key: str | None) -> None:
        assert self.c.resident is not None
        self.c.resident.awaiting = key

    async def _progress(self, lesson_id: str) -> LessonProgress | None:
        return await self.c.session.scalar(
            select(LessonProgress).where(
                LessonProgress.resident_id == self._resident_id,
                LessonProgress.lesson_id == lesson_id,
            )
        )

    def _event(self, kind: EventKind, text: LessonText, **data: object) -> None:
        record(
            self.c.session,
            kind,
            self.c.resident,
            {"lesson": text.lesson_id, "language": text.language, **data},
            at=self.c.now,
        )

    # ----- entry points ----------------------------------------------------------------------

    async def lessons(self) -> Reply:
        """/lessons and the menu button: the list (or sign-up first)."""
        if not self.c.onboarded:
            return await self.c.command("menu")
        return Reply([await self.list_screen()])

    async def list_screen(self) -> Screen:
        rows = await self.c.session.execute(
            select(
                LessonProgress.lesson_id, LessonProgress.status, LessonProgress.completed_at
            ).where(LessonProgress.resident_id == self._resident_id)
        )
        status = {lid: DONE if completed else state for lid, state, completed in rows}
        self._set_awaiting(PREFIX)
        if not len(self.library):
            return Screen(
                self.c.t("menu.lessons_empty"), ((Option(self.c.t("lesson.menu"), "m:back"),),)
            )
        return list_screen(self.c.t, [self._text(lesson) for lesson in self.library], status)

    async def action(self, token: str) -> Reply:
        """A button (or a typed choice); raise Expired when it no longer fits the stored state."""
        if not token.startswith(PREFIX) or not self.c.onboarded:
            raise Expired(token)
        kind, _, rest = token[len(PREFIX) :].partition(":")
        if kind == "l" and not rest:
            return Reply([await self.list_screen()])
        lesson_id, _, arg = rest.partition(":")
        lesson = self.library.get(lesson_id)
        if lesson is None:
            raise Expired(token)
        if kind == "o" and not arg:
            return Reply([await self.open(lesson)])
        if kind in ("n", "q") and is_plain_number(arg):
            progress = await self._progress(lesson.id)
            if progress is None:
                raise Expired(token)
            if kind == "n":
                return Reply([self._next(Position(lesson, progress), int(arg), token)])
            return Reply([self._answer(Position(lesson, progress), int(arg), token)])
        raise Expired(token)

    async def text(self, raw: str) -> Reply:
        """Typed words while a lesson or the list is on screen."""
        typed = to_latin_digits(raw).strip()
        screen = await self.current_screen()
        if screen is not None:
            action = self._typed_choice(screen, typed)
            if action is not None:
                return (
                    await self.action(action)
                    if action.startswith(PREFIX)
                    else (await self._leave(action))
                )
            resident = self.c.resident
            if resident is not None and resident.awaiting != PREFIX:
                position = await self._position()
                if position is not None and position.progress.status != DONE:
                    return Reply([Screen(self.c.t("lesson.hint")), screen])
        # Not an answer to the lesson: the ordinary conversation takes it from here.
        self._set_awaiting(None)
        return await self.c.text(raw)

    async def _leave(self, action: str) -> Reply:
        self._set_awaiting(None)
        return await self.c.action(action)

    async def current_screen(self) -> Screen | None:
        """The screen the stored state stands for (None when it stands for none)."""
        resident = self.c.resident
        if resident is None or not (resident.awaiting or "").startswith(PREFIX):
            return None
        if resident.awaiting == PREFIX:
            return await self.list_screen()
        position = await self._position()
        if position is None:
            return None
        return self._screen_at(position)

    async def _position(self) -> Position | None:
        resident = self.c.resident
        assert resident is not None and resident.awaiting is not None
        lesson = self.library.get(resident.awaiting[len(PREFIX) :])
        progress = await self._progress(lesson.id) if lesson else None
        if lesson is None or progress is None:
            return None
        return Position(lesson, progress)

    def _screen_at(self, position: Position) -> Screen:
        text = self._text(position.lesson)
        progress = position.progress
        self._set_awaiting(PREFIX + text.lesson_id)
        if progress.status == STEP:
            return step_screen(self.c.t, text, min(progress.step, len(text.steps) - 1))
        if progress.status == QUIZ:
            return quiz_screen(self.c.t, text)
        return done_screen(self.c.t, text, self._next_text(text))

    def _typed_choice(self, screen: Screen, typed: str) -> str | None:
        action = screen.choice_for(typed)
        if action is not None:
            return action
        nexts = [o.action for o in screen.options() if o.action.startswith(f"{PREFIX}n:")]
        if nexts and normalize_typed(typed) in self._next_words():
            return nexts[0]
        return None

    def _next_words(self) -> set[str]:
        words: set[str] = set()
        for language in self.c.ctx.catalog.files:
            raw = self.c.ctx.catalog.raw(language, "words.next")
            words.update(normalize_typed(word) for word in raw.split(",") if word.strip())
        return words

    # ----- steps -----------------------------------------------------------------------------

    async def open(self, lesson: Lesson) -> Screen:
        """Start a lesson, resume it where the resident stopped, or take a finished one again."""
        text = self._text(lesson)
        progress = await self._progress(lesson.id)
        if progress is None:
            progress = LessonProgress(
                resident_id=self._resident_id,
                lesson_id=lesson.id,
                step=0,
                status=STEP,
                started_at=self.c.now,
                updated_at=self.c.now,
            )
            self.c.session.add(progress)
            self._event(EventKind.LESSON_STARTED, text)
            self._event(EventKind.STEP_REACHED, text, step=1, of=len(text.steps))
        elif progress.status == DONE:
            progress.step, progress.status = 0, STEP
            progress.quiz_choice = progress.quiz_right = None
            progress.updated_at = self.c.now
            self._event(EventKind.LESSON_STARTED, text, again=True)
            self._event(EventKind.STEP_REACHED, text, step=1, of=len(text.steps))
        return self._screen_at(Position(lesson, progress))

    def _next(self, position: Position, step: int, token: str) -> Screen:
        progress = position.progress
        text = self._text(position.lesson)
        if progress.status != STEP or progress.step != step:
            raise Expired(token)
        progress.updated_at = self.c.now
        if step + 1 < len(text.steps):
            progress.step = step + 1
            self._event(EventKind.STEP_REACHED, text, step=step + 2, of=len(text.steps))
        else:
            progress.status = QUIZ
        return self._screen_at(position)

    def _answer(self, position: Position, choice: int, token: str) -> Screen:
        progress = position.progress
        text = self._text(position.lesson)
        quiz = text.quiz
        if progress.status != QUIZ or not 0 <= choice < len(quiz.options):
            raise Expired(token)
        right = quiz.options[choice].right
        progress.quiz_choice, progress.quiz_right = choice, right
        progress.updated_at = self.c.now
        self._event(EventKind.QUIZ_ANSWERED, text, choice=choice, right=right)
        self._set_awaiting(PREFIX + text.lesson_id)
        if not right:
            return quiz_screen(self.c.t, text, self.c.t("lesson.wrong", note=quiz.wrong_note))
        progress.status = DONE
        first_time = progress.completed_at is None
        progress.completed_at = progress.completed_at or self.c.now
        self._event(EventKind.LESSON_COMPLETED, text, first_time=first_time)
        note = self.c.t("lesson.right", note=quiz.right_note)
        return done_screen(self.c.t, text, self._next_text(text), note)

"""Lessons as trainers write them: one folder per lesson, one Markdown file per language.

A lesson file is a small front matter, its steps and a closing quiz::

    ---
    id: pin-otp
    title: Keep your mobile-money PIN secret
    topic: money
    level: 1
    next: scam-calls
    reviewed_by:
    ---

    ## Step
    Telegram HTML, with **bold** and "- " bullets as shortcuts.

    ## Quiz
    Question: Who may ask for your PIN?
    - [ ] The agent
    - [x] Nobody
    Right: Yes. …
    Wrong: No. …

    ## Summary
    - What the resident takes away, one short line each (shown after the quiz).

Parsing is pure (text in, values and problems out) so the content check and the bot read
lessons the same way. The bot loads the library once at start; a broken lesson is left out
and logged, never allowed to stop the bot: CI's content check is where it must fail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bot.core.i18n import is_plain_number
from bot.core.resources import content_folder

log = logging.getLogger("sabai.lessons")

LESSONS_DIR = content_folder() / "lessons"
# Languages a lesson must have; others (Sylheti) are optional and fall back to Bangla.
REQUIRED_LANGUAGES = ("bn", "en")
LESSON_LANGUAGES = ("bn", "en", "syl")
FALLBACK = {"syl": "bn", "en": "bn", "bn": "en"}
REQUIRED_FIELDS = ("id", "title", "topic", "level")
KNOWN_FIELDS = (*REQUIRED_FIELDS, "order", "next", "reviewed_by", "reviewed_on")
DEFAULT_ORDER = 100
# Lesson ids travel in callback data (64 bytes at most), so they stay short and plain.
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MIN_OPTIONS, MAX_OPTIONS = 2, 4

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_OPTION = re.compile(r"^- \[( |x|X)\]\s*(.*)$")


@dataclass(frozen=True)
class Problem:
    """Something wrong in a lesson file, at a line (1-based; 0 when it concerns the file)."""

    path: Path
    line: int
    message: str
    error: bool = True

    def __str__(self) -> str:
        kind = "error" if self.error else "warning"
        return f"{self.path}:{self.line}: {kind}: {self.message}"


@dataclass(frozen=True)
class Step:
    text: str  # Telegram HTML, ready to send
    line: int


@dataclass(frozen=True)
class QuizOption:
    text: str
    right: bool
    line: int


@dataclass(frozen=True)
class Quiz:
    question: str
    options: tuple[QuizOption, ...]
    right_note: str
    wrong_note: str
    line: int

    @property
    def right_index(self) -> int:
        """Position of the right option (the content check ensures there is exactly one)."""
        return next(i for i, option in enumerate(self.options) if option.right)


@dataclass(frozen=True)
class LessonText:
    """One language version of a lesson."""

    lesson_id: str
    language: str
    path: Path
    title: str
    topic: str
    level: int
    steps: tuple[Step, ...]
    quiz: Quiz
    reviewed_by: str
    next_id: str | None = None
    order: int = DEFAULT_ORDER
    fields: Mapping[str, int] = field(default_factory=dict)  # front-matter key → line
    # What the resident learnt, one point a line, shown after the quiz (`## Summary`).
    summary: tuple[str, ...] = ()
    reviewed_on: str = ""

    @property
    def reviewed(self) -> bool:
        return bool(self.reviewed_by)


@dataclass(frozen=True)
class Lesson:
    """A lesson in every language it was written in."""

    id: str
    texts: Mapping[str, LessonText]

    def text_for(self, language: str | None) -> LessonText:
        """The version to show a resident: theirs if written (and reviewed, for optional ones)."""
        lang = language or "bn"
        own = self.texts.get(lang)
        if own is not None and (lang in REQUIRED_LANGUAGES or own.reviewed):
            return own
        fallback = self.texts.get(FALLBACK.get(lang, "bn"))
        return fallback if fallback is not None else next(iter(self.texts.values()))

    @property
    def order_key(self) -> tuple[int, str]:
        base = self.texts.get("en") or next(iter(self.texts.values()))
        return (base.order, base.lesson_id)


@dataclass(frozen=True)
class Library:
    """Every usable lesson, in a stable order (`order`, then id)."""

    lessons: Mapping[str, Lesson]

    def get(self, lesson_id: str) -> Lesson | None:
        return self.lessons.get(lesson_id)

    def __iter__(self) -> Iterator[Lesson]:
        return iter(sorted(self.lessons.values(), key=lambda lesson: lesson.order_key))

    def __len__(self) -> int:
        return len(self.lessons)

    @classmethod
    def load(cls, folder: Path = LESSONS_DIR) -> Library:
        """Load every lesson the content check finds no error in; log the ones left out."""
        from bot.lessons.check import check_lessons

        library, _ = load_library(folder)
        problems = [p for p in check_lessons(folder, measure=False).problems if p.error]
        for problem in problems:
            log.error("lesson left out: %s", problem)
        broken = {problem.path.parent.name for problem in problems}
        return cls({k: v for k, v in library.lessons.items() if k not in broken})


def render_markdown(text: str) -> str:
    """Turn the two Markdown shortcuts trainers use into Telegram HTML; the rest is HTML."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("- "):
            line = "• " + line[2:]
        lines.append(_BOLD.sub(r"<b>\1</b>", line))
    return "\n".join(lines).strip()


def _front_matter(
    lines: list[str], path: Path, problems: list[Problem]
) -> tuple[dict[str, str], dict[str, int], int]:
    """Read `key: value` lines between two `---`; return the values, their lines, body start."""
    values: dict[str, str] = {}
    where: dict[str, int] = {}
    if not lines or lines[0].strip() != "---":
        problems.append(Problem(path, 1, "the file must start with a --- front matter block"))
        return values, where, 0
    for index in range(1, len(lines)):
        raw = lines[index].strip()
        if raw == "---":
            return values, where, index + 1
        if not raw or raw.startswith("#"):
            continue
        key, sep, value = raw.partition(":")
        key = key.strip()
        if not sep:
            problems.append(
                Problem(path, index + 1, f"front matter line is not `key: value`: {raw}")
            )
            continue
        if key not in KNOWN_FIELDS:
            problems.append(Problem(path, index + 1, f"unknown front matter field {key!r}"))
        values[key] = value.strip().strip('"').strip()
        where[key] = index + 1
    problems.append(Problem(path, 1, "the front matter block is not closed with ---"))
    return values, where, len(lines)


def _sections(lines: list[str], start: int) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """Split the body at `## ` headings: (heading, its line, [(line number, text)])."""
    sections: list[tuple[str, int, list[tuple[int, str]]]] = []
    for index in range(start, len(lines)):
        line = lines[index].rstrip()
        if line.startswith("## "):
            sections.append((line[3:].strip().lower(), index + 1, []))
        elif sections:
            sections[-1][2].append((index + 1, line))
        elif line.strip() and not line.lstrip().startswith("<!--"):
            sections.append(("", index + 1, [(index + 1, line)]))
    return sections


def _body(content: list[tuple[int, str]]) -> str:
    text = "\n".join(line for _, line in content)
    # Several blank lines read as one paragraph break on a phone.
    return render_markdown(re.sub(r"\n{3,}", "\n\n", text))


def _quiz(
    heading_line: int, content: list[tuple[int, str]], path: Path, problems: list[Problem]
) -> Quiz | None:
    question = right_note = wrong_note = ""
    options: list[QuizOption] = []
    current: str | None = None
    for number, line in content:
        raw = line.strip()
        if not raw:
            continue
        match = _OPTION.match(raw)
        label, sep, rest = raw.partition(":")
        if match:
            options.append(QuizOption(render_markdown(match[2]), match[1] != " ", number))
            current = None
        elif sep and label.strip().lower() in ("question", "right", "wrong"):
            current = label.strip().lower()
            value = rest.strip()
            if current == "question":
                question = value
            elif current == "right":
                right_note = value
            else:
                wrong_note = value
        elif current is not None:
            # A long question or explanation may continue on the next line.
            if current == "question":
                question += "\n" + raw
            elif current == "right":
                right_note += "\n" + raw
            else:
                wrong_note += "\n" + raw
        else:
            problems.append(Problem(path, number, f"quiz line not understood: {raw}"))
    ok = True
    for name, value in (("Question", question), ("Right", right_note), ("Wrong", wrong_note)):
        if not value:
            problems.append(Problem(path, heading_line, f"the quiz has no `{name}:` line"))
            ok = False
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        problems.append(
            Problem(path, heading_line, f"the quiz needs 2 to 4 options, it has {len(options)}")
        )
        ok = False
    rights = sum(option.right for option in options)
    if rights != 1:
        problems.append(
            Problem(path, heading_line, f"the quiz needs exactly one right answer, it has {rights}")
        )
        ok = False
    if not ok:
        return None
    return Quiz(
        render_markdown(question),
        tuple(options),
        render_markdown(right_note),
        render_markdown(wrong_note),
        heading_line,
    )


def _summary(
    heading_line: int, content: list[tuple[int, str]], path: Path, problems: list[Problem]
) -> tuple[str, ...]:
    """The points of a `## Summary`: one "- " line each."""
    points = []
    for number, line in content:
        raw = line.strip()
        if not raw:
            continue
        if not raw.startswith("- "):
            problems.append(Problem(path, number, 'a summary line starts with "- "'))
            continue
        points.append(render_markdown(raw[2:].strip()))
    if not points:
        problems.append(Problem(path, heading_line, "empty summary"))
    return tuple(points)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_lesson(text: str, path: Path, language: str) -> tuple[LessonText | None, list[Problem]]:
    """Parse one lesson file; return it (None when unusable) and every problem found."""
    problems: list[Problem] = []
    lines = text.replace("\r\n", "\n").split("\n")
    values, where, body_start = _front_matter(lines, path, problems)
    for name in REQUIRED_FIELDS:
        if not values.get(name):
            problems.append(Problem(path, where.get(name, 1), f"missing field {name!r}"))
    if "reviewed_by" not in values:
        problems.append(Problem(path, 1, "missing field 'reviewed_by' (leave it empty if none)"))
    lesson_id = values.get("id", "")
    if lesson_id and not ID_RE.match(lesson_id):
        problems.append(
            Problem(path, where["id"], "id must be 1-32 of a-z, 0-9 and -, starting with a letter")
        )
    order = DEFAULT_ORDER
    if values.get("order"):
        if is_plain_number(values["order"]):
            order = int(values["order"])
        else:
            problems.append(Problem(path, where["order"], "order must be a whole number"))
    level = 0
    if values.get("level"):
        if is_plain_number(values["level"]):
            level = int(values["level"])
        else:
            problems.append(Problem(path, where["level"], "level must be a whole number"))

    reviewed_on = values.get("reviewed_on", "")
    if reviewed_on and not _is_date(reviewed_on):
        problems.append(
            Problem(path, where["reviewed_on"], "reviewed_on must be a date: 2026-12-04")
        )
    steps: list[Step] = []
    quiz: Quiz | None = None
    summary: tuple[str, ...] = ()
    for heading, line, content in _sections(lines, body_start):
        if heading == "step":
            body = _body(content)
            if not body:
                problems.append(Problem(path, line, "empty step"))
            steps.append(Step(body, line))
        elif heading == "quiz":
            if quiz is not None:
                problems.append(Problem(path, line, "a lesson has one quiz"))
            quiz = _quiz(line, content, path, problems)
        elif heading == "summary":
            summary = _summary(line, content, path, problems)
        else:
            problems.append(
                Problem(path, line, "text outside a `## Step`, `## Quiz` or `## Summary` section")
            )
    if not steps:
        problems.append(Problem(path, 1, "the lesson has no `## Step`"))
    if quiz is None and not any("quiz" in p.message for p in problems):
        problems.append(Problem(path, 1, "the lesson has no `## Quiz`"))
    if quiz is None or any(p.error for p in problems):
        return None, problems
    return (
        LessonText(
            lesson_id=lesson_id,
            language=language,
            path=path,
            title=render_markdown(values["title"]),
            topic=values["topic"],
            level=level,
            steps=tuple(steps),
            quiz=quiz,
            reviewed_by=values.get("reviewed_by", ""),
            next_id=values.get("next") or None,
            order=order,
            fields=where,
            summary=summary,
            reviewed_on=reviewed_on,
        ),
        problems,
    )


def lesson_folders(folder: Path) -> list[Path]:
    """Every lesson folder, in name order (files beside them, like check.toml, are not lessons)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def parse_folder(path: Path) -> tuple[dict[str, LessonText], list[Problem]]:
    """Parse every language file of one lesson folder."""
    texts: dict[str, LessonText] = {}
    problems: list[Problem] = []
    for file in sorted(path.glob("*.md")):
        language = file.stem
        if language not in LESSON_LANGUAGES:
            problems.append(Problem(file, 0, f"unknown language {language!r} (use bn, en or syl)"))
            continue
        parsed, found = parse_lesson(file.read_text(encoding="utf-8"), file, language)
        problems.extend(found)
        if parsed is None:
            continue
        if parsed.lesson_id != path.name:
            problems.append(
                Problem(
                    file,
                    parsed.fields.get("id", 1),
                    f"id {parsed.lesson_id!r} differs from its folder name {path.name!r}",
                )
            )
            continue
        texts[language] = parsed
    for language in REQUIRED_LANGUAGES:
        if not (path / f"{language}.md").exists():
            problems.append(Problem(path / f"{language}.md", 0, "missing language file"))
    return texts, problems


def load_library(folder: Path = LESSONS_DIR) -> tuple[Library, list[Problem]]:
    """Parse every lesson; a lesson with an error in a required language is left out."""
    lessons: dict[str, Lesson] = {}
    problems: list[Problem] = []
    for path in lesson_folders(folder):
        texts, found = parse_folder(path)
        problems.extend(found)
        if all(language in texts for language in REQUIRED_LANGUAGES):
            lessons[path.name] = Lesson(path.name, texts)
    return Library(lessons), problems

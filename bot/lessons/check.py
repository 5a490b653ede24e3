"""The lesson part of `sabai content check`: structure, parity, plain language, HTML, wire bytes.

Every problem names the file and line. Errors (exit non-zero): missing fields, a language
missing a step or quiz option the other has, a step longer than `max_step_chars`, a sentence
longer than `max_sentence_words`, broken HTML, a quiz without exactly one right answer, a
`next` that names no lesson, a phone number, code, web address, fee or signal number that the
facts registry (`facts.toml` beside the lessons folder) does not hold. Warnings: a language
version nobody has reviewed yet, a lesson without a `## Summary`. Each lesson's review state
(who reviewed each language and when) is printed beside its size.
"""

from __future__ import annotations

import functools
import json
import re
import statistics
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.core.facts import FACTS_FILE, Registry, load_registry, scan_text
from bot.core.i18n import Catalog, ContentError, localize_digits
from bot.core.screens import Screen
from bot.lessons.catalog import LESSONS_DIR, LessonText, Problem, lesson_folders, parse_folder
from bot.lessons.flow import lesson_screens

LIMITS_FILE = "check.toml"
# Sentence ends: Latin stops and the Bangla dari (।), or a line break (bullets, headings).
_SENTENCE_END = re.compile(r"(?<=[.!?।])\s+|\n+")
_LATIN_DIGIT = re.compile(r"[0-9]")
_BENGALI_DIGIT = re.compile(r"[০-৯]")


@dataclass(frozen=True)
class Limits:
    max_step_chars: int = 600
    max_sentence_words: int = 25


def load_limits(folder: Path) -> tuple[Limits, list[Problem]]:
    """Read `check.toml` beside the lessons; defaults when it is absent."""
    path = folder / LIMITS_FILE
    if not path.exists():
        return Limits(), []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        return Limits(), [Problem(path, 0, f"not valid TOML: {exc}")]
    values = {}
    problems = []
    for name in ("max_step_chars", "max_sentence_words"):
        if name in data:
            if isinstance(data[name], int) and not isinstance(data[name], bool) and data[name] > 0:
                values[name] = data[name]
            else:
                problems.append(Problem(path, 0, f"{name} must be a positive whole number"))
    return Limits(**values), problems


@dataclass(frozen=True)
class LessonReport:
    problems: list[Problem]
    # lesson id → language → bytes on the wire for taking the lesson once
    wire_bytes: dict[str, dict[str, int]]
    # lesson id → language → who reviewed it and when, or what it still needs
    reviews: dict[str, dict[str, str]]


NEEDS_REVIEW = "needs a native speaker's review"


def review_state(text: LessonText) -> str:
    """What `sabai content check` says about a language version's review."""
    if not text.reviewed:
        return NEEDS_REVIEW
    when = f" on {text.reviewed_on}" if text.reviewed_on else " (no date)"
    return f"reviewed by {text.reviewed_by}{when}"


def fact_problems(path: Path, registry: Registry, text: str | None = None) -> list[Problem]:
    """Every number, code or web address in a file that the registry does not hold, by line."""
    lines = (text if text is not None else path.read_text(encoding="utf-8")).splitlines()
    # A lesson's front matter (order, level, dates) holds no facts for residents.
    fences = [i for i, line in enumerate(lines) if line.strip() == "---"][:2]
    body_start = fences[1] + 1 if path.suffix == ".md" and len(fences) == 2 else 0
    problems = []
    for number, line in enumerate(lines, 1):
        if number <= body_start or line.lstrip().startswith("#"):
            continue
        if path.suffix == ".toml":
            line = line.partition("=")[2]  # the string, not its key
        bangla_digits = bool(_BENGALI_DIGIT.search(line))
        for token in scan_text(line):
            if not registry.knows(token):
                shown = localize_digits(token.shown, "bn") if bangla_digits else token.shown
                problems.append(
                    Problem(
                        path,
                        number,
                        f"{token.kind} “{shown}” is not in {FACTS_FILE}: add it there with "
                        "its public source, or correct it",
                    )
                )
    return problems


def find_registry(folder: Path) -> Registry | None:
    """The registry beside a lessons folder (content/facts.toml); None when there is none."""
    path = folder.parent / FACTS_FILE
    if not path.exists():
        return None
    registry, _ = load_registry(path)
    return registry


def _html_problems(text: LessonText, limits: Limits) -> Iterable[Problem]:
    from bot.devtools.emulator.errors import ApiError
    from bot.devtools.emulator.html_entities import parse_html

    pieces: list[tuple[int, str, bool]] = [(text.fields.get("title", 1), text.title, False)]
    pieces += [(step.line, step.text, True) for step in text.steps]
    quiz = text.quiz
    pieces += [(quiz.line, quiz.question, False)]
    pieces += [(option.line, option.text, False) for option in quiz.options]
    pieces += [(quiz.line, quiz.right_note, False), (quiz.line, quiz.wrong_note, False)]
    for line, piece, is_step in pieces:
        try:
            shown, _ = parse_html(piece)
        except ApiError as exc:
            yield Problem(text.path, line, f"broken HTML: {exc.description}")
            continue
        if is_step and len(shown) > limits.max_step_chars:
            yield Problem(
                text.path,
                line,
                f"step is {len(shown)} characters; the limit is {limits.max_step_chars}",
            )
        for sentence in _SENTENCE_END.split(shown):
            words = len(sentence.split())
            if words > limits.max_sentence_words:
                yield Problem(
                    text.path,
                    line,
                    f"sentence of {words} words (limit {limits.max_sentence_words}): "
                    f"“{sentence[:60]}…”",
                )
        if text.language in ("bn", "syl") and _LATIN_DIGIT.search(_numbers_only(shown)):
            yield Problem(text.path, line, "Latin digits in Bangla text: write ০১২৩৪৫৬৭৮৯", False)


def _numbers_only(text: str) -> str:
    """Digits that stand alone as numbers: not in web addresses, English menu names or '360p'."""
    return " ".join(word for word in text.split() if not re.search(r"[A-Za-z/]", word))


def _parity(texts: dict[str, LessonText]) -> Iterable[Problem]:
    """Every language has the steps and quiz options of every other, right answer alike."""
    base = texts.get("bn") or texts.get("en")
    if base is None:
        return
    for text in texts.values():
        if text is base:
            continue
        for a, b in ((base, text), (text, base)):
            if len(a.steps) > len(b.steps):
                missing = a.steps[len(b.steps)]
                yield Problem(
                    b.path,
                    b.steps[-1].line,
                    f"{len(b.steps)} steps, but {a.path.name} has {len(a.steps)}: step "
                    f"{len(b.steps) + 1} ({a.path.name}:{missing.line}) is missing here",
                )
        if len(base.quiz.options) != len(text.quiz.options):
            yield Problem(
                text.path,
                text.quiz.line,
                f"the quiz has {len(text.quiz.options)} options, {base.path.name} has "
                f"{len(base.quiz.options)}",
            )
        elif base.quiz.right_index != text.quiz.right_index:
            yield Problem(
                text.path,
                text.quiz.line,
                f"the right answer is option {text.quiz.right_index + 1} here, "
                f"{base.quiz.right_index + 1} in {base.path.name}",
            )


def message_bytes(screen: Screen) -> int:
    """Bytes of the sendMessage request body that carries one screen."""
    body: dict[str, object] = {"chat_id": 1_000_000_000, "text": screen.text, "parse_mode": "HTML"}
    if screen.rows:
        body["reply_markup"] = {
            "inline_keyboard": [
                [{"text": o.label, "callback_data": o.action} for o in row] for row in screen.rows
            ]
        }
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def check_lessons(
    folder: Path = LESSONS_DIR,
    catalog: Catalog | None = None,
    *,
    measure: bool = True,
    registry: Registry | None = None,
) -> LessonReport:
    """Check every lesson folder and (unless told not to) measure what each costs to send.

    Facts are checked against `registry`, or the `facts.toml` beside the folder when there is
    one; a folder with neither (a test's scratch folder) is checked without it.
    """
    limits, problems = load_limits(folder)
    registry = registry or find_registry(folder)
    parsed: dict[str, dict[str, LessonText]] = {}
    reviews: dict[str, dict[str, str]] = {}
    for path in lesson_folders(folder):
        texts, found = parse_folder(path)
        problems.extend(found)
        parsed[path.name] = texts
        if registry is not None:
            for file in sorted(path.glob("*.md")):
                problems.extend(fact_problems(file, registry))
        for text in texts.values():
            reviews.setdefault(path.name, {})[text.language] = review_state(text)
            problems.extend(_html_problems(text, limits))
            if not text.summary:
                problems.append(
                    Problem(
                        text.path,
                        text.quiz.line,
                        "no `## Summary`: the closing message cannot say what was learnt",
                        error=False,
                    )
                )
            if not text.reviewed:
                hint = "not shown to Sylheti readers until" if text.language == "syl" else "needs"
                problems.append(
                    Problem(
                        text.path,
                        text.fields.get("reviewed_by", 1),
                        f"translation not reviewed: {hint} a native speaker's review "
                        "(fill in reviewed_by)",
                        error=False,
                    )
                )
        problems.extend(_parity(texts))
    for texts in parsed.values():
        for text in texts.values():
            if text.next_id and text.next_id not in parsed:
                problems.append(
                    Problem(text.path, text.fields["next"], f"next: no lesson {text.next_id!r}")
                )
    if not parsed:
        problems.append(Problem(folder, 0, "no lessons found"))
    return LessonReport(problems, _wire_bytes(parsed, catalog) if measure else {}, reviews)


def _wire_bytes(
    parsed: dict[str, dict[str, LessonText]], catalog: Catalog | None
) -> dict[str, dict[str, int]]:
    if catalog is None:
        try:
            catalog = Catalog.load()
        except ContentError:
            return {}
    sizes: dict[str, dict[str, int]] = {}
    for lesson_id, texts in parsed.items():
        for language, text in texts.items():
            t = functools.partial(catalog.text, language)
            following = parsed.get(text.next_id or "", {})
            next_text = following.get(language) or following.get("bn")
            total = sum(message_bytes(s) for s in lesson_screens(t, text, next_text))
            sizes.setdefault(lesson_id, {})[language] = total
    return sizes


def report(
    out: TextIO,
    folder: Path = LESSONS_DIR,
    catalog: Catalog | None = None,
    registry: Registry | None = None,
) -> tuple[int, int]:
    """Print lesson problems, bytes and review state per lesson; return (errors, warnings)."""
    result = check_lessons(folder, catalog, registry=registry)
    for problem in result.problems:
        out.write(f"{problem}\n")
    by_language: dict[str, list[int]] = {}
    for lesson_id in sorted(result.reviews):
        sizes = result.wire_bytes.get(lesson_id, {})
        reviews = result.reviews[lesson_id]
        shown = ", ".join(
            f"{lang} {sizes[lang]:,} B ({reviews[lang]})"
            if lang in sizes
            else f"{lang} ({reviews[lang]})"
            for lang in sorted(reviews)
        )
        out.write(f"lesson {lesson_id}: {shown}\n")
        for language, size in sizes.items():
            by_language.setdefault(language, []).append(size)
    for language in sorted(by_language):
        totals = by_language[language]
        out.write(
            f"lessons in {language}: {len(totals)}, bytes on the wire median "
            f"{statistics.median(totals):,.0f}, max {max(totals):,}\n"
        )
    errors = sum(p.error for p in result.problems)
    return errors, len(result.problems) - errors

"""Lesson files: the format parses, the shipped library passes the check, broken files fail it."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from bot.core.content_check import check_all
from bot.lessons.catalog import LESSONS_DIR, Library, load_library, parse_lesson
from bot.lessons.check import check_lessons, report

BROKEN = Path(__file__).parent / "fixtures" / "lessons_broken"
SEED_TOPICS = {
    "pin-otp",
    "scam-calls",
    "check-before-forwarding",
    "save-mobile-data",
    "phone-lock",
    "birth-registration",
    "flood-cyclone-warning",
    "report-to-union",
}
HAOR_TOPICS = {
    "lightning",
    "haor-boats",
    "safe-water",
    "allowances",
    "nid-card",
    "women-children-safety",
    "legal-aid-udc",
    "about-sabai",
}
SHIPPED = SEED_TOPICS | HAOR_TOPICS

LESSON = """---
id: demo
title: A **demo**
topic: test
level: 1
reviewed_by: A. Reviewer
---

## Step
**Heading**
- one
- two

## Step
Second & <i>last</i>.

## Quiz
Question: Which one?
- [ ] Wrong
- [x] Right
Right: Yes,
because.
Wrong: No.
"""


def test_a_lesson_file_parses_into_steps_and_a_quiz() -> None:
    text, problems = parse_lesson(LESSON.replace("&", "&amp;"), Path("demo/en.md"), "en")
    assert problems == []
    assert text is not None
    assert text.title == "A <b>demo</b>"
    assert [s.text for s in text.steps] == [
        "<b>Heading</b>\n• one\n• two",
        "Second &amp; <i>last</i>.",
    ]
    assert [s.line for s in text.steps] == [9, 14]
    assert text.quiz.right_index == 1 and text.quiz.right_note == "Yes,\nbecause."
    assert text.reviewed


def test_missing_parts_are_named_with_their_line() -> None:
    broken = LESSON.replace("title: A **demo**\n", "").replace("- [ ] Wrong\n", "")
    text, problems = parse_lesson(broken, Path("demo/en.md"), "en")
    assert text is None
    messages = [str(p) for p in problems]
    assert "demo/en.md:1: error: missing field 'title'" in messages
    assert any("needs 2 to 4 options, it has 1" in m and "en.md:16" in m for m in messages)


def test_the_shipped_library_has_the_seed_lessons_in_bangla_and_english() -> None:
    library, problems = load_library()
    assert [p for p in problems if p.error] == []
    assert {lesson.id for lesson in library} >= SHIPPED
    for lesson in library:
        assert {"bn", "en"} <= set(lesson.texts)
        # Sylheti readers get Bangla until a reviewed Sylheti text exists.
        assert lesson.text_for("syl").language == "bn"
        assert len(lesson.texts["bn"].steps) == len(lesson.texts["en"].steps)


def test_the_shipped_library_passes_the_content_check() -> None:
    result = check_lessons(LESSONS_DIR)
    assert [str(p) for p in result.problems if p.error] == []
    # First drafts are marked as needing a native speaker's review.
    unreviewed = [p for p in result.problems if "not reviewed" in p.message]
    assert len(unreviewed) == 2 * len(SHIPPED)
    for sizes in result.wire_bytes.values():
        assert 1_000 < sizes["en"] < sizes["bn"] < 12_000

    out = io.StringIO()
    assert check_all(out) == 0
    assert "content check: 0 errors" in out.getvalue()
    assert "lessons in bn: 16, bytes on the wire median" in out.getvalue()


def test_broken_lessons_fail_the_check_naming_file_and_line() -> None:
    out = io.StringIO()
    errors, warnings = report(out, BROKEN)
    text = out.getvalue()
    assert errors == 10 and warnings == 1
    expected = [
        "missing-title/en.md:1: error: missing field 'title'",
        "step-missing/bn.md:12: error: 2 steps, but en.md has 3: step 3 (en.md:15) is missing",
        "too-long/en.md:9: error: step is 1079 characters; the limit is 600",
        "too-long/en.md:12: error: sentence of 30 words (limit 25)",
        "bad-html/en.md:9: error: broken HTML",
        "two-right/bn.md:12: error: the quiz needs exactly one right answer, it has 2",
        "step-missing/bn.md:6: warning: translation not reviewed",
    ]
    for line in expected:
        assert line in text, line


def test_limits_are_configurable(tmp_path: Path) -> None:
    lesson = tmp_path / "demo"
    lesson.mkdir()
    for language in ("bn", "en"):
        (lesson / f"{language}.md").write_text(LESSON.replace("&", "and"), encoding="utf-8")
    assert [p for p in check_lessons(tmp_path).problems if p.error] == []
    (tmp_path / "check.toml").write_text("max_step_chars = 10\nmax_sentence_words = 2\n")
    problems = [str(p) for p in check_lessons(tmp_path).problems if p.error]
    assert any("limit is 10" in p for p in problems)
    assert any("limit 2" in p for p in problems)


def test_a_broken_lesson_is_left_out_of_the_bot_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    for language in ("bn", "en"):
        text = LESSON.replace("&", "and").replace("id: demo", "id: good")
        (tmp_path / "good" / f"{language}.md").write_text(text, encoding="utf-8")
    for broken in BROKEN.iterdir():
        shutil.copytree(broken, tmp_path / broken.name)
    # The bot starts with the lessons that pass the check and logs the others.
    assert [lesson.id for lesson in Library.load(tmp_path)] == ["good"]

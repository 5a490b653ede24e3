"""Facts a resident reads are sourced, and what residents read is plain: times, counts, order."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.areas.tree import AreaTree, AreaView
from bot.cli.main import main
from bot.core.i18n import format_when
from bot.core.resources import content_folder
from bot.lessons.catalog import LESSONS_DIR, parse_folder
from tests.botkit import running_bot
from tests.onboard import signed_up

CONTENT = content_folder()
CONFIG = Path(__file__).resolve().parents[1] / "config.toml"
DHAKA_TZ = ZoneInfo("Asia/Dhaka")
Sessions = async_sessionmaker[AsyncSession]  # asked for so the database starts clean


def _check(content: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--config", str(CONFIG), "content", "check", "--content", str(content)])
    return code, capsys.readouterr().out


def test_the_shipped_content_passes_with_every_fact_sourced(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _check(CONTENT, capsys)
    assert code == 0, out
    assert "content check: 0 errors" in out
    assert "lessons in bn: 16" in out and "lessons in en: 16" in out
    # Every lesson shows who reviewed it, or that it still needs a native speaker.
    assert "lesson lightning: bn " in out and "(needs a native speaker's review)" in out


def test_an_unsourced_number_in_a_copied_lesson_fails_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "content"
    shutil.copytree(CONTENT, draft)
    lesson = draft / "lessons" / "scam-calls" / "bn.md"
    lines = lesson.read_text(encoding="utf-8").splitlines()
    where = lines.index("- নম্বরটি ব্লক করুন।")
    lines[where] = "- নম্বরটি ব্লক করুন। বিকাশের নতুন হেল্পলাইন ১৬৭৮৯-এ জানান।"
    lesson.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out = _check(draft, capsys)
    assert code == 1
    assert f"{lesson}:{where + 1}: error: number “১৬৭৮৯” is not in facts.toml" in out
    # The real content tree is untouched and still passes.
    assert _check(CONTENT, capsys)[0] == 0


def test_a_fact_without_a_source_and_a_wrong_signal_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "content"
    shutil.copytree(CONTENT, draft)
    facts = draft / "facts.toml"
    text = facts.read_text(encoding="utf-8")
    facts.write_text(
        text.replace(
            'source = "https://www.barta24.com', 'old_source = "https://www.barta24.com'
        ).replace('bn = "১৬২৪৭"', 'bn = "১৬২৭৪"'),
        encoding="utf-8",
    )
    flood = draft / "lessons" / "flood-cyclone-warning" / "en.md"
    flood.write_text(
        flood.read_text(encoding="utf-8").replace(
            "great danger (", "great danger, like signal 8 ("
        ),
        encoding="utf-8",
    )
    code, out = _check(draft, capsys)
    assert code == 1
    line = text.splitlines().index("[facts.emergency-999]") + 1
    assert f"{facts}:{line}: error: facts.emergency-999 has no source" in out
    assert "error: facts.bkash-16247: the Bangla form '১৬২৭৪' differs" in out
    assert "flood-cyclone-warning/en.md:" in out and "signal “8” is not in facts.toml" in out


def test_the_flood_lesson_teaches_1090_and_river_port_signals_not_cpp() -> None:
    texts, problems = parse_folder(LESSONS_DIR / "flood-cyclone-warning")
    assert [p for p in problems if p.error] == []
    bn = "\n".join(step.text for step in texts["bn"].steps)
    en = "\n".join(step.text for step in texts["en"].steps)
    assert "১০৯০" in bn and "1090" in en
    assert "৪ নৌ-মহাবিপদ সংকেত" in bn and "Signal 4, great danger" in en
    assert "আশ্রয়কেন্দ্র" in bn and "আশ্রয়কেন্দ্র" in en
    for text in (bn, en, texts["bn"].title, texts["en"].title):
        assert "CPP" not in text and "সিপিপি" not in text and "cyclone shelter" not in text


def test_bangla_times_read_as_people_say_them() -> None:
    morning = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 8:00 in Dhaka
    night = datetime(2026, 12, 4, 18, 29, tzinfo=UTC)  # 00:29 the next day
    assert format_when(morning, "bn", DHAKA_TZ) == "৪ ডিসেম্বর ২০২৬, সকাল ৮টা"
    assert format_when(night, "bn", DHAKA_TZ) == "৫ ডিসেম্বর ২০২৬, রাত ১২:২৯"
    assert "পূর্বাহ্ণ" not in format_when(morning, "syl", DHAKA_TZ)
    assert format_when(morning, "en", DHAKA_TZ) == "4 December 2026, 8:00 AM"


def test_areas_are_listed_in_bangla_order_for_bangla_readers() -> None:
    names = [("Sylhet", "সিলেট"), ("Barishal", "বরিশাল"), ("Khulna", "খুলনা"), ("Dhaka", "ঢাকা")]
    tree = AreaTree(
        [AreaView(str(i), "division", en, bn, None) for i, (en, bn) in enumerate(names)]
    )
    bangla, _ = tree.children(None, 0, 8, "bn")
    english, _ = tree.children(None, 0, 8, "en")
    assert [a.name_bn for a in bangla] == ["খুলনা", "ঢাকা", "বরিশাল", "সিলেট"]
    assert [a.name_en for a in english] == ["Barishal", "Dhaka", "Khulna", "Sylhet"]


async def test_a_bangla_resident_sees_plain_words(db_url: str, sessions: Sessions) -> None:
    async with running_bot(db_url) as h:
        rina = await signed_up(h, 6101, language="বাংলা", area="কুলাউড়া")
        [view] = await rina.send("/community")
        # One person is too few to show: residents read it in words, not "<৫".
        assert "৫ জনের কম" in view.text and "<৫" not in view.text

        await rina.send("/lessons")
        [step] = await rina.tap("মোবাইল ব্যাংকিংয়ের পিন")
        assert step.buttons[0][0][0] == "পরের ▶"
        for _ in range(5):
            await rina.tap("পরের")
        [done] = await rina.tap("ফোন কেটে দেব")
        # The summary says what was learnt, not the step headings.
        assert "যা শিখলেন:\n• পিন আর ওটিপি কাউকে বলবেন না" in done.text
        assert "ওটিপি কী?" not in done.text

        sufia = h.person(6102)
        await sufia.send("/start")
        await sufia.tap("সিলেটি")
        assert sufia.chat()[0].text.startswith(
            "ভাষা: সিলেটি (Sylheti)। সিলেটি লেখা তৈরি হচ্ছে, ততদিন বাংলায় দেখাব।\n"
        )

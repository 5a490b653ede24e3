"""The `sabai` command as an operator meets it: every refusal names the flag and what to type."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.base import utcnow

SABAI = [sys.executable, "-m", "bot.cli.main"]
DHAKA = ZoneInfo("Asia/Dhaka")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the schema and the areas, made once for the module."""
    project_dir = Path(__file__).resolve().parent.parent
    folder = tmp_path_factory.mktemp("operator")
    for argv in (["db", "upgrade"], ["areas", "import"]):
        done = _run(folder / "sabai.db", project_dir, *argv)
        assert done.returncode == 0, done.stderr
    return folder / "sabai.db"


@pytest.fixture
def db(prepared: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "sabai.db"
    shutil.copy(prepared, copy)
    return copy


def _run(db: Path, project_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SABAI_")}
    env["SABAI_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    return subprocess.run(
        [*SABAI, *argv],
        env=env,
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )


SEND = ["alerts", "send", "--areas", "605865", "--topic", "flood", "--text", "bn=নদীর পানি বাড়ছে।"]


def test_alerts_send_refuses_a_past_time_and_names_the_flag(db: Path, project_dir: Path) -> None:
    past = (utcnow() - timedelta(hours=2)).astimezone(DHAKA).strftime("%Y-%m-%dT%H:%M")
    refused = _run(db, project_dir, *SEND, "--at", past)
    assert refused.returncode == 2
    assert "--at" in refused.stderr and "passed" in refused.stderr
    listed = _run(db, project_dir, "alerts", "list")
    assert "no alerts yet" in listed.stdout

    typo = _run(db, project_dir, *SEND, "--at", "tomorrow")
    assert typo.returncode == 2
    assert "Invalid isoformat" not in typo.stderr
    assert "--at" in typo.stderr and "2026-12-24T09:30" in typo.stderr

    now = _run(db, project_dir, *SEND, "--at", "now")
    assert now.returncode == 0, now.stderr
    assert "queued for 0 recipients" in now.stdout


def test_alert_times_are_local_with_their_offset(db: Path, project_dir: Path) -> None:
    later = (utcnow() + timedelta(days=2)).astimezone(DHAKA).replace(hour=10, minute=0)
    sent = _run(
        db, project_dir, *SEND, "--urgency", "urgent", "--at", later.strftime("%Y-%m-%dT%H:%M")
    )
    assert sent.returncode == 0, sent.stderr
    assert f"from {later:%Y-%m-%d} 10:00 +06:00" in sent.stdout
    alert_id = sent.stdout.split()[1]
    shown = _run(db, project_dir, "alerts", "show", alert_id)
    assert f"goes out: {later:%Y-%m-%d} 10:00 +06:00" in shown.stdout
    assert "UTC" not in shown.stdout

    cancelled = _run(db, project_dir, "alerts", "cancel", alert_id)
    assert "0 messages not yet sent were dropped" in cancelled.stdout
    again = _run(db, project_dir, "alerts", "cancel", alert_id)
    assert again.returncode == 1
    assert "already_cancelled" not in again.stderr and "cancelled already" in again.stderr


def test_missing_refuses_a_top_below_one_and_help_shows_defaults(
    db: Path, project_dir: Path
) -> None:
    for value in ("-3", "0"):
        refused = _run(db, project_dir, "missing", "--top", value)
        assert refused.returncode == 2
        assert "--top" in refused.stderr and "1 or more" in refused.stderr
    helped = _run(db, project_dir, "missing", "--help").stdout
    assert "(default: 30d)" in helped and "(default: upazila)" in helped
    assert "20 in text" in helped
    columns = _run(db, project_dir, "residents", "import", "--help").stdout
    for column in ("area_code", "phone_access", "none or shared", "age_band", "60plus"):
        assert column in columns


def test_missing_csv_carries_the_areas_the_text_lists(db: Path, project_dir: Path) -> None:
    common = ["missing", "--area", "6058", "--level", "union"]
    text = _run(db, project_dir, *common).stdout
    assert "Nobody registered yet" in text
    rows = _run(db, project_dir, *common, "--format", "csv").stdout.splitlines()
    assert len(rows) > 50
    assert "Adampur" in text and any("Adampur" in row for row in rows[1:])


def test_a_short_row_is_a_bad_row(db: Path, project_dir: Path, tmp_path: Path) -> None:
    added = _run(
        db,
        project_dir,
        "staff",
        "add",
        "--telegram-id",
        "77",
        "--role",
        "trainer",
        "--area",
        "6058",
    )
    assert added.returncode == 0, added.stderr
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("area_code,language,phone_access\n605865,bn,none\n605865,bn\n")
    done = _run(db, project_dir, "residents", "import", str(sheet), "--trainer", "77")
    assert done.returncode == 1
    assert "sheet.csv:3:" in done.stderr and "2 of 3 columns" in done.stderr
    assert "nothing imported (1 bad row)" in done.stderr
    sheet.write_text("area_code,language,phone_access\n605865,bn,none\n")
    done = _run(db, project_dir, "residents", "import", str(sheet), "--trainer", "77")
    assert done.returncode == 0, done.stderr
    assert "imported 1 resident and 0 attendance records" in done.stdout
    again = _run(db, project_dir, "residents", "import", str(sheet), "--trainer", "77")
    assert "imported already" in again.stderr and "+06:00" in again.stderr
    assert "UTC" not in again.stderr


def test_audit_limit_shows_the_newest(db: Path, project_dir: Path) -> None:
    for telegram_id in ("71", "72", "73"):
        _run(
            db,
            project_dir,
            "staff",
            "add",
            "--telegram-id",
            telegram_id,
            "--role",
            "trainer",
            "--area",
            "6058",
            "--name",
            f"T{telegram_id}",
        )
    newest = _run(db, project_dir, "audit", "--limit", "1").stdout.splitlines()
    oldest = _run(db, project_dir, "audit", "--limit", "1", "--oldest").stdout.splitlines()
    assert len(newest) == 1 and len(oldest) == 1
    everything = _run(db, project_dir, "audit").stdout.splitlines()
    assert newest == everything[-1:] and oldest == everything[:1] and newest != oldest


def test_wording_has_articles_plurals_and_no_internal_names(db: Path, project_dir: Path) -> None:
    invited = _run(db, project_dir, "invite", "--role", "admin", "--area", "national")
    assert "invitation for an admin" in invited.stdout
    bare = _run(db, project_dir, "alerts")
    assert bare.returncode == 2 and "alerts_command" not in bare.stderr
    assert "{send,list,show,cancel,watch}" in bare.stderr
    listed = _run(db, project_dir, "staff", "list")
    assert listed.stdout.splitlines()[-1] == "0 staff"


def test_small_rates_and_withheld_coverage_read_as_sentences(
    db: Path, project_dir: Path, tmp_path: Path
) -> None:
    _run(
        db,
        project_dir,
        *["staff", "add", "--telegram-id", "77", "--role", "trainer", "--area", "6058"],
    )
    sheet = tmp_path / "few.csv"
    sheet.write_text("area_code\n" + "605865\n" * 2)
    assert (
        _run(db, project_dir, "residents", "import", str(sheet), "--trainer", "77").returncode == 0
    )
    few = _run(db, project_dir, "reach", "--area", "605865").stdout
    assert "withheld per 10,000" not in few
    assert "Coverage per 10,000 people aged 15 or over: withheld" in few

    sheet.write_text("area_code\n" + "605865\n" * 6)
    assert (
        _run(db, project_dir, "residents", "import", str(sheet), "--trainer", "77").returncode == 0
    )
    missing = _run(db, project_dir, "missing", "--area", "6058").stdout
    assert " 0 vs 0 per" not in missing and "reach 0 per" not in missing
    assert re.search(r"reach 0\.0\d+ per 10,000", missing)
    assert re.search(r"vs 0\.0\d+ per 10,000", missing)

"""`sabai staff|invite|audit`: the operator bootstraps the first admin and reads the audit log."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import staff as cli_staff
from bot.cli.main import _parser
from bot.staff.invitations import redeem
from bot.staff.roles import Role, staff_of
from tests.botkit import test_settings as settings_for


async def _sabai(db_url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    args = _parser().parse_args(list(argv))
    status = await cli_staff.run(args, settings_for(db_url), out=out)
    return status, out.getvalue()


async def test_bootstrap_invite_list_revoke_and_audit(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    status, out = await _sabai(
        db_url, "staff", "add", "--telegram-id", "31337", "--role", "admin", "--name", "Nasrin"
    )
    assert status == 0 and "admin for national (granted)" in out
    pseudonym = out.split(":")[0]
    assert re.fullmatch(r"st-[0-9a-f]{8}", pseudonym)

    status, out = await _sabai(
        db_url, "invite", "--role", "trainer", "--area", "6058", "--expires", "2d",
        "--bot-username", "@sabai_bot",
    )  # fmt: skip
    assert status == 0, out
    assert "trainer for 6058 Maulvibazar, Sylhet" in out
    code = re.search(r"code: ([a-z0-9]+)", out)
    assert code and f"https://t.me/sabai_bot?start=inv-{code.group(1)}" in out
    async with sessions() as session:
        trainer, _, _ = await redeem(session, 41414, code.group(1))
        await session.commit()

    status, out = await _sabai(db_url, "staff", "list")
    assert status == 0
    assert f"{pseudonym}\tNasrin\tadmin national" in out
    assert f"{trainer.pseudonym}\t" in out and "trainer 6058 Maulvibazar" in out
    assert "31337" not in out and "41414" not in out
    status, out = await _sabai(db_url, "staff", "list", "--area", "6090")
    assert "0 staff" in out

    status, out = await _sabai(db_url, "staff", "revoke", "--staff", trainer.pseudonym)
    assert status == 0 and f"revoked {trainer.pseudonym}: trainer" in out
    status, out = await _sabai(db_url, "staff", "revoke", "--telegram-id", "41414")
    assert status == 1 and "no such active role" in out
    async with sessions() as session:
        assert await staff_of(session, 41414) is None
        admin = await staff_of(session, 31337)
        assert admin is not None and admin.can(Role.ADMIN, "")

    status, out = await _sabai(db_url, "audit")
    acts = [line.split("\t")[2] for line in out.splitlines()]
    assert acts == ["role_granted", "invite_created", "role_granted", "invite_used", "role_revoked"]
    assert out.splitlines()[0].split("\t")[1].startswith("cli:")
    assert "31337" not in out and "41414" not in out
    status, out = await _sabai(db_url, "audit", "--since", "1h")
    assert len(out.splitlines()) == 5
    status, out = await _sabai(db_url, "audit", "--since", "2999-01-01")
    assert out == ""


async def test_bad_requests_are_refused_with_a_message(
    db_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    status, _ = await _sabai(db_url, "staff", "add", "--telegram-id", "5", "--role", "trainer")
    assert status == 2  # a trainer cannot be national
    status, _ = await _sabai(db_url, "invite", "--role", "trainer", "--area", "6099")
    assert status == 2
    status, _ = await _sabai(
        db_url, "invite", "--role", "trainer", "--area", "6058", "--expires", "90d"
    )
    assert status == 2
    status, _ = await _sabai(db_url, "audit", "--since", "last tuesday")
    assert status == 2


def test_since_reads_dates_times_and_spans() -> None:
    settings = settings_for("sqlite+aiosqlite:///:memory:")
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert cli_staff.parse_since("7d", settings, now) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert cli_staff.parse_since("90d", settings, now).month == 8
    local_midnight = cli_staff.parse_since("2026-11-01", settings, now)
    assert local_midnight.astimezone(UTC) == datetime(2026, 10, 31, 18, 0, tzinfo=UTC)
    assert cli_staff.parse_since("2026-11-01T00:00:00+00:00", settings, now).tzinfo is not None

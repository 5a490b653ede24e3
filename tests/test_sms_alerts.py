"""Alerts reach residents on SMS, at the gateway's pace, and STOP wins over the outbox."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.residents.models import Resident
from tests.smskit import SECRET, SmsHarness, running_sms

NUMBER = "+8801712345678"


async def _sign_up(h: SmsHarness, number: str, language: str = "2") -> None:
    phone = h.phone(number)
    for text in ("JOIN", language, "Kulaura", "1"):
        await phone.send(text)


async def _send_alert(h: SmsHarness, *extra: str, text: str = "Boil water before drinking.") -> str:
    out = io.StringIO()
    args = _parser().parse_args(
        [
            *("alerts", "send", "--areas", "605865", "--topic", "water", "--urgency", "urgent"),
            *("--text", f"bn={text}", "--text", f"en={text}", *extra),
        ]
    )
    code = await cli_alerts.run(args, h.bot.app.settings, out)
    assert code == 0, out.getvalue()
    return out.getvalue()


async def test_an_alert_goes_by_sms_with_its_cost_shown_first(db_url: str) -> None:
    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        await _sign_up(h, "+8801812345678", language="1")
        shown = await _send_alert(h, "--sms", "en=Boil water today.", "--sms", "bn=পানি ফুটিয়ে খান।")
        assert "SMS: 1 residents × 1 parts = 1 SMS (bn)" in shown
        assert "SMS: 1 residents × 1 parts = 1 SMS (en)" in shown
        before = len(h.kannel.sent)
        stats = await h.channel.sender.drain(horizon=1)
        assert stats.sent == 2
        got = h.kannel.sent[before:]
        english = next(s for s in got if s.to == NUMBER)
        assert english.text == "Sabai URGENT Water supply: Boil water today."
        assert english.coding == "0" and english.dlr_url and SECRET in english.dlr_url
        bangla = next(s for s in got if s.to == "+8801812345678")
        assert "পানি ফুটিয়ে খান।" in bangla.text and bangla.coding == "2"


async def test_a_long_alert_without_an_sms_text_is_refused_clearly(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        out = io.StringIO()
        long = "Water will be off in the whole union for repairs of the main pipe. " * 6
        args = _parser().parse_args(
            [
                *("alerts", "send", "--areas", "605865", "--topic", "water"),
                *("--text", f"bn={long}", "--text", f"en={long}"),
            ]
        )
        assert await cli_alerts.run(args, h.bot.app.settings, out) == 2
        assert (
            "The bn text is too long for SMS (7 parts); give a short SMS text with --sms bn="
            in (capsys.readouterr().err)
        )
        assert h.kannel.to(NUMBER)[-1].text.startswith("You are in")


async def test_stop_drops_queued_sms_and_nothing_more_arrives(db_url: str) -> None:
    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        await _send_alert(h)
        await h.phone(NUMBER).send("STOP")
        before = len(h.kannel.to(NUMBER))
        await h.channel.sender.drain(horizon=1)
        await _send_alert(h, text="Second alert")
        await h.channel.sender.drain(horizon=1)
        assert h.kannel.to(NUMBER)[before:] == []


async def test_three_failed_reports_in_a_row_make_a_number_unreachable(db_url: str) -> None:
    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        for n in range(4):
            await _send_alert(h, text=f"Alert {n}")
            await h.channel.sender.drain(horizon=1)
        urls = [s.dlr_url for s in h.kannel.to(NUMBER) if s.dlr_url]
        assert len(urls) == 4

        async def report(url: str, status: int) -> int:
            async with h.http.get(url.replace("%d", str(status))) as response:
                return response.status

        assert await report(urls[0], 2) == 200
        assert await report(urls[0], 2) == 200  # a replay counts once
        assert await report(urls[1], 16) == 200
        async with h.bot.app.sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.phone == NUMBER))
            assert resident is not None and resident.status == "active"
            assert resident.sms_failures == 2
        assert await report(urls[2], 1) == 200  # delivered: the run of failures ends
        assert await report(urls[3], 2) == 200
        async with h.bot.app.sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.phone == NUMBER))
            assert resident is not None and resident.status == "active"
        for n in range(3):
            await _send_alert(h, text=f"Later {n}")
        await h.channel.sender.drain(horizon=1)
        later = [s.dlr_url for s in h.kannel.to(NUMBER) if s.dlr_url][4:]
        for url in later[:2]:
            await report(url, 2)
        async with h.bot.app.sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.phone == NUMBER))
            assert resident is not None and resident.status == "unreachable"
        # Writing in again shows the number works: it is reachable once more.
        [help_] = await h.phone(NUMBER).send("HELP")
        assert "STOP" in help_
        async with h.bot.app.sessions() as session:
            resident = await session.scalar(select(Resident).where(Resident.phone == NUMBER))
            assert resident is not None and resident.status == "active"
            assert resident.sms_failures == 0


async def test_gateway_errors_are_retried(db_url: str) -> None:
    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        h.kannel.fail_next = 1
        await _send_alert(h)
        before = len(h.kannel.to(NUMBER))
        await h.channel.sender.drain(horizon=30)
        assert len(h.kannel.to(NUMBER)) == before + 1


async def test_the_chat_preview_shows_the_sms_count_suppressed(db_url: str) -> None:
    from tests.test_alerts import make_coordinator, urgent_water_alert_for_kulaura

    async with running_sms(db_url) as h:
        for n in range(6):
            await _sign_up(h, f"+88017123456{n:02d}")
        await _sign_up(h, "+8801812345600", language="1")
        coordinator = await make_coordinator(h.bot, 9300)
        await urgent_water_alert_for_kulaura(coordinator)
        await coordinator.tap("Kulaura, Maulvibazar")
        await coordinator.tap("Done with areas")
        await coordinator.send("পানি ফুটিয়ে খান।")
        await coordinator.send("Boil water before drinking.")
        await coordinator.tap("Now")
        summary = (await coordinator.tap("24 hours"))[-1]
        assert "SMS: 6 residents × 1 parts = 6 SMS (English)" in summary.text
        # One Bangla reader on SMS: a small count, and so is what it costs.
        assert "SMS: <5 residents × 1 parts = <5 SMS (Bangla)" in summary.text


async def test_reports_arriving_together_keep_the_final_state(db_url: str) -> None:
    import asyncio

    from bot.delivery.outbox import OUTBOX

    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        for n in range(5):
            await _send_alert(h, text=f"Alert {n}")
        await h.channel.sender.drain(horizon=1)
        urls = [s.dlr_url for s in h.kannel.to(NUMBER) if s.dlr_url]
        assert len(urls) == 5

        async def report(url: str, status: int) -> None:
            async with h.http.get(url.replace("%d", str(status))) as response:
                assert response.status == 200

        # Kannel sends "accepted by SMSC" and "delivered" within milliseconds of each other.
        await asyncio.gather(*(report(u, s) for u in urls for s in (8, 1, 8)))
        async with h.bot.app.sessions() as session:
            statuses = list(await session.scalars(select(OUTBOX.c.dlr_status)))
        assert statuses == [1] * 5


async def test_delete_after_alerts_leaves_no_number_anywhere(db_url: str) -> None:
    from bot.core.db import create_engine
    from tests.test_privacy import _scan_for

    async with running_sms(db_url) as h:
        await _sign_up(h, NUMBER)
        await _send_alert(h, text="First")
        await h.channel.sender.drain(horizon=1)
        url = next(s.dlr_url for s in h.kannel.to(NUMBER) if s.dlr_url)
        async with h.http.get(url.replace("%d", "1")) as response:
            assert response.status == 200
        await _send_alert(h, text="Second, still queued")
        phone = h.phone(NUMBER)
        await phone.send("DELETE")
        [deleted] = await phone.send("YES")
        assert deleted.startswith("Erased")
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                found = await _scan_for(conn, [NUMBER, NUMBER.lstrip("+"), NUMBER[-10:]])
        finally:
            await engine.dispose()
        assert found == []

"""End to end through a real Kannel: sign up by SMS, get an alert, STOP, get nothing more."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from pathlib import Path

from sqlalchemy import select

from bot.cli import alerts as cli_alerts
from bot.cli.main import _parser
from bot.core.config import Settings
from bot.delivery.outbox import OUTBOX
from bot.wiring.sms import sms_channel
from tests.botkit import running_bot
from tests.kannelkit import SHORT_CODE, free_port, kannel_logs, require_kannel, running_kannel

NUMBER = "+8801712345678"
SECRET = "kannel-test-secret-0123"
PASSWORD = "kannel-test-password"


async def _alert(settings: Settings, text: str) -> None:
    args = _parser().parse_args(
        [
            *("alerts", "send", "--areas", "605865", "--topic", "water", "--urgency", "urgent"),
            *("--text", f"bn={text}", "--text", f"en={text}", "--sms", f"bn={text}"),
        ]
    )
    out = io.StringIO()
    assert await cli_alerts.run(args, settings, out) == 0, out.getvalue()


async def test_sign_up_alert_and_stop_through_real_kannel(db_url: str, tmp_path: Path) -> None:
    require_kannel()
    port = free_port()
    async with (
        running_kannel(tmp_path, f"127.0.0.1:{port}", SECRET, PASSWORD) as kannel,
        running_bot(db_url) as bot,
    ):
        settings = dataclasses.replace(
            bot.app.settings,
            sms_enabled=True,
            sms_sendsms_url=kannel.sendsms_url,
            sms_username="sabai",
            sms_password=PASSWORD,
            sms_secret=SECRET,
            sms_listen=f"127.0.0.1:{port}",
            sms_sender_id=SHORT_CODE,
        )
        async with sms_channel(bot.app, settings, run_sender=False) as channel:

            def logs() -> str:
                return kannel_logs(tmp_path)

            [welcome] = await kannel.exchange(NUMBER, "JOIN", wait=15, expect=1) or [logs()]
            assert "1 বাংলা 2 English" in welcome, welcome
            [area] = await kannel.exchange(NUMBER, "2", wait=15, expect=1) or [logs()]
            assert "Type the name of your union" in area, area
            got = await kannel.exchange(NUMBER, "Kulaura", wait=15, expect=2)
            assert len(got) == 2, (got, logs())
            place, privacy = got
            assert place == "Area: Kulaura, Maulvibazar." and "1 YES 2 NO" in privacy
            [joined] = await kannel.exchange(NUMBER, "YES", wait=15, expect=1) or [logs()]
            assert joined.startswith("You are in"), joined

            await _alert(settings, "Boil water before drinking.")
            stats = await channel.sender.drain(horizon=30)
            assert stats.sent == 1, (stats, logs())
            [alert] = await kannel.exchange(None, "", wait=15, expect=1) or [logs()]
            assert alert == "Sabai URGENT Water supply: Boil water before drinking."
            # Kannel reports the delivery back to Sabai's dlr-url.
            for _ in range(150):
                async with bot.app.sessions() as session:
                    if await session.scalar(select(OUTBOX.c.dlr_status)) == 1:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("no delivery report arrived\n" + logs())

            [stopped] = await kannel.exchange(NUMBER, "STOP", wait=15, expect=1) or [logs()]
            assert stopped.startswith("Stopped"), stopped
            await _alert(settings, "Second alert.")
            await channel.sender.drain(horizon=1)
            assert await kannel.exchange(None, "", wait=4, expect=1) == []

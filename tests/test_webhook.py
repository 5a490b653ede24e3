"""`sabai run --webhook`: Telegram's updates arrive by webhook, a forged request is refused,
and operators can probe health, readiness and metrics on the same listener."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from subprocess import STDOUT, Popen
from typing import Any

import aiohttp
import pytest

from bot.channels.telegram.client import EMULATOR_BOT_ID
from bot.core.config import ConfigError, Settings, load_settings
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.devtools.emulator.server import webhook_answer
from bot.wiring.webhook_run import serve_webhook
from tests import botkit

SECRET = "test-webhook-secret_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(db_url: str, api_url: str, port: int, **overrides: object) -> Settings:
    return botkit.test_settings(
        db_url,
        telegram_api=api_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        listen=f"127.0.0.1:{port}",
        webhook_secret=SECRET,
        webhook_max_connections=7,
        run_scheduler=False,
        **overrides,
    )


@asynccontextmanager
async def webhook_bot(db_url: str, emulator: Emulator) -> AsyncIterator[str]:
    """The real app serving the emulator's webhook; yields the listener's base URL."""
    port = free_port()
    async with EmulatorServer(emulator) as server:
        settings = webhook_settings(db_url, server.base_url, port)
        stop = asyncio.Event()
        task = asyncio.create_task(serve_webhook(settings, stop=stop))
        try:
            found = await emulator.wait_until(lambda: emulator.state.webhook.url or None, 30)
            assert found, "the bot never called setWebhook"
            yield f"http://127.0.0.1:{port}"
        finally:
            stop.set()
            assert await asyncio.wait_for(task, 15) == 0


async def test_updates_arrive_by_webhook_and_are_answered(db_url: str) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8301, first_name="Amina")
    async with webhook_bot(db_url, emulator):
        info = emulator.state.webhook.to_json(0, emulator.state.allowed_updates)
        assert info["url"].endswith("/telegram")
        assert info["max_connections"] == 7
        assert emulator.state.webhook.secret_token == SECRET
        assert "message" in info["allowed_updates"]
        assert "callback_query" in info["allowed_updates"]
        emulator.send_text(8301, "/start")
        [welcome] = await emulator.wait_for_messages(8301, count=1, timeout=15)
        assert "Sabai" in welcome.text
        await emulator.wait_idle()
        assert emulator.updates == []


async def test_a_request_without_the_secret_is_refused_and_not_handled(db_url: str) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8302, first_name="Forged")
    async with webhook_bot(db_url, emulator) as base, aiohttp.ClientSession() as client:
        forged = emulator.send_text(8302, "/start")
        # Out of the emulator's queue: the test posts it itself, as a stranger would.
        emulator.state.pending.clear()
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with client.post(f"{base}/telegram", json=forged, headers=headers) as answer:
                assert answer.status == 401
        await asyncio.sleep(0.5)
        assert emulator.messages(8302) == []
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with client.post(f"{base}/telegram", json=forged, headers=headers) as answer:
            assert answer.status == 200
            # The welcome rides in the webhook's answer; Telegram carries it out.
            method, params, files = await webhook_answer(answer) or ("", {}, {})
        assert method == "sendMessage"
        await emulator.call_api(method, params, files)
        assert [m for m in emulator.messages(8302) if "Sabai" in m.text]


async def test_health_readiness_and_metrics_on_the_listener(db_url: str) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8303, first_name="Nasrin", username="nasrin_probe")
    async with webhook_bot(db_url, emulator) as base, aiohttp.ClientSession() as client:
        emulator.send_text(8303, "/start")
        await emulator.wait_for_messages(8303, count=1, timeout=15)
        await emulator.wait_idle()
        async with client.get(f"{base}/healthz") as answer:
            assert answer.status == 200
        async with client.get(f"{base}/readyz") as answer:
            assert answer.status == 200, await answer.text()
        async with client.get(f"{base}/metrics") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain")
            metrics = await answer.text()
    assert 'sabai_updates_total{outcome="handled",type="message"} 1.0' in metrics
    assert "sabai_reply_seconds_bucket" in metrics
    assert 'sabai_outbox_depth{channel="telegram"} 0.0' in metrics
    assert 'sabai_messages_sent_total{method="sendMessage"}' in metrics
    assert "sabai_messages_rate_limited_total" in metrics
    assert "sabai_scheduler_leader 0.0" in metrics
    # Labels only: a sample's value (a timestamp) may happen to hold the same digits.
    labels = [line.split(" ")[0] for line in metrics.splitlines() if not line.startswith("#")]
    for personal in ("8303", "Nasrin", "nasrin_probe"):
        assert not [label for label in labels if personal in label]


async def test_readiness_names_an_unmigrated_database(tmp_path: pathlib.Path) -> None:
    from bot.core.db import create_engine
    from bot.ops.health import Readiness

    url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    engine = create_engine(url)
    try:
        problems = await Readiness(engine, "redis://127.0.0.1:1/0").problems()
    finally:
        await engine.dispose()
    assert problems == [
        "database schema not migrated (run: sabai db upgrade)",
        "redis unreachable (ConnectionError)",
    ]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"webhook_url": ""}, "telegram.webhook_url"),
        ({"webhook_secret": None}, "SABAI_WEBHOOK_SECRET"),
    ],
)
async def test_webhook_mode_names_the_missing_setting(change: dict[str, Any], named: str) -> None:
    settings = dataclasses.replace(
        webhook_settings("sqlite+aiosqlite:///unused.db", "http://127.0.0.1:1", 1), **change
    )
    with pytest.raises(ConfigError, match=named):
        await serve_webhook(settings, stop=asyncio.Event())


def test_config_names_a_bad_webhook_secret_or_listen_address(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[telegram]\nlisten = "127.0.0.1:8443"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="SABAI_WEBHOOK_SECRET"):
        load_settings(config, environ={"SABAI_WEBHOOK_SECRET": "has spaces"})
    config.write_text('[telegram]\nlisten = "8443"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"telegram\.listen"):
        load_settings(config, environ={})
    config.write_text('[telegram]\nwebhook_url = "https://bot.example.org/tg"\n', encoding="utf-8")
    settings = load_settings(config, environ={"SABAI_WEBHOOK_SECRET": "ok_Secret-1"})
    assert settings.webhook_secret == "ok_Secret-1"
    assert "ok_Secret-1" not in repr(settings)


async def test_polling_serves_health_and_metrics_on_metrics_port(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the endpoints do not depend on the database kind; webhook tests cover both")
    from bot.channels.telegram.client import emulator_token
    from bot.wiring.workers import worker_command

    port = free_port()
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8304, first_name="Rupa")
    async with EmulatorServer(emulator) as server, aiohttp.ClientSession() as client:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SABAI_")},
            "SABAI_DATABASE_URL": db_url,
            "SABAI_BOT_TOKEN": emulator_token(),
            "SABAI_TELEGRAM_API": server.base_url,
            "SABAI_LOG_LEVEL": "WARNING",
        }
        command = [*worker_command(0, None)[:3], "run", "--no-chat", "--metrics-port", str(port)]
        polling = start_process(command, env, tmp_path / "polling.log")
        try:
            emulator.send_text(8304, "/start")
            await emulator.wait_for_messages(8304, count=1, timeout=60)
            async with client.get(f"http://127.0.0.1:{port}/healthz") as answer:
                assert answer.status == 200
            async with client.get(f"http://127.0.0.1:{port}/readyz") as answer:
                assert answer.status == 200, await answer.text()
            async with client.get(f"http://127.0.0.1:{port}/metrics") as answer:
                metrics = await answer.text()
            assert 'sabai_updates_total{outcome="handled",type="message"} 1.0' in metrics
            assert "sabai_scheduler_leader 1.0" in metrics
            polling.send_signal(signal.SIGTERM)
            assert polling.wait(15) == 0
        finally:
            if polling.poll() is None:
                polling.kill()
                polling.wait(10)


def start_process(command: list[str], env: dict[str, str], log_path: pathlib.Path) -> Popen[bytes]:
    with log_path.open("wb") as log:
        return Popen(command, env=env, stdout=log, stderr=STDOUT, cwd=botkit.project_dir())


async def test_sigterm_finishes_the_update_in_hand_then_stops(db_url: str) -> None:
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    emulator.add_user(8305, first_name="Jui")
    port = free_port()
    async with EmulatorServer(emulator) as server:
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve_webhook(webhook_settings(db_url, server.base_url, port), stop=stop)
        )
        assert await emulator.wait_until(lambda: emulator.state.webhook.url or None, 30)
        emulator.send_text(8305, "/start")
        [welcome] = await emulator.wait_for_messages(8305, count=1, timeout=15)
        await emulator.wait_idle()
        _, action = welcome.buttons[0][0]
        # The pressed screen's edit takes 1.5 s: the press is still in hand when the stop comes.
        emulator.inject("slow", method="editMessageText", chat_id=8305, delay=1.5)
        emulator.press_button(8305, welcome.message_id, action)
        for _ in range(750):
            if emulator.state.in_flight:
                break
            await asyncio.sleep(0.02)
        assert emulator.state.in_flight, "the reply never started"
        stop.set()
        stopping = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(task, 15) == 0
        assert asyncio.get_running_loop().time() - stopping < 10
        [shown] = [m for m in emulator.messages(8305) if not m.deleted]
        assert shown.text != welcome.text, "the press was not answered"
        # Answered before the worker went: Telegram would not deliver it again.
        assert emulator.updates == []

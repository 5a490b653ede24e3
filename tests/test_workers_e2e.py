"""Three webhook workers on PostgreSQL and Redis, one killed with SIGKILL mid-run.

The emulator posts its webhook to a small proxy in the test, which spreads the requests over
the workers in turn, as the reverse proxy in deploy/ does. Checks what residents and operators
would notice: every update answered exactly once, each resident's answers in order, nothing
lost from the killed worker, the scheduler's course delivery made once, a clean SIGTERM stop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import Executable, func, select, text, update

from bot.channels.telegram.client import EMULATOR_BOT_ID
from bot.channels.telegram.handled import HandledUpdate
from bot.core.base import utcnow
from bot.core.db import create_engine
from bot.delivery.outbox import OUTBOX
from bot.devtools.emulator import Emulator, EmulatorServer
from bot.lessons.models import Course
from bot.ops.ledger import forget_all, namespace
from bot.wiring.workers import worker_command
from tests.botkit import running_bot
from tests.test_scheduler import course_with_members, until

SECRET = "e2e-secret"
REDIS_URL = os.environ.get("SABAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROJECT = Path(__file__).resolve().parent.parent
RESIDENTS = range(8600, 8630)
ROUNDS = 4  # each resident: /start, then /help, /start, /help ...


def free_ports(count: int) -> list[int]:
    """`count` consecutive free loopback ports (worker i listens on the first + i)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count < 65000 and all(_free(base + i) for i in range(count)):
            return [base + i for i in range(count)]
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class SpreadingProxy:
    """Forward each webhook request to the next worker, as the reverse proxy in deploy/ does.

    A dead worker's request fails (502), so the emulator delivers it again, as Telegram does;
    a live worker's answer (and a reply riding in it) goes back to the emulator as it came.
    Every DUPLICATE_EVERY-th request also goes to a second worker at the same moment (a
    duplicate delivery of one update_id). `kill_in_hand` kills a worker with SIGKILL just
    after a request reached it, so it dies with an update in hand, not yet acknowledged.
    """

    DUPLICATE_EVERY = 7

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.turn = itertools.cycle(ports)
        self.count = 0
        self.failed = 0
        self.victim: tuple[int, subprocess.Popen[bytes]] | None = None
        self.killed_in_hand = 0
        self.update_ids: set[int] = set()
        self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    def kill_in_hand(self, port: int, worker: subprocess.Popen[bytes]) -> None:
        self.victim = (port, worker)

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-"))
        }
        self.count += 1
        self.update_ids.add(int(json.loads(body)["update_id"]))
        targets = [next(self.turn)]
        if self.count % self.DUPLICATE_EVERY == 0:
            targets.append(next(self.turn))
        answers = await asyncio.gather(
            *(self._post(port, request.path, body, headers) for port in targets)
        )
        for status, content_type, answer in answers:
            if status == 200:
                return web.Response(body=answer, headers={"Content-Type": content_type})
        self.failed += 1
        return web.Response(status=502, body=b"{}", content_type="application/json")

    async def _post(
        self, port: int, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        if self.victim is not None and self.victim[0] == port:
            worker, self.victim = self.victim[1], None
            asyncio.get_running_loop().call_later(0.003, self._kill, worker)
        try:
            url = f"http://127.0.0.1:{port}{path}"
            async with self.client.post(url, data=body, headers=headers) as answer:
                content = await answer.read()
                return answer.status, answer.headers.get("Content-Type", ""), content
        except (aiohttp.ClientError, TimeoutError):
            return 502, "", b""

    def _kill(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGKILL)
        self.killed_in_hand += 1


@asynccontextmanager
async def spreading_proxy(ports: list[int]) -> AsyncIterator[tuple[int, SpreadingProxy]]:
    proxy = SpreadingProxy(ports)
    app = web.Application()
    app.router.add_post("/telegram", proxy.forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield int(runner.addresses[0][1]), proxy
    finally:
        await runner.cleanup()
        await proxy.client.close()


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers share one PostgreSQL; SQLite is for one process")
    return db_url


@contextmanager
def started_workers(
    config: Path, env: dict[str, str], count: int, logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`sabai run --webhook --worker I` for I in 0..count-1; killed if still running at exit."""
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(count):
            with (logs / f"worker{index}.log").open("wb") as log:
                workers.append(
                    subprocess.Popen(
                        worker_command(index, config),
                        cwd=PROJECT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield workers
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)


async def until_ready(client: aiohttp.ClientSession, port: int, seconds: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            async with client.get(f"http://127.0.0.1:{port}/readyz") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"worker on port {port} never became ready")


async def leader_port(client: aiohttp.ClientSession, ports: list[int]) -> int | None:
    leaders = []
    for port in ports:
        try:
            async with client.get(f"http://127.0.0.1:{port}/metrics") as answer:
                if "sabai_scheduler_leader 1.0" in await answer.text():
                    leaders.append(port)
        except aiohttp.ClientError:
            continue
    assert len(leaders) <= 1, f"two scheduler leaders at once: {leaders}"
    return leaders[0] if leaders else None


async def until_leader(client: aiohttp.ClientSession, ports: list[int], seconds: float = 60) -> int:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        found = await leader_port(client, ports)
        if found is not None:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError("no worker took over the scheduler")


async def due_course(db_url: str) -> int:
    """A group course whose first lesson fell due while no scheduler ran; return its id."""
    async with running_bot(db_url) as h:
        course = await course_with_members(h, 8700)
        async with h.app.sessions.begin() as session:
            await session.execute(
                update(Course)
                .where(Course.id == course.id)
                .values(next_at=utcnow() - timedelta(hours=1))
            )
        return course.id


@pytest.fixture
async def redis(pg_url: str) -> AsyncIterator[Redis]:
    """The shared Redis, without the handled update ids of earlier runs (the emulator numbers
    updates from 1 each time)."""
    client = Redis.from_url(REDIS_URL)
    try:
        await forget_all(client, namespace(pg_url, EMULATOR_BOT_ID))
    except OSError:
        await client.aclose()
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    yield client
    await client.aclose()


async def test_three_workers_one_killed_answer_every_update_once_in_order(
    pg_url: str, redis: Redis, tmp_path: Path
) -> None:
    course_id = await due_course(pg_url)
    ports = free_ports(3)
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    for uid in RESIDENTS:
        emulator.add_user(uid, first_name="Resident")
    async with (
        EmulatorServer(emulator) as server,
        spreading_proxy(ports) as (proxy_port, proxy),
        aiohttp.ClientSession() as client,
    ):
        config = tmp_path / "config.toml"
        config.write_text(
            "[telegram]\n"
            f'webhook_url = "http://127.0.0.1:{proxy_port}/telegram"\n'
            f'listen = "127.0.0.1:{ports[0]}"\n'
            "[sending]\nrate_per_second = 200\n",
            encoding="utf-8",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SABAI_")},
            "SABAI_DATABASE_URL": pg_url,
            "SABAI_REDIS_URL": REDIS_URL,
            "SABAI_TELEGRAM_API": server.base_url,
            "SABAI_WEBHOOK_SECRET": SECRET,
            "SABAI_LOG_LEVEL": "WARNING",
        }
        with started_workers(config, env, 3, tmp_path) as workers:
            for port in ports:
                await until_ready(client, port)
            first_leader = await until_leader(client, ports)

            async def delivered_once() -> bool:
                return (await course_next_index(pg_url, course_id)) == 1

            await until(delivered_once, 30)
            # Interleaved: every resident's first update, then every resident's second...
            for round_ in range(ROUNDS):
                for uid in RESIDENTS:
                    emulator.send_text(uid, "/start" if round_ % 2 == 0 else "/help")
            total = len(RESIDENTS) * ROUNDS

            def a_third_delivered() -> bool | None:
                return True if emulator.state.delivered_upto >= total // 3 else None

            assert await emulator.wait_until(a_third_delivered, 60)
            victim = ports.index(first_leader)
            proxy.kill_in_hand(first_leader, workers[victim])

            def killed() -> bool | None:
                return True if workers[victim].poll() is not None else None

            assert await emulator.wait_until(killed, 30)
            assert proxy.killed_in_hand == 1

            def all_acknowledged() -> bool | None:
                return True if not emulator.state.pending else None

            assert await emulator.wait_until(all_acknowledged, 120), "updates left unanswered"
            await asyncio.sleep(1.0)
            # The update in the killed worker's hand, and those sent to it since, came again.
            assert proxy.failed >= 1
            answers = {}
            for uid in RESIDENTS:
                replies = [m.text for m in emulator.messages(uid) if not m.deleted]
                # One answer per update: none lost, none twice.
                assert len(replies) == ROUNDS, (uid, replies)
                answers[uid] = replies
            # Each update handled once, the killed worker's among them.
            assert await handled_rows(pg_url, proxy.update_ids) == len(proxy.update_ids) == total
            # In the order each resident sent them: every resident got the same welcome to
            # /start and the same help to /help, alternating as they were sent.
            welcome = Counter(r[0] for r in answers.values()).most_common(1)[0][0]
            help_ = Counter(r[1] for r in answers.values()).most_common(1)[0][0]
            assert welcome != help_
            for uid, replies in answers.items():
                assert replies == [welcome, help_] * (ROUNDS // 2), uid
            alive = [p for i, p in enumerate(ports) if i != victim]
            await until_leader(client, alive, 60)
            # The new leader rebuilt the course job from the database and did not deliver again.
            assert await course_next_index(pg_url, course_id) == 1
            assert await outbox_rows(pg_url) == 2
            stopping = time.monotonic()
            for index, worker in enumerate(workers):
                if index != victim:
                    worker.send_signal(signal.SIGTERM)
            for index, worker in enumerate(workers):
                if index != victim:
                    assert worker.wait(12) == 0
            assert time.monotonic() - stopping < 10
            assert await advisory_locks(pg_url) == 0
            leftover = [k async for k in redis.scan_iter(match="*:lock:p86*")]
            assert leftover == []


async def scalar_of(db_url: str, statement: Executable) -> int:
    """One number read from the database the workers share, on a connection of its own."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            value = await conn.scalar(statement)
    finally:
        await engine.dispose()
    return int(value or 0)


async def course_next_index(db_url: str, course_id: int) -> int:
    return await scalar_of(db_url, select(Course.next_index).where(Course.id == course_id))


async def handled_rows(db_url: str, update_ids: set[int]) -> int:
    counted = select(func.count()).select_from(HandledUpdate)
    return await scalar_of(db_url, counted.where(HandledUpdate.update_id.in_(update_ids)))


async def outbox_rows(db_url: str) -> int:
    return await scalar_of(db_url, select(func.count()).select_from(OUTBOX))


async def advisory_locks(db_url: str) -> int:
    granted = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    return await scalar_of(db_url, text(granted))


def start_supervisor(
    config: Path, env: dict[str, str], count: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """`sabai run --webhook --workers count`, as an operator starts it."""
    command = [*worker_command(0, config)[:5], "run", "--webhook", "--workers", str(count)]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def test_workers_option_starts_n_workers_and_stops_them_on_sigterm(
    pg_url: str, redis: Redis, tmp_path: Path
) -> None:
    ports = free_ports(2)
    emulator = Emulator(bot_id=EMULATOR_BOT_ID)
    async with EmulatorServer(emulator) as server, aiohttp.ClientSession() as client:
        config = tmp_path / "config.toml"
        config.write_text(
            "[telegram]\n"
            f'webhook_url = "http://127.0.0.1:{ports[0]}/telegram"\n'
            f'listen = "127.0.0.1:{ports[0]}"\n',
            encoding="utf-8",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SABAI_")},
            "SABAI_DATABASE_URL": pg_url,
            "SABAI_REDIS_URL": REDIS_URL,
            "SABAI_TELEGRAM_API": server.base_url,
            "SABAI_WEBHOOK_SECRET": SECRET,
        }
        supervisor = start_supervisor(config, env, 2, tmp_path / "supervisor.log")
        try:
            for port in ports:
                await until_ready(client, port)
            emulator.add_user(8801, first_name="Mitu")
            emulator.send_text(8801, "/start")
            [welcome] = await emulator.wait_for_messages(8801, count=1, timeout=30)
            assert "Sabai" in welcome.text
            supervisor.send_signal(signal.SIGTERM)
            assert supervisor.wait(15) == 0
            for port in ports:
                with pytest.raises(aiohttp.ClientError):
                    async with client.get(f"http://127.0.0.1:{port}/healthz"):
                        pass
        finally:
            if supervisor.poll() is None:
                supervisor.terminate()
                supervisor.wait(15)

"""The operator endpoints on a bot process's listener: /healthz, /readyz and /metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import OUTBOX, Status
from bot.ops.health import Readiness
from bot.ops.metrics import CONTENT_TYPE, Metrics

# Every outbox row goes out through Telegram today; the label is there for other channels.
TELEGRAM = "telegram"


@dataclass
class Ops:
    """What the endpoints read: readiness checks, the metrics and the live state they show."""

    readiness: Readiness
    metrics: Metrics
    sessions: async_sessionmaker[AsyncSession]
    is_leader: Callable[[], bool] = lambda: False

    async def outbox_depth(self) -> dict[str, int]:
        """Pending outbox messages per channel."""
        try:
            async with self.sessions() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(OUTBOX)
                    .where(OUTBOX.c.status == Status.PENDING.value)
                )
        except SQLAlchemyError:
            # /readyz reports the database; the scrape still gives every other figure.
            return {}
        return {TELEGRAM: int(pending or 0)}


OPS_KEY = web.AppKey("sabai_ops", Ops)


def add_ops_routes(app: web.Application, ops: Ops) -> None:
    """Serve /healthz, /readyz and /metrics from `app`."""
    app[OPS_KEY] = ops
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def _readyz(request: web.Request) -> web.Response:
    problems = await request.app[OPS_KEY].readiness.problems()
    if problems:
        return web.Response(status=503, text="".join(f"{p}\n" for p in problems))
    return web.Response(text="ready\n")


async def _metrics(request: web.Request) -> web.Response:
    ops = request.app[OPS_KEY]
    body = await ops.metrics.render(ops.outbox_depth, ops.is_leader)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

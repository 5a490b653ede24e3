"""The one place that wires Sabai together: config, database, areas, bot, dispatcher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.alerts.menu import alerts_menu
from bot.areas.importer import ensure_areas
from bot.areas.tree import load_index, load_tree
from bot.channels.telegram.client import make_bot
from bot.core.callback_sign import SECRET_ENV, SignerSource
from bot.core.config import Settings
from bot.core.db import create_engine, session_factory, upgrade
from bot.core.i18n import Catalog
from bot.lessons.catalog import Library
from bot.lessons.flow import LessonFlow
from bot.ops.metrics import Metrics
from bot.residents.conversation import Context
from bot.wiring import heap

log = logging.getLogger("sabai.app")


def keep_response_types() -> tuple[type, ...]:
    """Build aiogram's response models for the methods Sabai calls, and keep them.

    aiogram makes `Response[T]` per call; pydantic caches these generic models only
    weakly, so the garbage collector drops them and each rebuild costs milliseconds of
    schema work in the middle of handling an update. Holding them keeps the cache warm.
    """
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetMe,
        methods.GetUpdates,
        methods.SendMessage,
        methods.EditMessageText,
        methods.EditMessageReplyMarkup,
        methods.AnswerCallbackQuery,
        methods.DeleteMessage,
        methods.SetMyCommands,
        methods.DeleteMyCommands,
        methods.SendPhoto,
    )
    return tuple(Response[method.__returning__] for method in used)  # type: ignore[name-defined]


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    ctx: Context
    bot: Bot
    dispatcher: Dispatcher
    library: Library
    signer_source: SignerSource
    response_types: tuple[type, ...] = ()
    metrics: Metrics = field(default_factory=Metrics)


async def prepare_database(
    settings: Settings,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Migrate the database and load the areas on first start."""
    await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    report = await ensure_areas(sessions)
    if report is not None:
        log.info("areas imported", extra={"areas": report.areas, "populations": report.populations})
    return engine, sessions


@asynccontextmanager
async def build_app(
    settings: Settings, token: str, api_url: str, *, shared_turns: bool = False
) -> AsyncIterator[App]:
    """Build everything the bot needs; close it all on exit.

    `shared_turns`: take each person's lock and skip handled updates through Redis
    (several processes behind one webhook); needs `settings.redis_url`.
    """
    from aiogram import BaseMiddleware

    from bot.channels.telegram.counting import CountSends
    from handlers import build_dispatcher
    from handlers.cluster import MetricsMiddleware, PersonTurnMiddleware

    engine, sessions = await prepare_database(settings)
    bot = make_bot(token, api_url)
    metrics = Metrics()
    bot.session.middleware(CountSends(metrics))
    outer: list[BaseMiddleware] = [MetricsMiddleware(metrics)]
    redis = None
    if shared_turns:
        from redis.asyncio import Redis

        from bot.ops.ledger import UpdateLedger

        redis = Redis.from_url(settings.redis_url)
        outer.append(PersonTurnMiddleware(UpdateLedger(redis), metrics))
    try:
        catalog = Catalog.load(default_language=settings.default_language)
        async with sessions() as session:
            index = await load_index(session)
            tree = await load_tree(session)
        library = Library.load()
        ctx = Context(
            catalog=catalog,
            index=index,
            tree=tree,
            tz=settings.tz,
            menu_actions={
                "lessons": lambda conversation: LessonFlow(conversation, library).lessons(),
                "alerts": alerts_menu,
            },
            settings_options=(("settings.topics", "tp:open"), ("settings.profile", "pf:open")),
            small_count_k=settings.small_count_k,
        )
        secret = {SECRET_ENV: settings.callback_secret} if settings.callback_secret else {}
        signer_source = SignerSource(sessions, secret)
        dispatcher = build_dispatcher(sessions, ctx, settings, library, signer_source, outer)
        with heap.settled():
            yield App(
                settings,
                engine,
                sessions,
                ctx,
                bot,
                dispatcher,
                library,
                signer_source,
                keep_response_types(),
                metrics,
            )
    finally:
        if redis is not None:
            await redis.aclose()
        await bot.session.close()
        await engine.dispose()

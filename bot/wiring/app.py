"""The one place that wires Sabai together: config, database, areas, bot, dispatcher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.alerts.menu import alerts_menu
from bot.areas.tree import load_index, load_tree
from bot.channels.telegram.client import make_bot
from bot.core.callback_sign import SECRET_ENV, SignerSource
from bot.core.config import Settings
from bot.core.i18n import Catalog
from bot.lessons.catalog import Library
from bot.lessons.flow import LessonFlow
from bot.ops.metrics import Metrics
from bot.residents.conversation import Context
from bot.wiring.database import prepare_database

log = logging.getLogger("sabai.app")


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
    metrics: Metrics = field(default_factory=Metrics)


@asynccontextmanager
async def build_app(
    settings: Settings,
    token: str,
    api_url: str,
    *,
    shared_turns: bool = False,
    webhook: bool = False,
) -> AsyncIterator[App]:
    """Build everything the bot needs; close it all on exit.

    `shared_turns`: take each person's lock through Redis (several processes behind one
    webhook); needs `settings.redis_url`. `webhook`: updates come by webhook.
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

        from bot.ops.ledger import UpdateLedger, namespace

        redis = Redis.from_url(settings.redis_url)
        ledger = UpdateLedger(redis, namespace(settings.database_url, bot.id))
        outer.append(PersonTurnMiddleware(ledger))
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
        dispatcher = build_dispatcher(
            sessions, ctx, settings, library, signer_source, outer, answer_in_response=webhook
        )
        yield App(settings, engine, sessions, ctx, bot, dispatcher, library, signer_source, metrics)
    finally:
        if redis is not None:
            await redis.aclose()
        await bot.session.close()
        await engine.dispose()

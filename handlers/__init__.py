"""aiogram routers, one per audience, and the dispatcher that joins them."""

from __future__ import annotations

from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callback_sign import SignerSource
from bot.config import Settings
from bot.conversation import Context
from bot.i18n import LANGUAGES
from bot.lessons import Library
from handlers import (
    alerts,
    community,
    coordinator,
    errors,
    lessons,
    other_chats,
    resident,
    staff,
    trainer,
    trainer_register,
)
from handlers.middlewares import ChatOrderMiddleware, ConversationMiddleware, UpdateLogMiddleware
from handlers.roles_filter import StaffMiddleware
from handlers.throttle import ThrottleMiddleware


def build_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    ctx: Context,
    settings: Settings,
    library: Library,
    signer_source: SignerSource,
) -> Dispatcher:
    """Wire middlewares and routers into a fresh dispatcher."""
    # Conversation state lives in the residents table, so aiogram's FSM is not needed.
    dp = Dispatcher(disable_fsm=True)
    dp.update.outer_middleware(UpdateLogMiddleware())
    # Before the session middleware: a dropped flood costs no database work.
    dp.update.outer_middleware(
        ThrottleMiddleware(ctx.catalog, settings.flood_updates, settings.flood_window_seconds)
    )
    dp.update.outer_middleware(ChatOrderMiddleware())
    # Outer, so the error handler sees the resident's language in the same context.
    dp.update.outer_middleware(ConversationMiddleware(sessions, ctx))
    dp.update.outer_middleware(StaffMiddleware(signer_source))
    dp.include_router(other_chats.build_router(ctx.catalog))
    dp.include_router(staff.build_router())
    dp.include_router(trainer.build_router(library, sessions))
    dp.include_router(alerts.build_router(sessions))
    dp.include_router(alerts.build_resident_router())
    dp.include_router(lessons.build_router(library))
    dp.include_router(coordinator.build_router(settings.small_count_k))
    dp.include_router(trainer_register.build_router())
    titles = {
        lang: {lesson.id: lesson.text_for(lang).title for lesson in library} for lang in LANGUAGES
    }
    dp.include_router(community.build_router(settings.small_count_k, lesson_titles=titles))
    dp.include_router(resident.build_router())
    dp.include_router(errors.build_router(ctx.catalog))
    return dp

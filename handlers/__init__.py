"""aiogram routers, one per audience, and the dispatcher that joins them."""

from __future__ import annotations

import os

from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callback_sign import SignerSource
from bot.conversation import Context
from bot.i18n import LANGUAGES
from bot.lessons import Library
from handlers import (
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


def build_dispatcher(sessions: async_sessionmaker[AsyncSession], ctx: Context) -> Dispatcher:
    """Wire middlewares and routers into a fresh dispatcher."""
    # Conversation state lives in the residents table, so aiogram's FSM is not needed.
    dp = Dispatcher(disable_fsm=True)
    dp.update.outer_middleware(UpdateLogMiddleware())
    # Before the session middleware: a dropped flood costs no database work.
    dp.update.outer_middleware(ThrottleMiddleware(ctx.catalog))
    dp.update.outer_middleware(ChatOrderMiddleware())
    # Outer, so the error handler sees the resident's language in the same context.
    dp.update.outer_middleware(ConversationMiddleware(sessions, ctx))
    dp.update.outer_middleware(StaffMiddleware(SignerSource(sessions, os.environ)))
    dp.include_router(other_chats.build_router(ctx.catalog))
    dp.include_router(staff.build_router())
    library = Library.load()
    dp.include_router(trainer.build_router(library, sessions))
    dp.include_router(lessons.build_router(library))
    dp.include_router(coordinator.build_router())
    dp.include_router(trainer_register.build_router())
    titles = {
        lang: {lesson.id: lesson.text_for(lang).title for lesson in library} for lang in LANGUAGES
    }
    dp.include_router(community.build_router(lesson_titles=titles))
    dp.include_router(resident.build_router())
    dp.include_router(errors.build_router(ctx.catalog))
    return dp

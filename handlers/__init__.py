"""aiogram routers, one per audience, and the dispatcher that joins them."""

from __future__ import annotations

from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.conversation import Context
from handlers import errors, other_chats, resident
from handlers.middlewares import ChatOrderMiddleware, ConversationMiddleware, UpdateLogMiddleware


def build_dispatcher(sessions: async_sessionmaker[AsyncSession], ctx: Context) -> Dispatcher:
    """Wire middlewares and routers into a fresh dispatcher."""
    # Conversation state lives in the residents table, so aiogram's FSM is not needed.
    dp = Dispatcher(disable_fsm=True)
    dp.update.outer_middleware(UpdateLogMiddleware())
    dp.update.outer_middleware(ChatOrderMiddleware())
    # Outer, so the error handler sees the resident's language in the same context.
    dp.update.outer_middleware(ConversationMiddleware(sessions, ctx))
    dp.include_router(other_chats.build_router(ctx.catalog))
    dp.include_router(resident.build_router())
    dp.include_router(errors.build_router(ctx.catalog))
    return dp

"""aiogram routers, one per audience, and the dispatcher that joins them."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import BaseMiddleware, Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.compose import PREFIX as ALERT_PREFIX
from bot.core.callback_sign import SignerSource
from bot.core.config import Settings
from bot.core.i18n import LANGUAGES
from bot.lessons.catalog import Library
from bot.residents.conversation import Context
from bot.residents.routing import TypedText
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
    unlisted,
)
from handlers.middlewares import (
    ChatOrderMiddleware,
    CleanTextMiddleware,
    ConversationMiddleware,
    UpdateLogMiddleware,
)
from handlers.roles_filter import StaffMiddleware
from handlers.staff_desk import build_desk
from handlers.throttle import ThrottleMiddleware

# What the routers behind the staff desk answer; `tests/test_staff_desk.py` checks that
# every command they filter on is here.
STAFF_DESK_COMMANDS = (
    *staff.STAFF_COMMANDS,
    *trainer.COMMANDS,
    *alerts.COMMANDS,
    *coordinator.COMMANDS,
    *trainer_register.COMMANDS,
    *unlisted.COMMANDS,
)
STAFF_DESK_PREFIXES = (staff.CALLBACK_PREFIX, trainer.PREFIX, ALERT_PREFIX, trainer_register.PREFIX)


def build_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    ctx: Context,
    settings: Settings,
    library: Library,
    signer_source: SignerSource,
    outer: Sequence[BaseMiddleware] = (),
    *,
    answer_in_response: bool = False,
) -> Dispatcher:
    """Wire middlewares and routers into a fresh dispatcher; `outer` run before all others.

    `answer_in_response`: updates come by webhook, and a reply's last call may ride in the
    webhook's answer."""
    # Conversation state lives in the residents table, so aiogram's FSM is not needed.
    dp = Dispatcher(disable_fsm=True)
    for middleware in outer:
        dp.update.outer_middleware(middleware)
    dp.update.outer_middleware(CleanTextMiddleware())
    dp.update.outer_middleware(UpdateLogMiddleware())
    # Before the session middleware: a dropped flood costs no database work.
    dp.update.outer_middleware(
        ThrottleMiddleware(ctx.catalog, settings.flood_updates, settings.flood_window_seconds)
    )
    dp.update.outer_middleware(ChatOrderMiddleware())
    # Outer, so the error handler sees the resident's language in the same context.
    dp.update.outer_middleware(
        ConversationMiddleware(sessions, ctx, answer_in_response=answer_in_response)
    )
    dp.update.outer_middleware(StaffMiddleware(signer_source))
    dp.include_router(other_chats.build_router(ctx.catalog))
    dp.include_router(staff.build_router())
    dp.include_router(
        build_desk(
            (
                staff.build_tools_router(),
                trainer.build_router(library, sessions),
                alerts.build_router(sessions),
                coordinator.build_router(
                    settings.small_count_k,
                    settings.reach_target_per_10000,
                    settings.reach_priority_tags,
                    settings.reach_denominator,
                ),
                trainer_register.build_router(),
                unlisted.build_router(sessions, settings.small_count_k),
            ),
            commands=STAFF_DESK_COMMANDS,
            prefixes=STAFF_DESK_PREFIXES,
        )
    )
    dp.include_router(alerts.build_resident_router())
    dp.include_router(lessons.build_router(library))
    titles = {
        lang: {lesson.id: lesson.text_for(lang).title for lesson in library} for lang in LANGUAGES
    }
    dp.include_router(community.build_router(settings.small_count_k, lesson_titles=titles))
    dp.include_router(resident.build_router(TypedText(library)))
    dp.include_router(errors.build_router(ctx.catalog))
    return dp

"""Residents see their community (`/community`), tell what is missing, and fill in a profile.

Include this router before the residents' router: it takes `/community`, `/profile` and the
`cm:` and `pf:` buttons; every other update falls through to the residents' router
untouched. The feedback a resident types after "what is missing here?" reaches
bot/residents/community.py through bot/residents/routing.py.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.core.screens import Reply, Screen
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.community import (
    PROFILE_PREFIX,
    apply_profile_choice,
    ask_feedback,
    community_screen,
    community_view,
    profile_age_screen,
    profile_done_screen,
    profile_gender_screen,
)
from bot.residents.conversation import Conversation
from handlers.filters import private_chat, private_tap, when
from handlers.render import Outgoing


def build_router(
    small_count_k: int = DEFAULT_K, lesson_titles: dict[str, dict[str, str]] | None = None
) -> Router:
    """Build the community router; `lesson_titles` maps language → lesson id → title."""
    router = Router(name="community")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())
    suppressor = Suppressor(small_count_k)

    async def community_reply(conversation: Conversation) -> Reply:
        resident = conversation.resident
        if not conversation.onboarded or resident is None:
            return await conversation.start()
        if resident.area_code is None:
            return Reply([Screen(conversation.t("community.no_area"))])
        ctx = conversation.ctx
        view = await community_view(
            conversation.session, resident.area_code, conversation.now, ctx.tz
        )
        titles = (lesson_titles or {}).get(conversation.language)
        screen = community_screen(
            view, ctx.catalog, conversation.language, suppressor, ctx.tz, titles
        )
        return Reply([screen])

    @router.message(Command("community"))
    async def community(message: Message, conversation: Conversation, out: Outgoing) -> None:
        out.message(message.chat.id, await community_reply(conversation))

    @router.callback_query(when(F.data == "cm:fb"))
    async def tell(query: CallbackQuery, conversation: Conversation, out: Outgoing) -> None:
        resident = conversation.resident
        if resident is None or not conversation.onboarded:
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        ask_feedback(resident)
        prompt = Screen(conversation.t("community.feedback_prompt"))
        out.tap(query, Reply([prompt], replace=False))

    @router.message(Command("profile"))
    async def profile(message: Message, conversation: Conversation, out: Outgoing) -> None:
        if not conversation.onboarded:
            out.message(message.chat.id, await conversation.start())
            return
        out.message(
            message.chat.id, profile_gender_screen(conversation.ctx.catalog, conversation.language)
        )

    @router.callback_query(when(F.data.startswith(PROFILE_PREFIX)))
    async def profile_choice(
        query: CallbackQuery, conversation: Conversation, out: Outgoing
    ) -> None:
        screen = _profile_step(conversation, query.data or "")
        if screen is None:
            out.toast(query, conversation.t("error.expired"), alert=True)
            return
        out.tap(query, screen)

    return router


def _profile_step(conversation: Conversation, data: str) -> Screen | None:
    """Apply one profile tap; the next question, the summary, or None for a stale tap."""
    resident = conversation.resident
    if resident is None or not conversation.onboarded:
        return None
    try:
        step = apply_profile_choice(resident, data)
    except ValueError:
        return None
    catalog, language = conversation.ctx.catalog, conversation.language
    if step == "gender":
        return profile_gender_screen(catalog, language)
    if step == "age":
        return profile_age_screen(catalog, language)
    return profile_done_screen(resident, catalog, language)

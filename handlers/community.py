"""Residents see their community (`/community`), tell what is missing, and fill in a profile.

Include this router before the residents' router: it takes `/community`, `/profile`, the
`cm:` and `pf:` buttons, and the one text message that answers "what is missing here?"
(while `Resident.awaiting == "fb"`); every other update falls through to the residents'
router untouched.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.core.screens import Reply, Screen
from bot.reach.suppression import DEFAULT_K, Suppressor
from bot.residents.community import (
    FEEDBACK_AWAITING,
    PROFILE_PREFIX,
    apply_profile_choice,
    ask_feedback,
    community_screen,
    community_view,
    profile_age_screen,
    profile_done_text,
    profile_gender_screen,
    save_feedback,
)
from bot.residents.conversation import Conversation
from handlers.filters import private_chat, private_tap, when
from handlers.render import respond, respond_to_button

MAX_FEEDBACK_TEXT = 1000


class AwaitingFeedback(Filter):
    """Pass for a signed-up resident whose next message is their feedback."""

    async def __call__(
        self, event: TelegramObject, conversation: Conversation | None = None
    ) -> bool:
        resident = conversation.resident if conversation is not None else None
        return resident is not None and resident.awaiting == FEEDBACK_AWAITING


def build_router(
    small_count_k: int = DEFAULT_K, lesson_titles: dict[str, dict[str, str]] | None = None
) -> Router:
    """Build the community router; `lesson_titles` maps language → lesson id → title."""
    router = Router(name="community")
    router.message.filter(private_chat())
    router.callback_query.filter(private_tap())
    suppressor = Suppressor(small_count_k)

    @router.message(Command("community"))
    async def community(message: Message, conversation: Conversation) -> None:
        resident = conversation.resident
        if not conversation.onboarded or resident is None:
            await respond(message, conversation, await conversation.start())
            return
        if resident.area_code is None:
            await respond(
                message, conversation, Reply([Screen(conversation.t("community.no_area"))])
            )
            return
        ctx = conversation.ctx
        view = await community_view(
            conversation.session, resident.area_code, conversation.now, ctx.tz
        )
        titles = (lesson_titles or {}).get(conversation.language)
        screen = community_screen(
            view, ctx.catalog, conversation.language, suppressor, ctx.tz, titles
        )
        await respond(message, conversation, Reply([screen]))

    @router.callback_query(when(F.data == "cm:fb"))
    async def tell(query: CallbackQuery, conversation: Conversation) -> None:
        resident = conversation.resident
        if resident is None or not conversation.onboarded:
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        ask_feedback(resident)
        reply = Reply([Screen(conversation.t("community.feedback_prompt"))], replace=False)
        await respond_to_button(query, conversation, reply)

    @router.message(when(F.text & ~F.text.startswith("/")), AwaitingFeedback())
    async def feedback(message: Message, conversation: Conversation) -> None:
        resident = conversation.resident
        assert resident is not None and message.text is not None
        saved = save_feedback(
            conversation.session, resident, message.text[:MAX_FEEDBACK_TEXT], conversation.now
        )
        key = "community.feedback_thanks" if saved else "community.feedback_empty"
        await respond(message, conversation, Reply([Screen(conversation.t(key))]))

    @router.message(Command("profile"))
    async def profile(message: Message, conversation: Conversation) -> None:
        if not conversation.onboarded:
            await respond(message, conversation, await conversation.start())
            return
        screen = profile_gender_screen(conversation.ctx.catalog, conversation.language)
        await respond(message, conversation, Reply([screen]))

    @router.callback_query(when(F.data.startswith(PROFILE_PREFIX)))
    async def profile_choice(query: CallbackQuery, conversation: Conversation) -> None:
        resident = conversation.resident
        if resident is None or not conversation.onboarded:
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        try:
            step = apply_profile_choice(resident, query.data or "")
        except ValueError:
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        catalog, language = conversation.ctx.catalog, conversation.language
        screen: Screen
        if step == "gender":
            screen = profile_gender_screen(catalog, language)
        elif step == "age":
            screen = profile_age_screen(catalog, language)
        else:
            screen = Screen(profile_done_text(resident, catalog, language))
        await respond_to_button(query, conversation, Reply([screen]))

    return router

"""Alerts in chat: coordinators compose, confirm and cancel; residents tap "got it", pick topics.

Two routers, both included before the residents' router:
- `build_router` (coordinators): /alert starts the guided composition (bot/alerts/compose.py),
  /alerts lists recent alerts with cancel buttons, typed text answers the step waiting for it.
  Its buttons are signed and the coordinator's scope is checked again when an alert is queued
  or cancelled. Only people holding the coordinator role reach it; anyone else's /alert falls
  through to the residents' router ("unknown command").
- `build_resident_router`: "got it" taps (`ak:<alert id>`), topic settings (`tp:` buttons and
  /topics).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, Filter, or_f
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.compose import PREFIX, Composer, Outcome, list_text, waiting_for_text
from bot.alerts.progress import Edit, confirmation_screen
from bot.alerts.service import (
    TOPICS,
    TOPICS_PREFIX,
    AlertError,
    acknowledge,
    cancel_alert,
    create_alert,
    list_alerts,
    parse_ack,
    toggle_topic,
    topics_off,
    topics_screen,
)
from bot.core.callback_sign import BadSignature, CallbackSigner, SignerSource
from bot.core.screens import Option, Reply, Screen, compact
from bot.lessons.pushes import QuietHours
from bot.residents.conversation import Conversation
from bot.staff.language import staff_language
from bot.staff.roles import Role, Staff
from handlers.filters import private_chat, private_tap, when
from handlers.render import respond, respond_to_button, signed_keyboard
from handlers.roles_filter import HasRole, session_of

log = logging.getLogger("sabai.alerts")

COMMANDS = ("alert", "alerts")
CANCEL = f"{PREFIX}k:"
MAX_TYPED = 4000
MAX_CANCEL_BUTTONS = 10


class ComposingText(Filter):
    """Typed text (not a command) from someone whose alert draft waits for text."""

    async def __call__(self, message: Message, **data: Any) -> bool | dict[str, Any]:
        text = message.text or ""
        if not text or text.startswith("/") or message.from_user is None:
            return False
        known = data.get("composing_text")
        if isinstance(known, bool):  # read with the sender's resident row
            return known
        session = session_of(data)
        conversation = data.get("conversation")
        if session is None or not isinstance(conversation, Conversation):
            return False
        if not await waiting_for_text(session, message.from_user.id, conversation.now):
            return False
        # Passed on, so the alerts router behind the staff desk does not ask again.
        return {"composing_text": True}


def build_router(
    sessions: async_sessionmaker[AsyncSession], quiet: QuietHours | None = None
) -> Router:
    """Build the coordinators' alerts router (a new one each call)."""
    router = Router(name="alerts")
    # Cheap filters first: a role is looked up only for /alert, /alerts and awaited answers.
    router.message.filter(
        private_chat(),
        or_f(Command(*COMMANDS), ComposingText()),
        HasRole(Role.COORDINATOR),
    )
    router.callback_query.filter(
        private_tap(),
        when(F.data.startswith(PREFIX)),
        HasRole(Role.COORDINATOR),
    )
    quiet_hours = quiet or QuietHours()

    def composer(conversation: Conversation, staff: Staff, user_id: int) -> Composer:
        ctx = conversation.ctx
        return Composer(
            conversation.session,
            ctx.catalog,
            staff_language(conversation),
            ctx.tree,
            ctx.index,
            ctx.tz,
            quiet_hours,
            staff,
            user_id,
            conversation.now,
            ctx.small_count_k,
        )

    async def show(bot: Bot, chat_id: int, screens: list[Screen], signer: CallbackSigner) -> None:
        for screen in compact(screens):
            await bot.send_message(
                chat_id, screen.text, reply_markup=signed_keyboard(screen, signer, chat_id)
            )

    @router.message(Command("alert"))
    async def start(
        message: Message, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        assert message.from_user is not None and message.bot is not None
        outcome = await composer(conversation, staff, message.from_user.id).start()
        await conversation.finish()
        await show(message.bot, message.chat.id, outcome.screens, signer)

    @router.message(Command("alerts"))
    async def recent(
        message: Message, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        assert message.from_user is not None and message.bot is not None
        ctx = conversation.ctx
        language = staff_language(conversation)
        found = await list_alerts(
            conversation.session, within=staff.scopes(Role.COORDINATOR), now=conversation.now
        )
        text = list_text(ctx.catalog, language, found, ctx.tz, ctx.small_count_k)
        # Alerts still going out (or waiting) can be stopped from here.
        buttons = tuple(
            (
                Option(
                    ctx.catalog.text(language, "alerts.cancel_numbered", id=s.id), f"{CANCEL}{s.id}"
                ),
            )
            for s in found
            if not s.finished
        )
        screen = Screen(text, buttons[:MAX_CANCEL_BUTTONS])
        await conversation.finish()
        await show(message.bot, message.chat.id, [screen], signer)

    @router.message(when(F.text))
    async def typed(
        message: Message, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        assert message.from_user is not None and message.bot is not None
        text = (message.text or "")[:MAX_TYPED]
        outcome = await composer(conversation, staff, message.from_user.id).text(text)
        await conversation.finish()
        await show(message.bot, message.chat.id, outcome.screens, signer)

    @router.callback_query()
    async def tap(
        query: CallbackQuery, conversation: Conversation, staff: Staff, signer: CallbackSigner
    ) -> None:
        user_id = query.from_user.id
        language = staff_language(conversation)
        catalog = conversation.ctx.catalog
        try:
            token = signer.verify(query.data or "", user_id, now=conversation.now)
        except BadSignature:
            await query.answer(catalog.text(language, "error.expired"), show_alert=True)
            return
        if token.startswith(CANCEL):
            await _cancel(query, conversation, staff, token, language)
            return
        outcome = await composer(conversation, staff, user_id).action(token)
        if outcome.confirmed is not None:
            await _queue(
                query, conversation, staff, signer, outcome, language, sessions, quiet_hours
            )
            return
        await conversation.finish()
        await _answer(query, outcome, signer)

    return router


async def _answer(query: CallbackQuery, outcome: Outcome, signer: CallbackSigner) -> None:
    """Toast, then the first screen in place of the tapped message, the rest as new messages."""
    assert query.bot is not None
    await query.answer(outcome.toast)
    screens = compact(outcome.screens)
    message = query.message
    user_id = query.from_user.id
    if screens and isinstance(message, Message):
        first = screens.pop(0)
        try:
            await message.edit_text(
                first.text, reply_markup=signed_keyboard(first, signer, user_id)
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                screens.insert(0, first)
    for screen in screens:
        await query.bot.send_message(
            user_id, screen.text, reply_markup=signed_keyboard(screen, signer, user_id)
        )


async def _queue(
    query: CallbackQuery,
    conversation: Conversation,
    staff: Staff,
    signer: CallbackSigner,
    outcome: Outcome,
    language: str,
    sessions: async_sessionmaker[AsyncSession],
    quiet: QuietHours,
) -> None:
    """Queue the confirmed alert and turn the preview into its progress message."""
    assert outcome.confirmed is not None
    ctx = conversation.ctx
    message = query.message
    progress = (
        (message.chat.id, message.message_id, language) if isinstance(message, Message) else None
    )
    # The draft's removal is committed first, so a double tap cannot queue twice.
    await conversation.finish()
    try:
        queued = await create_alert(
            sessions,
            outcome.confirmed,
            staff.pseudonym,
            ctx.catalog,
            ctx.tz,
            quiet,
            known_area=lambda code: ctx.tree.get(code) is not None,
            staff=staff,
            progress=progress,
            index=ctx.index,
        )
    except AlertError as exc:
        await query.answer(ctx.catalog.text(language, exc.key, **exc.params), show_alert=True)
        return
    await query.answer()
    screen = await confirmation_screen(
        conversation.session, ctx.catalog, language, queued.alert_id, ctx.tz, ctx.small_count_k
    )
    await conversation.finish()
    if isinstance(message, Message):
        await message.edit_text(
            screen.text, reply_markup=signed_keyboard(screen, signer, query.from_user.id)
        )


async def _cancel(
    query: CallbackQuery, conversation: Conversation, staff: Staff, token: str, language: str
) -> None:
    catalog = conversation.ctx.catalog
    number = token.removeprefix(CANCEL)
    if not number.isdigit():
        await query.answer(catalog.text(language, "error.expired"), show_alert=True)
        return
    try:
        dropped = await cancel_alert(
            conversation.session, int(number), staff.pseudonym, staff=staff
        )
    except AlertError as exc:
        await conversation.finish()
        await query.answer(catalog.text(language, exc.key, **exc.params), show_alert=True)
        return
    await conversation.finish()
    await query.answer(
        catalog.text(language, "alerts.cancelled", id=int(number), dropped=dropped), show_alert=True
    )


def progress_editor(bot: Bot, signer_source: SignerSource) -> Edit:
    """An `Edit` for bot/alerts/progress.py: edits a coordinator's message with signed buttons."""

    async def edit(chat_id: int, message_id: int, screen: Screen) -> bool:
        signer = await signer_source.get()
        try:
            await bot.edit_message_text(
                text=screen.text,
                chat_id=chat_id,
                message_id=message_id,
                # In a private chat the chat id is the coordinator's user id.
                reply_markup=signed_keyboard(screen, signer, chat_id),
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            log.info("progress message cannot be edited: %s", exc.message)
            return False
        except TelegramForbiddenError:
            return False
        except TelegramAPIError:
            # Flood wait or a server hiccup: the next round edits again.
            log.warning("progress edit failed; trying again later", exc_info=True)
            return True
        return True

    return edit


# -- residents ------------------------------------------------------------------------------------


def build_resident_router() -> Router:
    """Build the residents' alert router: "got it" taps and topic settings."""
    router = Router(name="alerts_residents")
    router.message.filter(private_chat(), Command("topics"))
    router.callback_query.filter(
        private_tap(),
        when(F.data.startswith("ak:") | F.data.startswith(TOPICS_PREFIX)),
    )

    async def topics_reply(conversation: Conversation) -> Reply:
        assert conversation.resident is not None
        off = await topics_off(conversation.session, conversation.resident.id)
        return Reply([topics_screen(conversation.t, off)])

    @router.message(Command("topics"))
    async def topics_command(message: Message, conversation: Conversation) -> None:
        if not conversation.onboarded:
            reply = await conversation.start()
        else:
            reply = await topics_reply(conversation)
        await respond(message, conversation, reply)

    @router.callback_query(when(F.data.startswith(TOPICS_PREFIX)))
    async def topics_tap(query: CallbackQuery, conversation: Conversation) -> None:
        action = (query.data or "").removeprefix(TOPICS_PREFIX)
        topic = action.removeprefix("t:")
        valid = action == "open" or (action.startswith("t:") and topic in TOPICS)
        if not conversation.onboarded or conversation.resident is None or not valid:
            await conversation.finish()
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        toast = None
        if action != "open":
            on = await toggle_topic(conversation.session, conversation.resident, topic)
            name = conversation.t(f"topic.{topic}")
            toast = conversation.t("topics.now_on" if on else "topics.now_off", name=name)
        reply = await topics_reply(conversation)
        reply.toast = toast
        await respond_to_button(query, conversation, reply)

    @router.callback_query(when(F.data.startswith("ak:")))
    async def got_it(query: CallbackQuery, conversation: Conversation) -> None:
        alert_id = parse_ack(query.data or "")
        resident = conversation.resident
        result = None
        if alert_id is not None and resident is not None:
            result = await acknowledge(conversation.session, alert_id, resident)
        await conversation.finish()
        if result is None:
            await query.answer(conversation.t("error.expired"), show_alert=True)
            return
        await query.answer(conversation.t("alerts.ack_thanks" if result else "alerts.ack_again"))
        if result and isinstance(query.message, Message):
            # The button goes: the message itself stays for the resident to read again.
            try:
                await query.message.edit_reply_markup(reply_markup=None)
            except TelegramBadRequest as exc:
                log.info("could not remove the got-it button: %s", exc.message)

    return router

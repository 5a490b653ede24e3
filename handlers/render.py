"""Turn channel-neutral screens into Telegram messages and inline keyboards, and send them.

Handlers never talk to Telegram themselves: they put what to say into the update's
`Outgoing`, and the session middleware sends it only after the update's database work is
committed and the session closed. A slow Bot API call then holds no lock any resident's
update would wait behind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.core.callback_sign import CallbackSigner
from bot.core.i18n import Catalog
from bot.core.screens import Reply, Screen, compact
from handlers.commands import sync_chat_commands

log = logging.getLogger("sabai.render")

Send = Callable[[], Awaitable[None]]
# Told (chat id, message id) of where a screen was shown.
Shown = Callable[[int, int], Awaitable[None]]


def keyboard(
    screen: Screen,
    signer: CallbackSigner | None = None,
    user_id: int = 0,
    now: datetime | None = None,
) -> InlineKeyboardMarkup | None:
    """The screen's buttons; with a `signer`, their actions are signed for `user_id` (staff)."""
    if not screen.rows:
        return None

    def data(action: str) -> str:
        return action if signer is None else signer.sign(action, user_id, now=now)

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=option.label, callback_data=data(option.action))
                for option in row
            ]
            for row in screen.rows
        ]
    )


def as_reply(said: Reply | Screen | str) -> Reply:
    if isinstance(said, Reply):
        return said
    return Reply([said if isinstance(said, Screen) else Screen(said)])


class Outgoing:
    """What one update says, held back until its database work is committed."""

    def __init__(
        self, bot: Bot, catalog: Catalog | None = None, app_language: str | None = None
    ) -> None:
        self.bot = bot
        self.catalog = catalog
        self.app_language = app_language
        self._sends: list[Send] = []
        # Called (after the sends) when the person turns out to have blocked the bot.
        self.on_blocked: Callable[[], Awaitable[None]] | None = None

    def message(
        self,
        chat_id: int,
        said: Reply | Screen | str,
        signer: CallbackSigner | None = None,
        now: datetime | None = None,
    ) -> None:
        """Say something in new messages (staff buttons signed for the chat's person)."""
        reply = as_reply(said)

        async def send() -> None:
            await self._send_screens(chat_id, compact(reply.screens), signer, now)
            await self._follow_language(chat_id, reply)

        self._sends.append(send)

    def tap(
        self,
        query: CallbackQuery,
        said: Reply | Screen | str | None = None,
        signer: CallbackSigner | None = None,
        now: datetime | None = None,
        shown: Shown | None = None,
    ) -> None:
        """Answer a button press: its toast, then the first screen in place of the pressed
        message when it can, the rest as new messages. `shown` learns where the first
        screen ended up, for work that needs its message id (after the call, not during)."""
        reply = as_reply(said) if said is not None else Reply()

        async def send() -> None:
            await query.answer(reply.toast, show_alert=reply.alert)
            chat_id = query.message.chat.id if query.message is not None else query.from_user.id
            screens = compact(reply.screens)
            first_id: int | None = None
            pressed = query.message if isinstance(query.message, Message) else None
            user_id = query.from_user.id
            if (
                reply.replace
                and screens
                and pressed is not None
                and await self._edit(pressed, screens[0], signer, user_id, now)
            ):
                first_id = pressed.message_id
                screens.pop(0)
            sent = await self._send_screens(chat_id, screens, signer, now)
            await self._follow_language(chat_id, reply)
            if first_id is None and sent:
                first_id = sent[0]
            if shown is not None and first_id is not None:
                await shown(chat_id, first_id)

        self._sends.append(send)

    def toast(self, query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
        """Answer a button press with a short note only."""
        self.tap(query, Reply(toast=text, alert=alert))

    def drop_buttons(self, query: CallbackQuery) -> None:
        """Take the buttons off the pressed message; the message itself stays."""

        async def send() -> None:
            if isinstance(query.message, Message):
                try:
                    await query.message.edit_reply_markup(reply_markup=None)
                except TelegramBadRequest as exc:
                    log.info("could not remove the buttons: %s", exc.message)

        self._sends.append(send)

    def photo(self, chat_id: int, image: bytes, filename: str, caption: str | None) -> None:
        async def send() -> None:
            await self.bot.send_photo(
                chat_id, BufferedInputFile(image, filename=filename), caption=caption
            )

        self._sends.append(send)

    async def flush(self) -> None:
        """Send everything, in order; called once the update's session is closed."""
        sends, self._sends = self._sends, []
        try:
            for send in sends:
                await send()
        except TelegramForbiddenError:
            log.info("the person has blocked the bot; marking unreachable")
            if self.on_blocked is not None:
                await self.on_blocked()

    async def _send_screens(
        self,
        chat_id: int,
        screens: list[Screen],
        signer: CallbackSigner | None,
        now: datetime | None,
    ) -> list[int]:
        """Send `screens` as new messages; their message ids."""
        sent = []
        for screen in screens:
            message = await self.bot.send_message(
                chat_id, screen.text, reply_markup=keyboard(screen, signer, chat_id, now)
            )
            sent.append(message.message_id)
        return sent

    async def _edit(
        self,
        message: Message,
        screen: Screen,
        signer: CallbackSigner | None,
        user_id: int,
        now: datetime | None,
    ) -> bool:
        """Show `screen` in place of `message`; False when it cannot be edited any more."""
        try:
            await message.edit_text(
                screen.text, reply_markup=keyboard(screen, signer, user_id, now)
            )
        except TelegramBadRequest as exc:
            if "not modified" not in exc.message:
                # Too old to edit, or deleted: say it in a new message instead.
                log.info("could not edit message, sending a new one: %s", exc.message)
                return False
        return True

    async def _follow_language(self, chat_id: int, reply: Reply) -> None:
        if reply.language_changed and self.catalog is not None:
            await sync_chat_commands(
                self.bot,
                self.catalog,
                chat_id,
                reply.language_changed,
                reply.previous_language,
                self.app_language,
            )

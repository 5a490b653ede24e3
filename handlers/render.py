"""Turn channel-neutral screens into Telegram messages and inline keyboards, and send them.

Handlers never talk to Telegram themselves: they put what to say into the update's
`Outgoing`, and the session middleware sends it only after the update's database work is
committed and the session closed. A slow Bot API call then holds no lock any resident's
update would wait behind.

What an update says is a list of Bot API calls (`Step`s) that can be stored as JSON with
the update's handling (bot/channels/telegram/handled.py): a second delivery of the update
sends only the steps the first one did not get to.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
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

# Told (chat id, message id) of where a screen was shown.
Shown = Callable[[int, int], Awaitable[None]]
# Told how many steps of an update's reply have gone out, and whether that is all of them.
Progress = Callable[[int, bool], Awaitable[None]]


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


@dataclass(frozen=True)
class Commands:
    """Show the chat the command list in the language the person chose (idempotent)."""

    chat_id: int
    chosen: str
    previous: str | None
    app_language: str | None


@dataclass(frozen=True)
class Step:
    """One Bot API call of a reply.

    `fallback`: for an edit, the message to send instead when the old one cannot be edited
    any more. `tolerate`: a refusal is logged, not raised. `shows`: its message is where the
    reply's first screen ended up.
    """

    call: TelegramMethod[Any] | Commands
    fallback: SendMessage | None = None
    tolerate: bool = False
    shows: bool = False

    @property
    def visible(self) -> bool:
        """Sending it twice would show the person the same message twice."""
        return isinstance(self.call, SendMessage | SendPhoto) or self.fallback is not None

    @property
    def rides_answer(self) -> bool:
        """It can go out in the webhook's answer: a plain call whose outcome nobody waits on."""
        return (
            isinstance(self.call, TelegramMethod)
            and self.fallback is None
            and not self.tolerate
            and not self.shows
        )


STORED_METHODS: dict[str, type[TelegramMethod[Any]]] = {
    cls.__api_method__: cls
    for cls in (
        SendMessage,
        EditMessageText,
        EditMessageReplyMarkup,
        AnswerCallbackQuery,
        SendPhoto,
    )
}


def dump_steps(steps: list[Step]) -> str:
    """The steps as JSON, to be stored with the update's handling."""
    return json.dumps([_dump(step) for step in steps], ensure_ascii=False)


def load_steps(text: str) -> list[Step]:
    return [_load(item) for item in json.loads(text)]


def _dump(step: Step) -> dict[str, Any]:
    if isinstance(step.call, Commands):
        return {"commands": asdict(step.call)}
    item: dict[str, Any] = {"call": step.call.__api_method__, "params": _params(step.call)}
    if step.fallback is not None:
        item["else"] = _params(step.fallback)
    if step.tolerate:
        item["tolerate"] = True
    return item


def _params(method: TelegramMethod[Any]) -> dict[str, Any]:
    if isinstance(method, SendPhoto) and isinstance(method.photo, BufferedInputFile):
        params = method.model_dump(mode="json", exclude_defaults=True, exclude={"photo"})
        params["photo"] = {
            "filename": method.photo.filename,
            "data": base64.b64encode(method.photo.data).decode(),
        }
        return params
    return method.model_dump(mode="json", exclude_defaults=True)


def _load(item: dict[str, Any]) -> Step:
    if "commands" in item:
        return Step(Commands(**item["commands"]))
    params = dict(item["params"])
    photo = params.get("photo")
    if item["call"] == "sendPhoto" and isinstance(photo, dict):
        params["photo"] = BufferedInputFile(
            base64.b64decode(photo["data"]), filename=photo["filename"]
        )
    call = STORED_METHODS[item["call"]].model_validate(params)
    fallback = SendMessage.model_validate(item["else"]) if "else" in item else None
    return Step(call, fallback=fallback, tolerate=bool(item.get("tolerate")))


class Outgoing:
    """What one update says, held back until its database work is committed."""

    def __init__(
        self, bot: Bot, catalog: Catalog | None = None, app_language: str | None = None
    ) -> None:
        self.bot = bot
        self.catalog = catalog
        self.app_language = app_language
        self.steps: list[Step] = []
        # Button presses this update answers; the session middleware answers any other.
        self.answered: set[str] = set()
        # Called (after the sends) when the person turns out to have blocked the bot.
        self.on_blocked: Callable[[], Awaitable[None]] | None = None
        self._shown: Shown | None = None

    def message(
        self,
        chat_id: int,
        said: Reply | Screen | str,
        signer: CallbackSigner | None = None,
        now: datetime | None = None,
    ) -> None:
        """Say something in new messages (staff buttons signed for the chat's person)."""
        reply = as_reply(said)
        self._follow_language(chat_id, reply)
        for screen in compact(reply.screens):
            self.steps.append(Step(_send(chat_id, screen, signer, now)))

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
        self.answered.add(query.id)
        self.steps.append(
            Step(
                AnswerCallbackQuery(
                    callback_query_id=query.id, text=reply.toast, show_alert=reply.alert
                )
            )
        )
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        self._follow_language(chat_id, reply)
        screens = compact(reply.screens)
        pressed = query.message if isinstance(query.message, Message) else None
        if shown is not None:
            self._shown = shown
        first = True
        if reply.replace and screens and pressed is not None:
            screen = screens.pop(0)
            markup = keyboard(screen, signer, query.from_user.id, now)
            edit = EditMessageText(
                chat_id=pressed.chat.id,
                message_id=pressed.message_id,
                text=screen.text,
                reply_markup=markup,
            )
            fallback = _send(chat_id, screen, signer, now)
            self.steps.append(Step(edit, fallback=fallback, shows=shown is not None))
            first = False
        for screen in screens:
            self.steps.append(
                Step(_send(chat_id, screen, signer, now), shows=first and shown is not None)
            )
            first = False

    def toast(self, query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
        """Answer a button press with a short note only."""
        self.tap(query, Reply(toast=text, alert=alert))

    def drop_buttons(self, query: CallbackQuery) -> None:
        """Take the buttons off the pressed message; the message itself stays."""
        if isinstance(query.message, Message):
            drop = EditMessageReplyMarkup(
                chat_id=query.message.chat.id, message_id=query.message.message_id
            )
            self.steps.append(Step(drop, tolerate=True))

    def photo(self, chat_id: int, image: bytes, filename: str, caption: str | None) -> None:
        photo = BufferedInputFile(image, filename=filename)
        self.steps.append(Step(SendPhoto(chat_id=chat_id, photo=photo, caption=caption)))

    async def flush(
        self,
        *,
        done: int = 0,
        progress: Progress | None = None,
        hold_last: bool = False,
        again: bool = False,
    ) -> TelegramMethod[Any] | None:
        """Send the steps from `done` on, in order; called once the update's session is closed.

        `progress` is told after each step a second sending would show twice, and when all
        have gone out. `hold_last`: return the last step unsent when it can ride in the
        webhook's answer instead, which Telegram carries out only if it gets the answer (and
        then it delivers the update no more). `again`: a second delivery finishing the first
        one's reply, where a refusal of a step already carried out (an old button press
        answered twice) is expected.
        """
        steps = self.steps
        end = len(steps)
        held = None
        if hold_last and end > done and steps[-1].rides_answer:
            end -= 1
            call = steps[-1].call
            assert isinstance(call, TelegramMethod)
            held = call
        where: tuple[int, int] | None = None
        told = done
        try:
            for index in range(done, end):
                step = steps[index]
                message_id = await self._run(step, again)
                if step.shows and message_id is not None:
                    where = (_chat_of(step), message_id)
                if progress is not None and step.visible:
                    told = index + 1
                    await progress(told, told == len(steps))
        except TelegramForbiddenError:
            log.info("the person has blocked the bot; marking unreachable")
            if self.on_blocked is not None:
                await self.on_blocked()
            return None
        if progress is not None and held is None and end > done and told < end:
            await progress(end, True)
        if self._shown is not None and where is not None:
            await self._shown(*where)
        return held

    async def _run(self, step: Step, again: bool) -> int | None:
        """Carry out one step; the id of the message it sent or edited, if any."""
        call = step.call
        if isinstance(call, Commands):
            if self.catalog is not None:
                await sync_chat_commands(
                    self.bot,
                    self.catalog,
                    call.chat_id,
                    call.chosen,
                    call.previous,
                    call.app_language,
                )
            return None
        try:
            result = await self.bot(call)
        except TelegramBadRequest as exc:
            if step.fallback is not None:
                if "not modified" in exc.message and isinstance(call, EditMessageText):
                    return call.message_id
                # Too old to edit, or deleted: say it in a new message instead.
                log.info("could not edit message, sending a new one: %s", exc.message)
                sent = await self.bot(step.fallback)
                return sent.message_id
            if not (step.tolerate or again):
                raise
            log.info("%s refused: %s", call.__api_method__, exc.message)
            return None
        if isinstance(call, EditMessageText):
            return call.message_id
        return result.message_id if isinstance(result, Message) else None

    def _follow_language(self, chat_id: int, reply: Reply) -> None:
        # Before the messages: the command list is set the same however often it is set,
        # and a reply then ends with the message that can ride in the webhook's answer.
        if reply.language_changed and self.catalog is not None:
            self.steps.append(
                Step(
                    Commands(
                        chat_id, reply.language_changed, reply.previous_language, self.app_language
                    )
                )
            )


def _send(
    chat_id: int, screen: Screen, signer: CallbackSigner | None, now: datetime | None
) -> SendMessage:
    return SendMessage(
        chat_id=chat_id, text=screen.text, reply_markup=keyboard(screen, signer, chat_id, now)
    )


def _chat_of(step: Step) -> int:
    call = step.fallback if step.fallback is not None else step.call
    chat = getattr(call, "chat_id", 0)
    return int(chat) if chat is not None else 0

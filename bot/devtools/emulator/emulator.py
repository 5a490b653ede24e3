"""The in-process face of the emulator: what tests and the terminal chat drive.

`Emulator` holds the state, answers Bot API calls (`call_api`, used by the HTTP server), plays
the users (the actions in actions.py), shows what each chat holds, injects faults, and offers
waiting helpers so tests never need to sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from bot.devtools.emulator.actions import UserActions
from bot.devtools.emulator.errors import ApiError, EmulatorError, UnknownObjectError
from bot.devtools.emulator.faults import Fault, FaultPlan
from bot.devtools.emulator.methods import BotMethods
from bot.devtools.emulator.spec import UploadedFile, load_spec
from bot.devtools.emulator.state import (
    CallbackAnswer,
    ChatMessage,
    EmulatorState,
    JsonDict,
    RequestRecord,
    StoredMessage,
    copy_json,
    inline_buttons,
    utc_now,
)

T = TypeVar("T")


class Emulator(UserActions):
    """A Telegram Bot API world in memory: users, chats, messages, updates and faults."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        queue_updates: bool = True,
        bot_id: int = 7_000_000_001,
        bot_username: str = "sabai_emulated_bot",
        bot_name: str = "Sabai",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._seed = seed
        self._bot = (bot_id, bot_username, bot_name)
        self._queue_updates = queue_updates
        self._clock = clock
        self.state = self._new_state()
        self._rng = random.Random(seed)
        self._faults = FaultPlan(self._rng)
        self._methods = BotMethods(self.state)

    def _new_state(self) -> EmulatorState:
        bot_id, username, name = self._bot
        return EmulatorState(
            bot_id=bot_id,
            bot_username=username,
            bot_name=name,
            queue_updates=self._queue_updates,
            clock=self._clock,
        )

    def reset(self) -> None:
        """Forget everything: users, chats, updates, requests, faults, webhook, commands."""
        old = self.state
        old.closing = True  # long polls on the old state return at once
        old.notify()
        self.state = self._new_state()
        self._rng.seed(self._seed)
        self._faults = FaultPlan(self._rng)
        self._methods = BotMethods(self.state)

    # -- Bot API -----------------------------------------------------------------------------

    async def call_api(
        self,
        method: str,
        raw: Mapping[str, Any],
        files: Mapping[str, UploadedFile] | None = None,
        *,
        token: str | None = None,
        copy_result: bool = True,
    ) -> tuple[int, JsonDict]:
        """Answer one Bot API call; return (HTTP status, JSON body) exactly as Telegram would.

        The body is the caller's to keep unless `copy_result` is False: then it may share
        objects with the emulator's state, for a caller that serialises it at once.
        """
        spec = load_spec()
        method_spec = spec.method(method)
        if method_spec is None:
            return 404, ApiError(404, "Not Found").to_json()
        state, name = self.state, method_spec.name
        if token is not None:
            # aiogram derives Bot.id from the token, so the emulated bot takes that id too.
            state.bot["id"] = int(token.split(":", 1)[0])
        long_poll = name == "getUpdates"
        if not long_poll:
            state.in_flight += 1
            state.touch()
        logged: JsonDict | None = None
        error: ApiError | None = None
        result: Any = None
        try:
            params = spec.validate(method_spec, raw, files)
            logged = _loggable(params, {})
            fault = self._faults.take(name, params.get("chat_id"))
            if fault is not None:
                await self._apply_fault(fault)
            result = await self._methods.call(name, params)
        except ApiError as failure:
            error = failure
        finally:
            if not long_poll:
                state.in_flight -= 1
                state.touch()
        if logged is None:  # the request did not validate: log it as it came
            logged = _loggable(raw, files or {})
        state.log_request(name, logged, error)
        state.notify()
        if error is not None:
            return error.error_code, error.to_json()
        return 200, {"ok": True, "result": copy_json(result) if copy_result else result}

    async def _apply_fault(self, fault: Fault) -> None:
        error = fault.error()
        if error is not None:
            raise error
        # "slow" answers late; "timeout" holds the request past the client's patience and then
        # still carries it out, like Telegram delivering a message the bot thought had failed.
        await asyncio.sleep(fault.delay)

    # -- faults ------------------------------------------------------------------------------

    def inject(
        self,
        kind: str,
        method: str | None = None,
        chat_id: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        retry_after: int = 1,
        delay: float = 1.0,
        status: int = 500,
    ) -> Fault:
        """Make matching Bot API calls fail: "retry_after", "server_error", "slow" or "timeout".

        Fires once by default, `count` times, or on each match with `probability` (unlimited
        unless `count` is given). Without `method` it matches every method except getUpdates.
        """
        return self._faults.add(
            kind,
            method=method,
            chat_id=chat_id,
            count=count,
            probability=probability,
            retry_after=retry_after,
            delay=delay,
            status=status,
        )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._faults.faults

    # -- what the chats show -------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[ChatMessage]:
        """Return the chat's messages from the bot (and the users' with include_user), in order."""
        chat = self.state.chat(chat_id)
        return [ChatMessage.of(m) for m in chat.messages.values() if m.from_bot or include_user]

    def last_message(self, chat_id: int) -> ChatMessage:
        """Return the bot's latest message in the chat that is not deleted."""
        for message in reversed(self.messages(chat_id)):
            if not message.deleted:
                return message
        raise EmulatorError(f"the bot has sent nothing to chat {chat_id}")

    def buttons(self, chat_id: int, message_id: int | None = None) -> list[list[tuple[str, str]]]:
        """Return the inline keyboard of a message (default: the bot's latest) as rows."""
        if message_id is None:
            return self.last_message(chat_id).buttons
        stored = self.state.message(self.state.chat(chat_id), message_id)
        if stored is None:
            raise UnknownObjectError(f"chat {chat_id} has no message {message_id}")
        return inline_buttons(stored.data.get("reply_markup"))

    def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        """Return the reply keyboard the user currently sees in the chat, if any."""
        return self.state.chat(chat_id).reply_keyboard

    def chat_action(self, chat_id: int) -> str | None:
        """Return the last chat action ("typing"...) not yet followed by a message."""
        return self.state.chat(chat_id).last_action

    def commands(self, scope: JsonDict | None = None, language_code: str = "") -> list[JsonDict]:
        """Return the command list set for a scope (default scope) and language."""
        scope = scope or {"type": "default"}
        key = ":".join(str(scope[k]) for k in ("type", "chat_id", "user_id") if k in scope)
        return copy_json(self.state.commands.get((key, language_code), []))

    def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        """Return how the bot answered a callback query, or None if it has not."""
        record = self.state.callbacks.get(callback_query_id)
        if record is None:
            raise UnknownObjectError(f"unknown callback query {callback_query_id}")
        return record.answer

    @property
    def requests(self) -> list[RequestRecord]:
        """Every Bot API request so far, oldest first."""
        return list(self.state.requests)

    @property
    def updates(self) -> list[JsonDict]:
        """Updates waiting for the bot (queued and not yet confirmed)."""
        return copy_json(self.state.pending)

    @property
    def bot_user(self) -> JsonDict:
        return copy_json(self.state.bot)

    def mark(self, chat_id: int) -> None:
        """Make the next wait_for_messages count only messages sent from now on."""
        chat = self.state.chat(chat_id)
        chat.bot_messages_seen = len(chat.bot_messages())

    # -- waiting -----------------------------------------------------------------------------

    async def wait_until(self, ready: Callable[[], T | None], timeout: float) -> T | None:  # noqa: ASYNC109
        """Return `ready()` once it is not None, re-checking on every change; None on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = ready()
            if result is not None:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            await self.state.changed(remaining)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ChatMessage]:
        """Wait until the bot has sent `count` more messages to the chat since the last mark."""
        chat = self.state.chat(chat_id)
        start = chat.bot_messages_seen

        def ready() -> list[StoredMessage] | None:
            sent = chat.bot_messages()
            return sent[start : start + count] if len(sent) >= start + count else None

        found = await self.wait_until(ready, timeout)
        if found is None:
            got = len(chat.bot_messages()) - start
            raise TimeoutError(
                f"the bot sent {got} of {count} expected messages to chat {chat_id} within "
                f"{timeout}s; {self._recent_failures()}"
            )
        chat.bot_messages_seen = start + count
        return [ChatMessage.of(m) for m in found]

    async def wait_for_callback_answer(
        self,
        callback_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        """Wait until the bot answers the callback query; return the answer."""
        self.callback_answer(callback_query_id)  # fail fast on an unknown id
        answer = await self.wait_until(lambda: self.callback_answer(callback_query_id), timeout)
        if answer is None:
            raise TimeoutError(
                f"callback query {callback_query_id} not answered within {timeout}s; "
                f"{self._recent_failures()}"
            )
        return answer

    async def wait_idle(self, quiet: float = 0.1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot fetched every queued update and made no request for `quiet` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = self.state
            busy = state.undelivered() > 0 or state.in_flight > 0
            since = time.monotonic() - state.last_activity
            if not busy and since >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"not idle after {timeout}s: {state.undelivered()} updates not fetched, "
                    f"{state.in_flight} requests in progress"
                )
            await state.changed(min(remaining, quiet if busy else quiet - since))

    def _recent_failures(self) -> str:
        failed = [r for r in self.state.requests if not r.ok][-3:]
        if not failed:
            return "no failed requests"
        return "recent failed requests: " + "; ".join(
            f"{r.method}: {r.description}" for r in failed
        )


def _loggable(params: Mapping[str, Any], files: Mapping[str, UploadedFile]) -> JsonDict:
    """Return request parameters as JSON-friendly data, files reduced to name and size."""
    logged: JsonDict = {}
    for key, value in {**params, **files}.items():
        if isinstance(value, UploadedFile):
            logged[key] = {"file": value.filename, "size": value.size}
        else:
            logged[key] = copy_json(value)
    return logged

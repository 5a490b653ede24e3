"""Per-update plumbing: a log line, ordered handling per chat, a session, the conversation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import TelegramMethod
from aiogram.types import TelegramObject, Update, User
from pydantic_core import PydanticSerializationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import handled
from bot.core.base import utcnow
from bot.core.clean_text import clean_json
from bot.core.i18n import Catalog
from bot.residents.conversation import Context, Conversation
from bot.residents.sender_lookup import load_sender
from bot.residents.service import ResidentService, TelegramUser
from handlers.render import Outgoing, Progress, dump_steps, load_steps

log = logging.getLogger("sabai.updates")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class CleanTextMiddleware(BaseMiddleware):
    """Hand on updates whose every string can be stored and sent back (bot/core/clean_text.py).

    Checked on the whole update, names and captions included, in one serialization; the
    rare update that fails it is rebuilt from a cleaned copy, as aiogram itself rebuilds
    updates, so handlers, services and the database never meet a lone surrogate or a NUL.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if _is_clean(event):
            return await handler(event, data)
        log.info("cleaned the text of update %s", event.update_id)
        cleaned = Update.model_validate(
            clean_json(event.model_dump()), context={"bot": data["bot"]}
        )
        # aiogram resolved the sender and chat from the uncleaned update: resolve them again.
        return await UserContextMiddleware()(handler, cleaned, data)


def _is_clean(update: Update) -> bool:
    try:
        dumped = update.model_dump_json(exclude_none=True)
    except PydanticSerializationError:  # a lone surrogate cannot be encoded as UTF-8
        return False
    return "\\u0000" not in dumped


class Watched:
    """How one update's handling ended (handled, ignored or error) and when it began."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.outcome = "handled"

    async def run(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            result = await handler(event, data)
        except Exception:
            self.outcome = "error"
            raise
        if result is UNHANDLED:
            self.outcome = "ignored"
        return result


class UpdateLogMiddleware(BaseMiddleware):
    """Write exactly one structured line per update: what it was, how long, how it ended."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        watched = Watched()
        try:
            return await watched.run(handler, event, data)
        finally:
            outcome, started = watched.outcome, watched.started
            log.info(
                "update handled",
                extra={
                    "update_id": event.update_id,
                    "update_type": event.event_type,
                    "outcome": outcome,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


class ChatOrderMiddleware(BaseMiddleware):
    """Handle one person's updates one at a time, in order, as they sent them.

    aiogram runs each update in its own task; without this a fast double tap could
    race two handlers over the same resident row.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        key = user.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                del self._locks[key]


class ConversationMiddleware(BaseMiddleware):
    """Open one database session per update and hand the handler the resident's conversation.

    What the handler says waits in `out` until the session is committed and closed: no
    update holds a transaction (SQLite's write lock among them) while Telegram is slow.
    The update is written to the ledger of handled updates in that same transaction, with
    what it says, so a second delivery is not handled again but only finishes the reply.

    `answer_in_response` (webhook mode): the reply's last call goes out in the webhook's
    answer, which Telegram carries out exactly when it takes the update as delivered.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ctx: Context,
        *,
        answer_in_response: bool = False,
    ) -> None:
        self.sessions = sessions
        self.ctx = ctx
        self.answer_in_response = answer_in_response

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        out = Outgoing(data["bot"], self.ctx.catalog, user.language_code if user else None)
        data["out"] = out
        fingerprint = handled.digest(event.model_dump_json(exclude_none=True))
        async with self.sessions() as session:
            earlier = await handled.recall(session, event.update_id, fingerprint)
            if earlier is None:
                return await self._handle(session, handler, event, data, fingerprint)
        data["duplicate"] = True
        log.info("update %s delivered again; finishing its reply", event.update_id)
        out.steps = load_steps(earlier.replies)
        held = await self._flush(out, event.update_id, done=earlier.sent, again=True)
        return held if held is not None else UNHANDLED

    async def _handle(
        self,
        session: AsyncSession,
        handler: Handler,
        event: Update,
        data: dict[str, Any],
        fingerprint: str,
    ) -> Any:
        out: Outgoing = data["out"]
        conversation = await self._open(session, event, data)
        result = await handler(event, data)
        _answer_every_tap(event, out, self.ctx.catalog, data["language"])
        await session.flush()  # the handler's own writes fail (or not) before the ledger's
        try:
            await _record(
                session, event, data.get("event_from_user"), conversation, out, fingerprint
            )
            await session.commit()
        except IntegrityError:
            # Another process handled the same update meanwhile; its reply is its own.
            await session.rollback()
            data["duplicate"] = True
            log.info("update %s was handled by another process", event.update_id)
            return UNHANDLED
        await session.close()
        if conversation is not None:
            out.on_blocked = _marker(conversation)
        held = await self._flush(out, event.update_id)
        return held if held is not None else result

    async def _flush(
        self, out: Outgoing, update_id: int, *, done: int = 0, again: bool = False
    ) -> TelegramMethod[Any] | None:
        """Send the reply. By webhook, a failure worth trying again leaves the update
        unacknowledged: Telegram delivers it again and the ledger sends what is missing."""
        try:
            return await out.flush(
                done=done,
                progress=self._progress(update_id),
                hold_last=self.answer_in_response,
                again=again,
            )
        except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as exc:
            if not self.answer_in_response:
                raise
            raise handled.ReplyUnfinished(update_id) from exc

    async def _open(
        self, session: AsyncSession, event: Update, data: dict[str, Any]
    ) -> Conversation | None:
        """Load the sender and put the session, language and conversation into `data`."""
        user: User | None = data.get("event_from_user")
        person = user if user is not None and not user.is_bot else None
        now = utcnow()
        sender = await load_sender(session, person.id, now) if person is not None else None
        resident = sender.resident if sender is not None else None
        if resident is not None and _acts(event):
            ResidentService(session).reachable_again(resident)
        data["session"] = session
        data["language"] = self.ctx.catalog.resolve(resident.language if resident else None)
        if person is None or sender is None:
            return None
        tg_user = TelegramUser(
            telegram_id=person.id,
            first_name=person.first_name,
            username=person.username,
            language_code=person.language_code,
        )
        conversation = Conversation(
            session, self.ctx, tg_user, resident, now, composing_text=sender.composing_text
        )
        data["conversation"] = conversation
        return conversation

    def _progress(self, update_id: int) -> Progress:
        async def note(count: int, all_sent: bool) -> None:
            await handled.mark_sent(self.sessions, update_id, count, all_sent=all_sent)

        return note


async def _record(
    session: AsyncSession,
    event: Update,
    user: User | None,
    conversation: Conversation | None,
    out: Outgoing,
    fingerprint: str,
) -> None:
    """Write the update to the ledger of handled updates, with what it says."""
    if conversation is not None and conversation.forgotten and user is not None:
        # Nothing about them is kept, not even this reply: if its answer is lost, the
        # deletion stands and /mydata says so.
        await handled.forget_person(session, user.id)
        await handled.record(session, event.update_id, fingerprint, None, "[]")
        return
    person = user.id if user is not None else None
    await handled.record(session, event.update_id, fingerprint, person, dump_steps(out.steps))


def _answer_every_tap(
    event: TelegramObject, out: Outgoing, catalog: Catalog, language: str
) -> None:
    """Answer a button press no handler answered (an old screen's, a group's, an inline
    message's...), so the person's button stops spinning and says why nothing happened."""
    query = event.callback_query if isinstance(event, Update) else None
    if query is not None and query.id not in out.answered:
        out.toast(query, catalog.text(language, "error.expired"), alert=True)


def _marker(conversation: Conversation) -> Callable[[], Awaitable[None]]:
    """Mark the person unreachable, in a short transaction of its own after the failed send."""

    async def mark() -> None:
        conversation.blocked(True)
        await conversation.finish()

    return mark


def _acts(event: TelegramObject) -> bool:
    """A message or a button tap: the person is there to be reached (not a status change)."""
    return isinstance(event, Update) and (
        event.message is not None or event.callback_query is not None
    )

"""The emulator's in-memory world: users, chats, messages, updates, callback queries, requests.

Everything is plain data kept in dicts shaped exactly like Telegram's JSON objects, so what the
bot receives and what tests inspect are the same thing. Only one event loop touches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from bot.devtools.emulator.entities import entities_to_html
from bot.devtools.emulator.errors import ApiError, UnknownObjectError, bad_request

JsonDict = dict[str, Any]
_Json = TypeVar("_Json")


def copy_json(value: _Json) -> _Json:
    """A copy of JSON data (dicts, lists, scalars) that shares nothing mutable with it.

    What the emulator stores, answers and logs is plain JSON; `copy.deepcopy` handles any
    object graph and costs several times more, once per request.
    """
    return cast(_Json, _copied(value))


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


# What Telegram sends when a bot never said which updates it wants.
DEFAULT_ALLOWED = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
        "business_message", "edited_business_message", "deleted_business_messages",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer", "my_chat_member",
        "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # fmt: skip
MESSAGE_KINDS = ("text", "photo", "document", "sticker", "voice", "location", "contact")


def update_type(update: JsonDict) -> str:
    """Return the kind of an update ("message", "callback_query", ...)."""
    return next(key for key in update if key != "update_id")


@dataclass
class StoredMessage:
    """A message in a chat, with what Telegram keeps about it behind the scenes."""

    data: JsonDict  # the Message object exactly as the Bot API returns it
    from_bot: bool
    seq: int  # bumped on every change so watchers can ask for "anything new since N"
    edited: bool = False
    deleted: bool = False
    reply_keyboard: list[list[str]] | None = None
    history: list[JsonDict] = field(default_factory=list)

    @property
    def message_id(self) -> int:
        return int(self.data["message_id"])


@dataclass
class ChatState:
    """A chat and everything in it."""

    chat: JsonDict  # the Chat object
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False  # the user blocked the bot (private chats only)
    last_action: str | None = None
    reply_keyboard: list[list[str]] | None = None
    bot_messages_seen: int = 0  # mark for Emulator.wait_for_messages

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    def bot_messages(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.from_bot]


@dataclass(frozen=True)
class CallbackAnswer:
    """How the bot answered a callback query (answerCallbackQuery)."""

    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class CallbackRecord:
    query: JsonDict
    answer: CallbackAnswer | None = None


@dataclass(frozen=True)
class RequestRecord:
    """One Bot API call as the emulator saw it."""

    method: str
    params: JsonDict
    ok: bool
    error_code: int | None
    description: str | None
    at: datetime

    def to_json(self) -> JsonDict:
        return {
            "method": self.method,
            "params": self.params,
            "ok": self.ok,
            "error_code": self.error_code,
            "description": self.description,
            "at": self.at.isoformat(),
        }


@dataclass
class WebhookState:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None

    def to_json(self, pending: int, allowed: list[str] | None) -> JsonDict:
        info: JsonDict = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": pending,
        }
        if self.url:
            info["max_connections"] = self.max_connections
            if allowed is not None:
                info["allowed_updates"] = allowed
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info


@dataclass(frozen=True)
class ChatMessage:
    """What a chat shows for one message: the view tests and the terminal chat assert on."""

    chat_id: int
    message_id: int
    kind: str
    text: str  # text or caption, entities stripped
    entities: list[JsonDict]
    html: str  # text re-rendered as Telegram HTML
    buttons: list[list[tuple[str, str]]]  # inline keyboard rows of (text, callback_data or url)
    reply_markup: JsonDict | None
    reply_keyboard: list[list[str]] | None
    date: int
    edited: bool
    deleted: bool
    from_bot: bool
    seq: int

    @classmethod
    def of(cls, stored: StoredMessage) -> ChatMessage:
        data = stored.data
        text: str = data.get("text") or data.get("caption") or ""
        entities: list[JsonDict] = data.get("entities") or data.get("caption_entities") or []
        markup = data.get("reply_markup")
        return cls(
            chat_id=int(data["chat"]["id"]),
            message_id=stored.message_id,
            kind=next((k for k in MESSAGE_KINDS if k in data), "other"),
            text=text,
            entities=list(entities),
            html=entities_to_html(text, entities),
            buttons=inline_buttons(markup),
            reply_markup=markup,
            reply_keyboard=stored.reply_keyboard,
            date=int(data.get("edit_date") or data["date"]),
            edited=stored.edited,
            deleted=stored.deleted,
            from_bot=stored.from_bot,
            seq=stored.seq,
        )

    def to_json(self) -> JsonDict:
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "kind": self.kind,
            "text": self.text,
            "entities": self.entities,
            "html": self.html,
            "buttons": [[list(b) for b in row] for row in self.buttons],
            "reply_markup": self.reply_markup,
            "reply_keyboard": self.reply_keyboard,
            "date": self.date,
            "edited": self.edited,
            "deleted": self.deleted,
            "from_bot": self.from_bot,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> ChatMessage:
        fields = dict(data)
        fields["buttons"] = [[(str(t), str(v)) for t, v in row] for row in data["buttons"]]
        return cls(**fields)


def inline_buttons(markup: JsonDict | None) -> list[list[tuple[str, str]]]:
    """Return inline keyboard rows as (text, callback_data or url or '')."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [
        [(b["text"], b.get("callback_data") or b.get("url") or "") for b in row]
        for row in markup["inline_keyboard"]
    ]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EmulatorState:
    """All mutable emulator data plus the bookkeeping that wakes waiting coroutines."""

    def __init__(
        self,
        *,
        bot_id: int,
        bot_username: str,
        bot_name: str,
        queue_updates: bool,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.clock = clock
        self.queue_updates = queue_updates
        self.bot: JsonDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.users: dict[int, JsonDict] = {}
        self.chats: dict[int, ChatState] = {}
        self.pending: list[JsonDict] = []  # updates not yet confirmed by the bot
        self.history: list[JsonDict] = []  # every update ever created, for inspection
        self.next_update_id = 1
        self.delivered_upto = 0  # highest update_id handed to the bot
        self.allowed_updates: list[str] | None = None
        self.poll_generation = 0
        self.webhook = WebhookState()
        self.callbacks: dict[str, CallbackRecord] = {}
        self.next_callback_id = 1
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.requests: list[RequestRecord] = []
        self.files: dict[str, int] = {}  # file_id -> size in bytes
        self.next_file = 1
        self.seq = 0
        self.in_flight = 0  # Bot API calls being answered, long polls excluded
        self.last_activity = time.monotonic()
        self.closing = False
        self._waiters: list[asyncio.Future[None]] = []

    # -- waking waiters ---------------------------------------------------------------------

    def notify(self) -> None:
        """Wake every coroutine waiting for a change."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def changed(self, seconds: float) -> None:
        """Wait until something changes or `seconds` pass."""
        if seconds <= 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives just as the waiter is woken, and the server could then never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await waiter

    def touch(self) -> None:
        """Record bot activity for wait_idle."""
        self.last_activity = time.monotonic()

    # -- identities -------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock().timestamp())

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def user(self, user_id: int) -> JsonDict:
        try:
            return self.users[user_id]
        except KeyError:
            raise UnknownObjectError(f"unknown user {user_id}: call add_user first") from None

    def chat(self, chat_id: int) -> ChatState:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise UnknownObjectError(f"unknown chat {chat_id}") from None

    def resolve_chat(self, chat_id: int | str) -> ChatState:
        """Find the chat a Bot API call targets, by id or @username, or raise ApiError."""
        if isinstance(chat_id, str):
            wanted = chat_id.removeprefix("@").lower()
            for chat in self.chats.values():
                if (
                    chat.chat.get("username", "").lower() == wanted
                    and chat.chat["type"] != "private"
                ):
                    return chat
            raise bad_request("chat not found")
        found = self.chats.get(chat_id)
        if found is None:
            raise bad_request("chat not found")
        return found

    def new_file_id(self, kind: str, size: int) -> tuple[str, str]:
        """Return a fresh (file_id, file_unique_id) and remember the file's size."""
        number = self.next_file
        self.next_file += 1
        file_id = f"{kind[:2].upper()}ACAgEmU{number:010d}"
        self.files[file_id] = size
        return file_id, f"AQAD{number:08d}"

    # -- messages and updates --------------------------------------------------------------

    def add_message(
        self, chat: ChatState, content: JsonDict, *, sender: JsonDict | None, from_bot: bool
    ) -> StoredMessage:
        """Store a new message in `chat` and return it; `content` holds text, photo, etc."""
        data: JsonDict = {"message_id": chat.next_message_id}
        if sender is not None:
            data["from"] = sender
        if chat.chat["type"] == "channel":
            data["sender_chat"] = chat.chat
        data["chat"] = chat.chat
        data["date"] = self.now()
        data.update(content)
        chat.next_message_id += 1
        stored = StoredMessage(data=data, from_bot=from_bot, seq=self.next_seq())
        chat.messages[stored.message_id] = stored
        self.notify()
        return stored

    def message(self, chat: ChatState, message_id: int) -> StoredMessage | None:
        stored = chat.messages.get(message_id)
        return None if stored is None or stored.deleted else stored

    def enqueue(self, body: JsonDict) -> JsonDict:
        """Create an update from `body`; queue it for the bot unless queueing is off."""
        update = {"update_id": self.next_update_id, **body}
        self.next_update_id += 1
        self.history.append(update)
        if self.queue_updates:
            self.pending.append(update)
            self.notify()
        return update

    def allowed(self, update: JsonDict) -> bool:
        kinds = frozenset(self.allowed_updates) if self.allowed_updates else DEFAULT_ALLOWED
        return update_type(update) in kinds

    def confirm(self, below: int) -> None:
        """Forget updates with update_id < below, as a getUpdates offset does."""
        self.pending = [u for u in self.pending if u["update_id"] >= below]

    def mark_delivered(self, updates: list[JsonDict]) -> None:
        if updates:
            self.delivered_upto = max(self.delivered_upto, updates[-1]["update_id"])
            self.touch()
            self.notify()

    def undelivered(self) -> int:
        return sum(1 for u in self.pending if u["update_id"] > self.delivered_upto)

    def log_request(self, method: str, params: JsonDict, error: ApiError | None) -> None:
        self.requests.append(
            RequestRecord(
                method=method,
                params=params,
                ok=error is None,
                error_code=None if error is None else error.error_code,
                description=None if error is None else error.description,
                at=self.clock(),
            )
        )

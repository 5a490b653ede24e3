"""The Bot API methods the emulator implements, working on EmulatorState.

Implemented: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo, sendMessage,
sendPhoto, sendDocument, editMessageText, editMessageCaption, editMessageReplyMarkup,
deleteMessage, deleteMessages, answerCallbackQuery, sendChatAction, setMyCommands,
getMyCommands, deleteMyCommands, getChat, logOut and close. A few methods whose only effect is
on Telegram's side (bot descriptions, menu button, pins, reactions) are validated and answered
`true` (see ACCEPTED). Every other method of the spec is validated and then refused with
400 "Bad Request: method not supported by the emulator", so a bot never mistakes a silent no-op
for success. Inline messages (inline_message_id) are not supported.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from bot.devtools.emulator import rules
from bot.devtools.emulator.entities import parse_text
from bot.devtools.emulator.errors import ApiError, bad_request, forbidden
from bot.devtools.emulator.spec import UploadedFile
from bot.devtools.emulator.state import (
    CallbackAnswer,
    ChatState,
    EmulatorState,
    JsonDict,
    StoredMessage,
    copy_json,
)

ACCEPTED = frozenset(
    {
        "setmydescription", "setmyshortdescription", "setmyname", "setchatmenubutton",
        "setmydefaultadministratorrights", "pinchatmessage", "unpinchatmessage",
        "unpinallchatmessages", "setmessagereaction", "leavechat",
    }
)  # fmt: skip
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Handler = Callable[[JsonDict], Awaitable[Any]]


class BotMethods:
    """Answer Bot API calls whose parameters spec.validate has already typed."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "sendmessage": self.send_message,
            "sendphoto": self.send_photo,
            "senddocument": self.send_document,
            "editmessagetext": self.edit_message_text,
            "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "deletemessages": self.delete_messages,
            "answercallbackquery": self.answer_callback_query,
            "sendchataction": self.send_chat_action,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "getchat": self.get_chat,
            "logout": self.accept,
            "close": self.accept,
        }

    async def call(self, method: str, params: JsonDict) -> Any:
        """Run `method` and return its result, or raise ApiError."""
        handler = self._handlers.get(method.lower())
        if handler is not None:
            return await handler(params)
        if method.lower() in ACCEPTED:
            return True
        raise bad_request("method not supported by the emulator")

    async def accept(self, params: JsonDict) -> bool:
        return True

    # -- bot and updates ------------------------------------------------------------------------

    async def get_me(self, params: JsonDict) -> JsonDict:
        return {
            **self.state.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: JsonDict) -> list[JsonDict]:
        state = self.state
        if state.webhook.url:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        # A newer getUpdates ends an older one, as Telegram does when two bot copies poll.
        state.poll_generation += 1
        generation = state.poll_generation
        state.notify()
        offset = params.get("offset", 0)
        if offset > 0:
            state.confirm(offset)
        elif offset < 0:
            state.pending = state.pending[offset:]
        limit = params.get("limit", 100)
        limit = limit if 1 <= limit <= 100 else 100
        if "allowed_updates" in params:
            state.allowed_updates = params["allowed_updates"] or None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0, params.get("timeout", 0))
        while True:
            # Updates of kinds the bot did not ask for are dropped, not kept for later.
            state.pending = [u for u in state.pending if state.allowed(u)]
            batch = state.pending[:limit]
            if batch or state.closing or state.webhook.url:
                break
            if state.poll_generation != generation:
                raise ApiError(409, _POLL_CONFLICT)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await state.changed(remaining)
        state.mark_delivered(batch)
        return copy_json(batch)

    async def set_webhook(self, params: JsonDict) -> bool:
        state = self.state
        url = params.get("url", "")
        if not url:
            return await self.delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid webhook URL specified")
        if parts.hostname not in _LOCAL_HOSTS:
            # The emulator must never reach beyond this machine.
            raise bad_request("bad webhook: the emulator delivers webhooks to 127.0.0.1 only")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        if params.get("drop_pending_updates"):
            state.pending.clear()
        if "allowed_updates" in params:
            state.allowed_updates = params["allowed_updates"] or None
        state.webhook.url = url
        state.webhook.secret_token = secret
        state.webhook.max_connections = max_connections
        state.webhook.last_error_date = None
        state.webhook.last_error_message = None
        state.notify()
        return True

    async def delete_webhook(self, params: JsonDict) -> bool:
        state = self.state
        state.webhook.url = ""
        state.webhook.secret_token = None
        if params.get("drop_pending_updates"):
            state.pending.clear()
        state.notify()
        return True

    async def get_webhook_info(self, params: JsonDict) -> JsonDict:
        state = self.state
        return state.webhook.to_json(len(state.pending), state.allowed_updates)

    # -- sending ---------------------------------------------------------------------------

    def _target(self, params: JsonDict) -> ChatState:
        chat = self.state.resolve_chat(params["chat_id"])
        if chat.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    def _sender(self, chat: ChatState) -> JsonDict | None:
        # Posts in channels carry sender_chat instead of a sender user.
        return None if chat.chat["type"] == "channel" else self.state.bot

    def _reply_to(self, chat: ChatState, params: JsonDict, content: JsonDict) -> None:
        reply = params.get("reply_parameters")
        if reply is None:
            return
        target_chat = chat
        if "chat_id" in reply:
            target_chat = self.state.resolve_chat(reply["chat_id"])
        target = self.state.message(target_chat, reply["message_id"])
        if target is not None:
            replied = dict(target.data)
            replied.pop("reply_to_message", None)
            content["reply_to_message"] = replied
        elif not reply.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")

    def _markup(
        self, chat: ChatState, params: JsonDict, content: JsonDict
    ) -> list[list[str]] | None:
        """Put an inline keyboard into the message; remember a reply keyboard on the chat."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if "inline_keyboard" in markup:
            content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
            return None
        if "keyboard" in markup:
            chat.reply_keyboard = [[button["text"] for button in row] for row in markup["keyboard"]]
            return chat.reply_keyboard
        if "remove_keyboard" in markup:
            chat.reply_keyboard = None
        return None

    def _store(self, chat: ChatState, params: JsonDict, content: JsonDict) -> JsonDict:
        self._reply_to(chat, params, content)
        keyboard = self._markup(chat, params, content)
        stored = self.state.add_message(chat, content, sender=self._sender(chat), from_bot=True)
        stored.reply_keyboard = keyboard
        chat.last_action = None  # a sent message ends the "typing..." status
        return stored.data

    async def send_message(self, params: JsonDict) -> JsonDict:
        chat = self._target(params)
        text, entities = parse_text(
            params["text"], params.get("parse_mode"), params.get("entities")
        )
        rules.check_text(text)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        if "link_preview_options" in params:
            content["link_preview_options"] = params["link_preview_options"]
        return self._store(chat, params, content)

    def _caption(self, params: JsonDict, content: JsonDict) -> None:
        if "caption" not in params:
            return
        caption, entities = parse_text(
            params["caption"], params.get("parse_mode"), params.get("caption_entities")
        )
        rules.check_caption(caption)
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities

    def _file(self, value: UploadedFile | str, kind: str) -> tuple[str, str, int, str]:
        """Return (file_id, file_unique_id, size, file name) for an upload or a file_id."""
        if isinstance(value, UploadedFile):
            file_id, unique_id = self.state.new_file_id(kind, value.size)
            return file_id, unique_id, value.size, value.filename
        if not value.strip() or any(c.isspace() for c in value):
            raise bad_request("wrong file identifier/HTTP URL specified")
        size = self.state.files.get(value, 0)
        return value, f"AQAD{zlib.crc32(value.encode()):010d}", size, value.rsplit("/", 1)[-1]

    async def send_photo(self, params: JsonDict) -> JsonDict:
        chat = self._target(params)
        file_id, unique_id, size, _ = self._file(params["photo"], "photo")
        content: JsonDict = {
            "photo": [
                {"file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 720,
                 "file_size": size},
            ]
        }  # fmt: skip
        self._caption(params, content)
        return self._store(chat, params, content)

    async def send_document(self, params: JsonDict) -> JsonDict:
        chat = self._target(params)
        file_id, unique_id, size, name = self._file(params["document"], "document")
        document: JsonDict = {"file_id": file_id, "file_unique_id": unique_id, "file_size": size}
        if name:
            document["file_name"] = name
        upload = params["document"]
        if isinstance(upload, UploadedFile) and upload.content_type:
            document["mime_type"] = upload.content_type
        content: JsonDict = {"document": document}
        self._caption(params, content)
        return self._store(chat, params, content)

    # -- editing ---------------------------------------------------------------------------

    def _editable(self, params: JsonDict) -> tuple[ChatState, StoredMessage]:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported by the emulator")
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat = self._target(params)
        stored = self.state.message(chat, params["message_id"])
        if stored is None:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    def _inline_markup(self, params: JsonDict) -> JsonDict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        return {"inline_keyboard": markup["inline_keyboard"]}

    def _apply_edit(self, stored: StoredMessage, changes: JsonDict) -> JsonDict:
        """Replace fields of a message (None removes one) unless nothing would change."""
        if all(stored.data.get(key) == value for key, value in changes.items()):
            raise bad_request(NOT_MODIFIED)
        stored.history.append(copy_json(stored.data))
        for key, value in changes.items():
            if value is None:
                stored.data.pop(key, None)
            else:
                stored.data[key] = value
        stored.data["edit_date"] = self.state.now()
        stored.edited = True
        stored.seq = self.state.next_seq()
        self.state.notify()
        return stored.data

    async def edit_message_text(self, params: JsonDict) -> JsonDict:
        _, stored = self._editable(params)
        text, entities = parse_text(
            params["text"], params.get("parse_mode"), params.get("entities")
        )
        rules.check_text(text)
        if "text" not in stored.data:
            raise bad_request("there is no text in the message to edit")
        # Editing without reply_markup removes the inline keyboard, as on Telegram.
        changes = {
            "text": text,
            "entities": entities or None,
            "reply_markup": self._inline_markup(params),
        }
        return self._apply_edit(stored, changes)

    async def edit_message_caption(self, params: JsonDict) -> JsonDict:
        _, stored = self._editable(params)
        if not any(kind in stored.data for kind in ("photo", "document")):
            raise bad_request("there is no caption in the message to edit")
        content: JsonDict = {}
        self._caption(params, content)
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
            "reply_markup": self._inline_markup(params),
        }
        return self._apply_edit(stored, changes)

    async def edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        _, stored = self._editable(params)
        return self._apply_edit(stored, {"reply_markup": self._inline_markup(params)})

    async def delete_message(self, params: JsonDict) -> bool:
        chat = self.state.resolve_chat(params["chat_id"])
        stored = self.state.message(chat, params["message_id"])
        if stored is None:
            raise bad_request("message to delete not found")
        self._delete(stored)
        return True

    async def delete_messages(self, params: JsonDict) -> bool:
        chat = self.state.resolve_chat(params["chat_id"])
        for message_id in params["message_ids"]:
            stored = self.state.message(chat, message_id)
            if stored is not None:
                self._delete(stored)
        return True

    def _delete(self, stored: StoredMessage) -> None:
        stored.deleted = True
        stored.seq = self.state.next_seq()
        self.state.notify()

    # -- callbacks, actions, commands, chats --------------------------------------------------

    async def answer_callback_query(self, params: JsonDict) -> bool:
        record = self.state.callbacks.get(params["callback_query_id"])
        if record is None or record.answer is not None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(text) > rules.MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answer = CallbackAnswer(
            text=text,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=int(params.get("cache_time", 0)),
        )
        self.state.notify()
        return True

    async def send_chat_action(self, params: JsonDict) -> bool:
        chat = self._target(params)
        if params["action"] not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.last_action = params["action"]
        return True

    def _scope_key(self, params: JsonDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        parts = [scope["type"]]
        if "chat_id" in scope:
            parts.append(str(self.state.resolve_chat(scope["chat_id"]).id))
        if "user_id" in scope:
            parts.append(str(scope["user_id"]))
        return ":".join(parts), params.get("language_code", "")

    async def set_my_commands(self, params: JsonDict) -> bool:
        commands = params["commands"]
        if len(commands) > rules.MAX_COMMANDS:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        key = self._scope_key(params)
        if commands:
            self.state.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return copy_json(self.state.commands.get(self._scope_key(params), []))

    async def delete_my_commands(self, params: JsonDict) -> bool:
        self.state.commands.pop(self._scope_key(params), None)
        return True

    async def get_chat(self, params: JsonDict) -> JsonDict:
        chat = self.state.resolve_chat(params["chat_id"])
        return {
            **chat.chat,
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

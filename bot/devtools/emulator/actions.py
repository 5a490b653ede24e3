"""What the emulated people do: join, write, tap buttons, share things, block the bot.

Each action stores what the person did in the chat and returns the update Telegram would send
to the bot (queued for getUpdates/webhook unless the emulator was made with queue_updates=False).
"""

from __future__ import annotations

from bot.devtools.emulator.errors import EmulatorError, UnknownObjectError
from bot.devtools.emulator.state import (
    CallbackRecord,
    ChatState,
    EmulatorState,
    JsonDict,
    StoredMessage,
    copy_json,
    inline_buttons,
)

_QUERY_ID_BASE = 4_611_686_018_427_387_904  # callback query ids look like Telegram's 64-bit ones


class UserActions:
    """The people side of Emulator; works on `self.state`."""

    state: EmulatorState

    # -- people and chats --------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "bn",
        last_name: str | None = None,
    ) -> JsonDict:
        """Create (or update) a user and their private chat with the bot; return the User."""
        if user_id <= 0:
            raise EmulatorError("user ids are positive")
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: JsonDict = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = value
                chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        self.state.users[user_id] = user
        self._upsert_chat(chat)
        return copy_json(user)

    def add_group(
        self,
        group_id: int,
        title: str = "Test group",
        *,
        supergroup: bool = False,
        username: str | None = None,
    ) -> JsonDict:
        """Create a group (negative id) or a supergroup (-100... id); return the Chat."""
        if group_id >= 0:
            raise EmulatorError("group ids are negative")
        if supergroup and not str(group_id).startswith("-100"):
            raise EmulatorError("supergroup ids start with -100")
        chat: JsonDict = {"id": group_id, "type": "supergroup" if supergroup else "group"}
        chat["title"] = title
        if username is not None:
            chat["username"] = username
        return self._upsert_chat(chat)

    def add_channel(
        self, channel_id: int, title: str = "Test channel", *, username: str | None = None
    ) -> JsonDict:
        """Create a channel (-100... id) the bot can post to; return the Chat."""
        if not str(channel_id).startswith("-100"):
            raise EmulatorError("channel ids start with -100")
        chat: JsonDict = {"id": channel_id, "type": "channel", "title": title}
        if username is not None:
            chat["username"] = username
        return self._upsert_chat(chat)

    def _upsert_chat(self, chat: JsonDict) -> JsonDict:
        existing = self.state.chats.get(chat["id"])
        if existing is None:
            self.state.chats[chat["id"]] = ChatState(chat)
        else:
            existing.chat.clear()
            existing.chat.update(chat)
        return copy_json(chat)

    # -- what users do -----------------------------------------------------------------------

    def _user_chat(self, user_id: int, chat_id: int | None) -> tuple[JsonDict, ChatState]:
        user = self.state.user(user_id)
        chat = self.state.chat(user_id if chat_id is None else chat_id)
        if chat.chat["type"] == "channel":
            raise EmulatorError("users do not write in channels; use channel_post")
        return user, chat

    def _user_message(self, user_id: int, chat_id: int | None, content: JsonDict) -> JsonDict:
        user, chat = self._user_chat(user_id, chat_id)
        if chat.blocked:
            # Writing to a bot you blocked unblocks it first (the "Restart" button).
            self.bot_unblocked_by(user_id)
        stored = self.state.add_message(chat, content, sender=user, from_bot=False)
        return self.state.enqueue({"message": copy_json(stored.data)})

    def send_text(self, user_id: int, text: str, chat_id: int | None = None) -> JsonDict:
        """The user sends a text (commands get a bot_command entity); return the update."""
        content: JsonDict = {"text": text}
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        if len(command) > 1:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._user_message(user_id, chat_id, content)

    def group_text(self, group_id: int, user_id: int, text: str) -> JsonDict:
        """A group member writes in a group; return the update."""
        if self.state.chat(group_id).chat["type"] not in ("group", "supergroup"):
            raise EmulatorError(f"chat {group_id} is not a group")
        return self.send_text(user_id, text, chat_id=group_id)

    def share_location(
        self, user_id: int, lat: float, lon: float, chat_id: int | None = None
    ) -> JsonDict:
        """The user shares a location; return the update."""
        content = {"location": {"latitude": lat, "longitude": lon}}
        return self._user_message(user_id, chat_id, content)

    def send_sticker(self, user_id: int, emoji: str = "👍", chat_id: int | None = None) -> JsonDict:
        """The user sends a sticker; return the update."""
        file_id, unique_id = self.state.new_file_id("sticker", 24_000)
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 24_000,
        }
        return self._user_message(user_id, chat_id, {"sticker": sticker})

    def send_photo(
        self,
        user_id: int,
        caption: str | None = None,
        size: int = 60_000,
        chat_id: int | None = None,
    ) -> JsonDict:
        """The user sends a photo of `size` bytes; return the update."""
        small_id, small_unique = self.state.new_file_id("photo", size // 10)
        file_id, unique_id = self.state.new_file_id("photo", size)
        content: JsonDict = {
            "photo": [
                {"file_id": small_id, "file_unique_id": small_unique, "width": 90, "height": 90,
                 "file_size": size // 10},
                {"file_id": file_id, "file_unique_id": unique_id, "width": 1280, "height": 960,
                 "file_size": size},
            ]
        }  # fmt: skip
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, content)

    def send_voice(
        self, user_id: int, duration: int = 3, size: int = 16_000, chat_id: int | None = None
    ) -> JsonDict:
        """The user sends a voice note; return the update."""
        file_id, unique_id = self.state.new_file_id("voice", size)
        voice = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": size,
        }
        return self._user_message(user_id, chat_id, {"voice": voice})

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        first_name: str | None = None,
        chat_id: int | None = None,
    ) -> JsonDict:
        """The user shares their own contact (as a request_contact button does)."""
        user = self.state.user(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or user["first_name"],
            "user_id": user_id,
        }
        return self._user_message(user_id, chat_id, {"contact": contact})

    def raw_update(self, update: JsonDict) -> JsonDict:
        """Queue `update` (without its update_id) exactly as given, even one the Bot API's
        types would reject, as Telegram has been seen to send; return it with its id."""
        if not isinstance(update, dict) or not update or "update_id" in update:
            raise EmulatorError("a raw update is a JSON object without update_id")
        return self.state.enqueue(copy_json(update))

    def edit_text(
        self, user_id: int, message_id: int, new_text: str, chat_id: int | None = None
    ) -> JsonDict:
        """The user edits one of their texts; return the edited_message update."""
        _, chat = self._user_chat(user_id, chat_id)
        stored = self.state.message(chat, message_id)
        if stored is None or stored.from_bot or stored.data.get("from", {}).get("id") != user_id:
            raise UnknownObjectError(
                f"user {user_id} has no message {message_id} in chat {chat.id}"
            )
        if "text" not in stored.data:
            raise EmulatorError(f"message {message_id} has no text to edit")
        stored.history.append(copy_json(stored.data))
        stored.data["text"] = new_text
        stored.data.pop("entities", None)
        stored.data["edit_date"] = self.state.now()
        stored.edited = True
        stored.seq = self.state.next_seq()
        self.state.notify()
        return self.state.enqueue({"edited_message": copy_json(stored.data)})

    def channel_post(self, channel_id: int, text: str) -> JsonDict:
        """The channel's admins post a text; return the channel_post update."""
        chat = self.state.chat(channel_id)
        if chat.chat["type"] != "channel":
            raise EmulatorError(f"chat {channel_id} is not a channel")
        stored = self.state.add_message(chat, {"text": text}, sender=None, from_bot=False)
        return self.state.enqueue({"channel_post": copy_json(stored.data)})

    def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        forge: bool = False,
    ) -> JsonDict:
        """The user taps an inline button; return the callback_query update.

        Without `forge` the message must exist and carry a button with this callback_data;
        with `forge=True` anything is sent, as a modified client could.
        """
        user, chat = self._user_chat(user_id, chat_id)
        stored = self.state.message(chat, message_id)
        if not forge:
            self._check_button(chat, message_id, stored, data)
        state = self.state
        query_id = str(_QUERY_ID_BASE + state.next_callback_id)
        state.next_callback_id += 1
        message: JsonDict = (
            copy_json(stored.data)
            if stored is not None
            else {"chat": chat.chat, "message_id": message_id, "date": 0}
        )
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(chat.id) * 1_000_003 + 17),
            "data": data,
        }
        state.callbacks[query_id] = CallbackRecord(copy_json(query))
        return state.enqueue({"callback_query": query})

    @staticmethod
    def _check_button(
        chat: ChatState, message_id: int, stored: StoredMessage | None, data: str
    ) -> None:
        if stored is None:
            raise UnknownObjectError(f"chat {chat.id} has no message {message_id}")
        rows = inline_buttons(stored.data.get("reply_markup"))
        datas = [
            button.get("callback_data")
            for row in stored.data.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        if data not in datas:
            raise EmulatorError(
                f"message {message_id} in chat {chat.id} has no inline button with "
                f"callback_data {data!r}; its buttons are {rows!r} (pass forge=True to send "
                "it anyway)"
            )

    def bot_blocked_by(self, user_id: int) -> JsonDict:
        """The user blocks the bot: sends fail with 403; return the my_chat_member update."""
        return self._set_blocked(user_id, blocked=True)

    def bot_unblocked_by(self, user_id: int) -> JsonDict:
        """The user unblocks (restarts) the bot; return the my_chat_member update."""
        return self._set_blocked(user_id, blocked=False)

    def _set_blocked(self, user_id: int, *, blocked: bool) -> JsonDict:
        user = self.state.user(user_id)
        chat = self.state.chat(user_id)
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        old_member: JsonDict = {"user": self.state.bot, "status": old}
        new_member: JsonDict = {"user": self.state.bot, "status": new}
        for member in (old_member, new_member):
            if member["status"] == "kicked":
                member["until_date"] = 0
        body = {
            "chat": chat.chat,
            "from": user,
            "date": self.state.now(),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return self.state.enqueue({"my_chat_member": copy_json(body)})

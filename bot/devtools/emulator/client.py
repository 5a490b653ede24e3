"""Async client for the emulator's control HTTP API (see control.py for the routes)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from aiohttp import ClientSession, ClientTimeout

from bot.devtools.emulator.errors import EmulatorError, UnknownObjectError
from bot.devtools.emulator.state import CallbackAnswer, ChatMessage, JsonDict


class EmulatorClient:
    """Drive an emulator running in another process (or task) over HTTP."""

    def __init__(self, base_url: str, *, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = ClientTimeout(total=timeout)
        self._session: ClientSession | None = None

    async def __aenter__(self) -> EmulatorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        if self._session is None:
            self._session = ClientSession(timeout=self._timeout)
        url = f"{self.base_url}/_emulator/{path}"
        async with self._session.request(method, url, json=body, params=query) as response:
            data = await response.json()
        if data.get("ok"):
            return data["result"]
        error = str(data.get("error", f"HTTP {response.status}"))
        if response.status == 504:
            raise TimeoutError(error)
        if response.status == 404:
            raise UnknownObjectError(error)
        raise EmulatorError(error)

    async def _action(self, name: str, **fields: Any) -> JsonDict:
        body = {key: value for key, value in fields.items() if value is not None}
        result: JsonDict = await self._request("POST", name, body)
        return result

    # -- people and chats ------------------------------------------------------------------

    async def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str | None = "bn",
        last_name: str | None = None,
    ) -> JsonDict:
        """Create a user and their private chat; return the User."""
        return await self._action(
            "users",
            user_id=user_id,
            first_name=first_name,
            username=username,
            language_code=language_code,
            last_name=last_name,
        )

    async def add_group(
        self,
        group_id: int,
        title: str = "Test group",
        *,
        supergroup: bool = False,
        username: str | None = None,
    ) -> JsonDict:
        """Create a group; return the Chat."""
        return await self._action(
            "groups", group_id=group_id, title=title, supergroup=supergroup, username=username
        )

    async def add_channel(
        self, channel_id: int, title: str = "Test channel", *, username: str | None = None
    ) -> JsonDict:
        """Create a channel; return the Chat."""
        return await self._action("channels", channel_id=channel_id, title=title, username=username)

    async def chats(self) -> list[JsonDict]:
        """Return every chat the emulator knows."""
        result: list[JsonDict] = await self._request("GET", "chats")
        return result

    # -- what users do ---------------------------------------------------------------------

    async def send_text(self, user_id: int, text: str, chat_id: int | None = None) -> JsonDict:
        """The user sends a text; return the update."""
        return await self._action("send_text", user_id=user_id, text=text, chat_id=chat_id)

    async def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        chat_id: int | None = None,
        forge: bool = False,
    ) -> JsonDict:
        """The user taps an inline button; return the callback_query update."""
        return await self._action(
            "press_button",
            user_id=user_id,
            message_id=message_id,
            data=data,
            chat_id=chat_id,
            forge=forge,
        )

    async def share_location(
        self, user_id: int, lat: float, lon: float, chat_id: int | None = None
    ) -> JsonDict:
        """The user shares a location; return the update."""
        return await self._action(
            "share_location", user_id=user_id, lat=lat, lon=lon, chat_id=chat_id
        )

    async def send_sticker(
        self, user_id: int, emoji: str = "👍", chat_id: int | None = None
    ) -> JsonDict:
        """The user sends a sticker; return the update."""
        return await self._action("send_sticker", user_id=user_id, emoji=emoji, chat_id=chat_id)

    async def send_photo(
        self, user_id: int, caption: str | None = None, chat_id: int | None = None
    ) -> JsonDict:
        """The user sends a photo; return the update."""
        return await self._action("send_photo", user_id=user_id, caption=caption, chat_id=chat_id)

    async def send_voice(
        self, user_id: int, duration: int = 3, chat_id: int | None = None
    ) -> JsonDict:
        """The user sends a voice note; return the update."""
        return await self._action("send_voice", user_id=user_id, duration=duration, chat_id=chat_id)

    async def send_contact(
        self, user_id: int, phone_number: str, chat_id: int | None = None
    ) -> JsonDict:
        """The user shares their contact; return the update."""
        return await self._action(
            "send_contact", user_id=user_id, phone_number=phone_number, chat_id=chat_id
        )

    async def edit_text(
        self, user_id: int, message_id: int, new_text: str, chat_id: int | None = None
    ) -> JsonDict:
        """The user edits a text; return the edited_message update."""
        return await self._action(
            "edit_text", user_id=user_id, message_id=message_id, new_text=new_text, chat_id=chat_id
        )

    async def channel_post(self, channel_id: int, text: str) -> JsonDict:
        """A channel post appears; return the update."""
        return await self._action("channel_post", channel_id=channel_id, text=text)

    async def group_text(self, group_id: int, user_id: int, text: str) -> JsonDict:
        """A group member writes; return the update."""
        return await self._action("group_text", group_id=group_id, user_id=user_id, text=text)

    async def block(self, user_id: int) -> JsonDict:
        """The user blocks the bot; return the my_chat_member update."""
        return await self._action("block", user_id=user_id)

    async def unblock(self, user_id: int) -> JsonDict:
        """The user unblocks the bot; return the my_chat_member update."""
        return await self._action("unblock", user_id=user_id)

    # -- what chats show -------------------------------------------------------------------

    async def messages(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        changed_after: int | None = None,
        wait: float | None = None,
        include_user: bool = False,
    ) -> list[ChatMessage]:
        """Return the chat's bot messages, optionally long-polling `wait` s for new ones."""
        query = {"include_user": "1" if include_user else "0"}
        for key, value in (("after", after), ("changed_after", changed_after), ("wait", wait)):
            if value is not None:
                query[key] = str(value)
        result = await self._request("GET", f"chats/{chat_id}/messages", query=query)
        return [ChatMessage.from_json(item) for item in result]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ChatMessage]:
        """Wait until the bot sent `count` more messages to the chat; return them."""
        body = {"count": count, "timeout": timeout}
        result = await self._request("POST", f"chats/{chat_id}/wait", body)
        return [ChatMessage.from_json(item) for item in result]

    async def callback_answer(self, callback_query_id: str) -> CallbackAnswer | None:
        """Return the bot's answer to a callback query, or None."""
        result = await self._request("GET", f"callbacks/{callback_query_id}")
        return None if result is None else CallbackAnswer(**result)

    async def wait_idle(self, quiet: float = 0.1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot fetched every update and went quiet."""
        await self._request("POST", "wait_idle", {"quiet": quiet, "timeout": timeout})

    async def requests(self, since: int = 0) -> list[JsonDict]:
        """Return the Bot API request log from index `since`."""
        result: list[JsonDict] = await self._request("GET", "requests", query={"since": str(since)})
        return result

    async def updates(self) -> list[JsonDict]:
        """Return updates the bot has not confirmed yet."""
        result: list[JsonDict] = await self._request("GET", "updates")
        return result

    # -- faults and housekeeping ------------------------------------------------------------

    async def inject(
        self,
        kind: str,
        method: str | None = None,
        chat_id: int | None = None,
        count: int | None = None,
        probability: float | None = None,
        retry_after: int = 1,
        delay: float = 1.0,
        status: int = 500,
    ) -> JsonDict:
        """Add a fault (see Emulator.inject); return it."""
        return await self._action(
            "faults",
            kind=kind,
            method=method,
            chat_id=chat_id,
            count=count,
            probability=probability,
            retry_after=retry_after,
            delay=delay,
            status=status,
        )

    async def faults(self) -> list[JsonDict]:
        """Return the active faults."""
        result: list[JsonDict] = await self._request("GET", "faults")
        return result

    async def clear_faults(self) -> None:
        """Remove every fault."""
        await self._request("DELETE", "faults")

    async def reset(self) -> None:
        """Forget all emulator state."""
        await self._request("POST", "reset")

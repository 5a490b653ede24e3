"""Limits that Telegram documents only in prose, checked on parsed JSON objects and texts."""

from __future__ import annotations

import re
from typing import Any

from bot.devtools.emulator.errors import bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
MAX_CALLBACK_DATA_BYTES = 64
MAX_COMMANDS = 100
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# InlineKeyboardButton: "Exactly one of the fields other than text, icon_custom_emoji_id, and
# style must be used to specify the type of the button."
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")


def check_object(type_name: str, value: dict[str, Any]) -> None:
    """Raise ApiError if a parsed object breaks a documented limit."""
    if type_name == "InlineKeyboardButton":
        _check_inline_button(value)
    elif type_name == "BotCommand":
        _check_command(value)


def _check_inline_button(button: dict[str, Any]) -> None:
    actions = [name for name in _BUTTON_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the fields "
            f"{', '.join(actions)} must be used"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not url.startswith(_URL_SCHEMES):
        raise bad_request("BUTTON_URL_INVALID")


def _check_command(command: dict[str, Any]) -> None:
    if not _COMMAND_RE.match(command["command"]):
        raise bad_request("BOT_COMMAND_INVALID")
    if not 1 <= len(command["description"]) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def check_text(text: str) -> None:
    """Raise Telegram's error for a message text that is empty or too long after parsing."""
    if not text.strip():
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")


def check_caption(caption: str) -> None:
    """Raise Telegram's error for a media caption over 1024 characters after parsing."""
    if len(caption) > MAX_CAPTION:
        raise bad_request("message caption is too long")

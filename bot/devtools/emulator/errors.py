"""Errors the emulator answers with, shaped like Telegram's own error responses."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Bot API failure: becomes `{"ok": false, "error_code": ..., "description": ...}`."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """Return the response body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    """Return a 400 error; Telegram prefixes every such description with "Bad Request: "."""
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    """Return a 403 error such as "Forbidden: bot was blocked by the user"."""
    return ApiError(403, f"Forbidden: {reason}")


class EmulatorError(ValueError):
    """A test or the terminal chat asked the emulator for something impossible."""


class UnknownObjectError(EmulatorError):
    """The user, chat, message or callback query asked about does not exist."""

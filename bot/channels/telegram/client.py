"""The aiogram Bot that Sabai talks through, and the token it uses with the local emulator.

Kept apart from `bot.wiring.app` so a process that only needs a client (the benchmarks' bare bot,
test workers) does not import the whole application.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout
from pydantic import BaseModel

_JSON_HEADERS = {"Content-Type": "application/json"}

# The emulator accepts any well-shaped token; this one is built, not written out,
# so nothing token-shaped sits in the repository.
EMULATOR_BOT_ID = 700000001


def emulator_token() -> str:
    """A token for the local emulator (not a secret: it opens nothing real)."""
    return f"{EMULATOR_BOT_ID}:" + "sabai-local-emulator-".ljust(35, "x")


class _Upload(Exception):
    """The call carries a file, so it has to go as multipart."""


def _json_value(value: Any, bot: Bot) -> Any:
    """A method field as plain JSON data: bot defaults filled in, unset fields left out."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Default):
        return _json_value(bot.default[value.name], bot)
    if isinstance(value, InputFile):
        raise _Upload
    if isinstance(value, BaseModel):
        return _json_value(value.model_dump(warnings=False), bot)
    if isinstance(value, dict):
        fields = ((key, _json_value(item, bot)) for key, item in value.items())
        return {key: item for key, item in fields if item is not None}
    if isinstance(value, (list, tuple)):
        items = (_json_value(item, bot) for item in value)
        return [item for item in items if item is not None]
    if isinstance(value, Enum):
        return _json_value(value.value, bot)
    if isinstance(value, timedelta):
        value = datetime.now(UTC) + value
    if isinstance(value, datetime):
        return round(value.timestamp())  # the Bot API takes Unix time
    raise TypeError(f"cannot send {type(value).__name__} to the Bot API")


class JsonBodySession(AiohttpSession):
    """Sends each Bot API call as a UTF-8 JSON body; a call that uploads a file goes as
    multipart, through aiogram's own request.

    Telegram takes either. aiogram's stock request is a urlencoded form, which spends 9 bytes
    on each Bangla letter where UTF-8 JSON spends 3.
    """

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        try:
            fields = _json_value(method.model_dump(warnings=False), bot)
        except _Upload:
            return await super().make_request(bot, method, timeout)
        body = json.dumps(fields, ensure_ascii=False).encode()
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=_JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as response:
                content = await response.text()
        except TimeoutError as error:
            raise TelegramNetworkError(method=method, message="Request timeout error") from error
        except ClientError as error:
            message = f"{type(error).__name__}: {error}"
            raise TelegramNetworkError(method=method, message=message) from error
        answer = self.check_response(
            bot=bot, method=method, status_code=response.status, content=content
        )
        return cast(TelegramType, answer.result)


def make_bot(token: str, api_url: str) -> Bot:
    """A real aiogram Bot talking to `api_url` (Telegram's or the emulator's)."""
    session = JsonBodySession(api=TelegramAPIServer.from_base(api_url))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))

"""The aiogram Bot that Sabai talks through, and the token it uses with the local emulator.

Kept apart from `bot.wiring.app` so a process that only needs a client (the benchmarks' bare bot,
test workers) does not import the whole application.
"""

from __future__ import annotations

import json
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout

_JSON_HEADERS = {"Content-Type": "application/json"}

# The emulator accepts any well-shaped token; this one is built, not written out,
# so nothing token-shaped sits in the repository.
EMULATOR_BOT_ID = 700000001


def emulator_token() -> str:
    """A token for the local emulator (not a secret: it opens nothing real)."""
    return f"{EMULATOR_BOT_ID}:" + "sabai-local-emulator-".ljust(35, "x")


class JsonBodySession(AiohttpSession):
    """Sends each Bot API call as a UTF-8 JSON body; a call that uploads a file goes as
    multipart, as aiogram sends every call.

    Telegram takes either. aiogram's form percent-encodes each byte, so a Bangla letter
    costs 9 bytes on the wire instead of 3, and building the form took about a quarter of
    the CPU aiogram spent on each call (py-spy over `bench/updates.py`).
    """

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        fields: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None:
                fields[key] = prepared
        if files:
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

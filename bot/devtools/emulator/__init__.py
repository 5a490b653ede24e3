"""A local Telegram Bot API emulator for tests, benchmarks and the terminal chat.

`EmulatorServer` serves the Bot API on 127.0.0.1 so a real aiogram Bot can talk to it;
`Emulator` is the in-process API that plays the users and inspects the chats; `EmulatorClient`
drives an emulator in another process through the control API described in control.py.
Nothing here runs at import time; the API description (bot-api.json) loads on first use.
"""

from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.emulator.emulator import Emulator
from bot.devtools.emulator.errors import ApiError, EmulatorError, UnknownObjectError
from bot.devtools.emulator.faults import Fault
from bot.devtools.emulator.server import EmulatorServer, serve
from bot.devtools.emulator.state import CallbackAnswer, ChatMessage, RequestRecord

__all__ = [
    "ApiError",
    "CallbackAnswer",
    "ChatMessage",
    "Emulator",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorServer",
    "Fault",
    "RequestRecord",
    "UnknownObjectError",
    "serve",
]

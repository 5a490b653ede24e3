"""Control HTTP API of the emulator, for the terminal chat and tests that run the bot elsewhere.

Everything lives under `{base_url}/_emulator/`, takes JSON and answers
`{"ok": true, "result": ...}`, or `{"ok": false, "error": "..."}` with status 400 (bad request
to the emulator), 404 (unknown chat, user or message) or 504 (a wait timed out).

People and chats (body fields mirror the Emulator methods of the same name):
    POST /_emulator/users        {user_id, first_name?, username?, language_code?, last_name?}
    POST /_emulator/groups       {group_id, title?, supergroup?, username?}
    POST /_emulator/channels     {channel_id, title?, username?}
    GET  /_emulator/chats        -> [Chat, ...]

What users do (each returns the update it created):
    POST /_emulator/send_text       {user_id, text, chat_id?}
    POST /_emulator/press_button    {user_id, message_id, data, chat_id?, forge?}
    POST /_emulator/share_location  {user_id, lat, lon, chat_id?}
    POST /_emulator/send_sticker    {user_id, emoji?, chat_id?}
    POST /_emulator/send_photo      {user_id, caption?, size?, chat_id?}
    POST /_emulator/send_voice      {user_id, duration?, size?, chat_id?}
    POST /_emulator/send_contact    {user_id, phone_number, first_name?, chat_id?}
    POST /_emulator/edit_text       {user_id, message_id, new_text, chat_id?}
    POST /_emulator/channel_post    {channel_id, text}
    POST /_emulator/group_text      {group_id, user_id, text}
    POST /_emulator/raw_update      {update}  (queued as given, even if malformed)
    POST /_emulator/block           {user_id}   (the user blocks the bot)
    POST /_emulator/unblock         {user_id}

What chats show:
    GET  /_emulator/chats/{chat_id}/messages?after=ID&changed_after=SEQ&wait=S&include_user=1
         -> [ChatMessage, ...]: bot messages with message_id > after (or changed, i.e. new,
         edited or deleted, after sequence number SEQ; each message carries its `seq`). With
         `wait`, long-polls up to S seconds and returns as soon as the list is not empty.
    POST /_emulator/chats/{chat_id}/wait   {count?, timeout?}  -> wait_for_messages
    GET  /_emulator/callbacks/{callback_query_id}              -> answer or null
    POST /_emulator/wait_idle              {quiet?, timeout?}
    GET  /_emulator/requests?since=N       -> Bot API request log from index N
    GET  /_emulator/updates                -> updates not yet confirmed by the bot

Faults and housekeeping:
    POST   /_emulator/faults  {kind, method?, chat_id?, count?, probability?, retry_after?,
                               delay?, status?}  -> the fault
    GET    /_emulator/faults
    DELETE /_emulator/faults
    POST   /_emulator/reset
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.devtools.emulator.emulator import Emulator
from bot.devtools.emulator.errors import EmulatorError, UnknownObjectError
from bot.devtools.emulator.state import ChatMessage

PREFIX = "/_emulator"
_ACTIONS = (
    "send_text",
    "press_button",
    "share_location",
    "send_sticker",
    "send_photo",
    "send_voice",
    "send_contact",
    "edit_text",
    "channel_post",
    "group_text",
    "raw_update",
)

Route = Callable[[web.Request], Awaitable[Any]]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _fail(status: int, error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def _endpoint(route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Wrap a route: JSON result in, emulator errors out as JSON."""

    async def handler(request: web.Request) -> web.Response:
        try:
            return _ok(await route(request))
        except UnknownObjectError as error:
            return _fail(404, str(error))
        except EmulatorError as error:
            return _fail(400, str(error))
        except TimeoutError as error:
            return _fail(504, str(error))

    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise EmulatorError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise EmulatorError("the body must be a JSON object")
    return body


def _call(function: Callable[..., Any], body: dict[str, Any]) -> Any:
    """Call an Emulator method with JSON fields as keyword arguments, naming bad arguments."""
    try:
        inspect.signature(function).bind(**body)
    except TypeError as error:
        raise EmulatorError(f"{function.__name__}: {error}") from None
    return function(**body)


def _number(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise EmulatorError(f"{name} must be a number") from None


def add_routes(app: web.Application, emulator: Emulator) -> None:
    """Mount the control API on `app`."""

    def action(name: str) -> Route:
        async def route(request: web.Request) -> Any:
            return _call(getattr(emulator, name), await _body(request))

        return route

    async def add_user(request: web.Request) -> Any:
        return _call(emulator.add_user, await _body(request))

    async def add_group(request: web.Request) -> Any:
        return _call(emulator.add_group, await _body(request))

    async def add_channel(request: web.Request) -> Any:
        return _call(emulator.add_channel, await _body(request))

    async def chats(request: web.Request) -> Any:
        return [chat.chat for chat in emulator.state.chats.values()]

    async def block(request: web.Request) -> Any:
        return _call(emulator.bot_blocked_by, await _body(request))

    async def unblock(request: web.Request) -> Any:
        return _call(emulator.bot_unblocked_by, await _body(request))

    async def messages(request: web.Request) -> Any:
        chat_id = _chat_id(request)
        after = _number(request, "after")
        changed_after = _number(request, "changed_after")
        include_user = request.query.get("include_user", "") in ("1", "true")

        def select() -> list[ChatMessage]:
            found = emulator.messages(chat_id, include_user=include_user)
            if after is not None:
                found = [m for m in found if m.message_id > after]
            if changed_after is not None:
                found = [m for m in found if m.seq > changed_after]
            return found

        wait = _number(request, "wait") or 0.0
        found = await emulator.wait_until(lambda: select() or None, min(wait, 60.0)) or []
        return [m.to_json() for m in found]

    async def wait_messages(request: web.Request) -> Any:
        body = await _body(request)
        found = await _call(emulator.wait_for_messages, {"chat_id": _chat_id(request), **body})
        return [m.to_json() for m in found]

    async def callback(request: web.Request) -> Any:
        answer = emulator.callback_answer(request.match_info["query_id"])
        return None if answer is None else dataclasses.asdict(answer)

    async def wait_idle(request: web.Request) -> Any:
        await _call(emulator.wait_idle, await _body(request))
        return True

    async def requests(request: web.Request) -> Any:
        since = int(_number(request, "since") or 0)
        return [record.to_json() for record in emulator.state.requests[since:]]

    async def updates(request: web.Request) -> Any:
        return emulator.updates

    async def add_fault(request: web.Request) -> Any:
        return _call(emulator.inject, await _body(request)).to_json()

    async def list_faults(request: web.Request) -> Any:
        return [fault.to_json() for fault in emulator.faults]

    async def clear_faults(request: web.Request) -> Any:
        emulator.clear_faults()
        return True

    async def reset(request: web.Request) -> Any:
        emulator.reset()
        return True

    routes: list[tuple[str, str, Route]] = [
        ("POST", "/users", add_user),
        ("POST", "/groups", add_group),
        ("POST", "/channels", add_channel),
        ("GET", "/chats", chats),
        ("POST", "/block", block),
        ("POST", "/unblock", unblock),
        ("GET", "/chats/{chat_id}/messages", messages),
        ("POST", "/chats/{chat_id}/wait", wait_messages),
        ("GET", "/callbacks/{query_id}", callback),
        ("POST", "/wait_idle", wait_idle),
        ("GET", "/requests", requests),
        ("GET", "/updates", updates),
        ("POST", "/faults", add_fault),
        ("GET", "/faults", list_faults),
        ("DELETE", "/faults", clear_faults),
        ("POST", "/reset", reset),
        *(("POST", f"/{name}", action(name)) for name in _ACTIONS),
    ]
    for method, path, route in routes:
        app.router.add_route(method, PREFIX + path, _endpoint(route))


def _chat_id(request: web.Request) -> int:
    try:
        return int(request.match_info["chat_id"])
    except ValueError:
        raise EmulatorError("chat_id must be an integer") from None

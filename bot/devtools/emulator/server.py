"""The emulator's HTTP side: the Bot API at /bot{token}/{method}, webhooks, and the runner.

Point aiogram at it with
`Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))`.
The control API for tests and the terminal chat is mounted under /_emulator/ (see control.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from types import TracebackType
from typing import Any

from aiohttp import (
    BodyPartReader,
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    web,
)

from bot.core.startup import port_in_use
from bot.devtools.emulator import control
from bot.devtools.emulator.emulator import Emulator
from bot.devtools.emulator.errors import ApiError, bad_request
from bot.devtools.emulator.spec import UploadedFile
from bot.devtools.emulator.state import EmulatorState, JsonDict

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{35}$")
EMULATOR_KEY = web.AppKey("emulator", Emulator)
_MAX_BODY = 55 * 1024 * 1024  # Telegram accepts uploads up to 50 MB
_WEBHOOK_TIMEOUT = ClientTimeout(total=10)


def build_app(emulator: Emulator) -> web.Application:
    """Return the aiohttp application serving the Bot API and the control API."""
    app = web.Application(client_max_size=_MAX_BODY)
    app[EMULATOR_KEY] = emulator
    app.router.add_route("*", "/bot{token}/{method}", _bot_api)
    control.add_routes(app, emulator)
    return app


async def _bot_api(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    token = request.match_info["token"]
    if not TOKEN_RE.match(token):
        return _json(ApiError(401, "Unauthorized").to_json(), 401)
    try:
        raw, files = await _read_params(request)
    except ApiError as error:
        return _json(error.to_json(), error.error_code)
    status, body = await emulator.call_api(
        request.match_info["method"], raw, files, token=token, copy_result=False
    )
    return _json(body, status)  # serialised here, before the state can change


def _json(body: JsonDict, status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Collect parameters from the query string and a form, multipart or JSON body."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method not in ("POST", "PUT") or not request.can_read_body:
        return raw, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON body must be an object")
        raw.update(body)
    elif request.content_type == "multipart/form-data":
        await _read_form(await request.multipart(), raw, files)
    else:
        form = await request.post()
        raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    return raw, files


async def _read_form(
    reader: MultipartReader, params: dict[str, Any], files: dict[str, UploadedFile]
) -> None:
    """Fields into `params`, uploads (their name, type and size) into `files`."""
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            data = await part.read()
            content_type = part.headers.get("Content-Type", "")
            files[part.name] = UploadedFile(part.filename, content_type, len(data))
        else:
            params[part.name] = await part.text()


class EmulatorServer:
    """Run an Emulator behind HTTP on 127.0.0.1; an async context manager."""

    def __init__(self, emulator: Emulator | None = None) -> None:
        self.emulator = emulator if emulator is not None else Emulator()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._host = "127.0.0.1"
        self._webhook_task: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
        """Bind and serve; port 0 picks a free port (see base_url)."""
        runner = web.AppRunner(build_app(self.emulator), shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        self.emulator.state.closing = False
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            fix = (
                "stop the other program, or choose another port "
                "([emulator] port in config.toml, or `sabai emulator --port`)"
            )
            raise port_in_use(host, port, exc, fix) from exc
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        log.info("Bot API emulator listening on %s", self.base_url)
        return self

    @property
    def base_url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:PORT (for TelegramAPIServer.from_base)."""
        if self._runner is None:
            raise RuntimeError("the emulator server is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def stop(self) -> None:
        """Stop serving; pending long polls return at once."""
        self.emulator.state.closing = True
        self.emulator.state.notify()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> EmulatorServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _deliver_webhooks(self) -> None:
        """POST queued updates to the webhook while one is set, as Telegram does: up to the
        webhook's max_connections at once, but one person's updates one at a time, in order,
        each only after the one before was answered with 2xx."""
        async with ClientSession(timeout=_WEBHOOK_TIMEOUT) as session:
            posting: dict[object, asyncio.Task[None]] = {}
            try:
                # Python 3.11's wait_for can swallow a cancel that races a wake-up, so the
                # loop also ends on its own once the server is closing.
                while not self.emulator.state.closing:
                    state = self.emulator.state
                    for key in [k for k, task in posting.items() if task.done()]:
                        del posting[key]
                    # Filtering only while a webhook is set: in polling mode this loop wakes on
                    # every change and must not walk the whole queue each time.
                    if not state.webhook.url or not state.pending:
                        await state.changed(1.0)
                        continue
                    state.pending = [u for u in state.pending if state.allowed(u)]
                    started = False
                    for update in list(state.pending):
                        if len(posting) >= state.webhook.max_connections:
                            break
                        key = _sender_key(update)
                        if key in posting:
                            continue
                        posting[key] = asyncio.create_task(self._deliver(session, state, update))
                        started = True
                    if not started:
                        await state.changed(0.05)
            finally:
                for task in posting.values():
                    task.cancel()
                await asyncio.gather(*posting.values(), return_exceptions=True)

    async def _deliver(
        self, session: ClientSession, state: EmulatorState, update: JsonDict
    ) -> None:
        """Post one update until it is answered with 2xx, backing off after each failure."""
        backoff = 0.1
        while not state.closing and state is self.emulator.state and update in state.pending:
            error = await self._post_update(session, update)
            if state is not self.emulator.state:
                return  # reset while posting
            if error is None:
                if update in state.pending:
                    state.pending.remove(update)
                state.mark_delivered([update])
                return
            state.webhook.last_error_date = state.now()
            state.webhook.last_error_message = error
            state.notify()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _post_update(self, session: ClientSession, update: JsonDict) -> str | None:
        """Deliver one update; return Telegram's error text, or None on success."""
        webhook = self.emulator.state.webhook
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with session.post(webhook.url, json=update, headers=headers) as response:
                if not 200 <= response.status < 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                answer = await webhook_answer(response)
        except (ClientError, TimeoutError) as failure:
            return f"Connection failed: {type(failure).__name__}"
        if answer is not None:
            method, params, files = answer
            await self.emulator.call_api(method, params, files)
        return None


WebhookAnswer = tuple[str, dict[str, Any], dict[str, UploadedFile]]


async def webhook_answer(response: ClientResponse) -> WebhookAnswer | None:
    """A method the bot put in its webhook answer (JSON or a multipart form, as aiogram
    writes it), which Telegram carries out as if it had been called."""
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    if response.content_type == "multipart/form-data":
        await _read_form(MultipartReader(response.headers, response.content), params, files)
    else:
        body = await response.read()
        try:
            reply = json.loads(body) if body.strip() else None
        except ValueError:
            return None
        if not isinstance(reply, dict):
            return None
        params = reply
    method = params.pop("method", None)
    if not isinstance(method, str):
        return None
    return method, params, files


def _sender_key(update: JsonDict) -> object:
    """Whose update this is (the sender, else the chat); updates of one key go in order."""
    for value in update.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and "id" in sender:
                return ("user", sender["id"])
            chat = value.get("chat")
            if isinstance(chat, dict) and "id" in chat:
                return ("chat", chat["id"])
    return ("update", update.get("update_id"))


async def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    *,
    emulator: Emulator | None = None,
) -> None:
    """Run the emulator until cancelled (for `sabai emulator`)."""
    server = EmulatorServer(emulator)
    await server.start(host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()

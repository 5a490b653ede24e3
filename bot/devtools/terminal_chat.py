"""Talk to the bot as a resident, in a terminal, through the emulator's control API.

The person types lines; plain text goes to the bot exactly as Telegram would send it, a bare
number presses that button of the latest message with buttons, and a few local commands
(`/location`, `/sticker`, `/photo`, `/quit`, `/help-chat`) do what a phone would. What the bot
sends, edits or deletes is shown as it happens, by long-polling the chat for changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from aiohttp import ClientError

from bot.devtools.chat_render import choices_of, excerpt, render_message
from bot.devtools.emulator.client import EmulatorClient
from bot.devtools.emulator.errors import EmulatorError
from bot.devtools.emulator.state import ChatMessage, JsonDict

T = TypeVar("T")
DEFAULT_USER_ID = 100_001
_POLL_WAIT = 20.0  # seconds one long poll of the chat may take
_ANSWER_WAIT = 5.0  # how long to look for the bot's answer to a button press
_SETTLE_TIMEOUT = 10.0  # scripted input: longest wait for the bot to go quiet after a line
_SETTLE_GRACE = 2.0  # scripted input: extra wait for a first answer when none came yet
_BANGLA_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")

BANNER = """\
Sabai terminal chat: you are a resident talking to the bot (user {user_id}, bot {bot_id}).
Type a message and press Enter. A number presses that button; /help-chat lists local commands;
/quit or Ctrl-D leaves.
Sabai টার্মিনাল চ্যাট: লিখে Enter চাপুন। বোতাম চাপতে তার নম্বর লিখুন। বের হতে /quit লিখুন।
"""

LOCAL_HELP = """\
Local commands (not sent to the bot):
  N                 press button N of the latest message with buttons (১, ২… work too)
  /location LAT LON share a location, e.g. /location 24.49 91.77
  /sticker          send a sticker
  /photo [CAPTION]  send a photo
  /help-chat        show this list
  /quit             leave the chat (Ctrl-D or Ctrl-C too)
Anything else, /start and /help included, is sent to the bot as text.
"""


class EmulatorGone(Exception):
    """The emulator stopped answering."""


# -- reading lines without blocking the event loop --------------------------------------------


class LineReader:
    """Deliver input lines to the event loop; None means end of input.

    A terminal or pipe is watched with the loop's reader (nothing to clean up on exit); any
    other stream (a file, a test's fake) is read line by line in a daemon thread.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = None
        self._buffer = b""
        self._eof = False
        self._start()

    def _start(self) -> None:
        try:
            fd = self._stream.fileno()
            self._loop.add_reader(fd, self._readable)
        except (AttributeError, OSError, ValueError, NotImplementedError):
            thread = threading.Thread(target=self._read_lines, name="terminal-chat-input")
            thread.daemon = True  # a blocked readline must not keep the process alive
            thread.start()
            return
        self._fd = fd

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            chunk = os.read(self._fd, 65_536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._finish()
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._lines.put_nowait(line.decode("utf-8", errors="replace") + "\n")

    def _finish(self) -> None:
        if self._buffer:
            self._lines.put_nowait(self._buffer.decode("utf-8", errors="replace"))
            self._buffer = b""
        self._lines.put_nowait(None)
        self.close()

    def _read_lines(self) -> None:
        while True:
            try:
                line = self._stream.readline()
            except (OSError, ValueError):
                line = ""
            try:
                self._loop.call_soon_threadsafe(self._lines.put_nowait, line or None)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return
            if not line:
                return

    async def readline(self) -> str | None:
        """Return the next line (with its newline), or None at end of input."""
        if self._eof:
            return None
        line = await self._lines.get()
        self._eof = line is None
        return line

    def close(self) -> None:
        """Stop watching the stream."""
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None


# -- the chat ---------------------------------------------------------------------------------


@dataclass
class TerminalChat:
    """One resident's chat with the bot, shown on `out`."""

    client: EmulatorClient
    user_id: int
    bot_id: int
    out: TextIO
    interactive: bool  # a person types (a TTY), rather than a script feeding lines
    styled: bool = False
    width: int = 0
    seq: int = 0  # highest change sequence number shown so far
    shown: dict[int, ChatMessage] = field(default_factory=dict)
    changes: int = 0  # how many changes were shown: scripted input waits for it to move
    sent: int = 0  # how many things the person sent to the bot
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def prompt(self) -> None:
        if self.interactive:
            self.write("› ")

    def _noted(self) -> None:
        self.changes += 1
        self.changed.set()

    # -- what the bot does --------------------------------------------------------------------

    async def watch(self) -> None:
        """Show new, edited and deleted bot messages as they happen, until cancelled."""
        while True:
            found = await self._guard(
                self.client.messages(self.user_id, changed_after=self.seq, wait=_POLL_WAIT)
            )
            for message in sorted(found, key=lambda m: m.seq):
                self.seq = max(self.seq, message.seq)
                self.show(message)

    def show(self, message: ChatMessage) -> None:
        """Write one new or changed bot message."""
        before = self.shown.get(message.message_id)
        self.shown[message.message_id] = message
        if message.deleted:
            if before is None or before.deleted:
                return
            text = f"(Sabai deleted a message: “{excerpt(before.text)}”)\n"
        else:
            text = render_message(message, self.width, self.styled, edited=before is not None)
        self.write(("\r" if self.interactive else "") + text)
        self.prompt()
        self._noted()

    def latest_with_buttons(self) -> int | None:
        """Return the id of the latest shown message that has buttons."""
        for message_id in sorted(self.shown, reverse=True):
            message = self.shown[message_id]
            if not message.deleted and choices_of(message):
                return message_id
        return None

    async def show_answer(self, query_id: str) -> None:
        """Show the bot's toast or alert for a button press, if it gives one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _ANSWER_WAIT
        while loop.time() < deadline:
            answer = await self._guard(self.client.callback_answer(query_id))
            if answer is not None:
                if answer.text:
                    kind = "alert" if answer.show_alert else "notice"
                    self.write(f"({kind}) {answer.text}\n")
                    self.prompt()
                    self._noted()
                return
            await asyncio.sleep(0.1)

    # -- what the person does -----------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one typed line; return False when the person leaves."""
        text = line.rstrip("\r\n")
        stripped = text.strip()
        if not stripped:
            self.prompt()
            return True
        command, _, rest = stripped.partition(" ")
        if command == "/quit":
            return False
        if command == "/help-chat":
            self.write(LOCAL_HELP)
            self.prompt()
            return True
        if command == "/location":
            await self._location(rest)
            return True
        if command == "/sticker":
            await self._act(self.client.send_sticker(self.user_id))
            return True
        if command == "/photo":
            await self._act(self.client.send_photo(self.user_id, caption=rest.strip() or None))
            return True
        number = stripped.translate(_BANGLA_DIGITS)
        if number.isascii() and number.isdigit() and await self._press(int(number)):
            return True
        await self._act(self.client.send_text(self.user_id, text))
        return True

    async def _press(self, number: int) -> bool:
        """Press button `number` of the latest message with buttons; False if there is none."""
        message_id = self.latest_with_buttons()
        if message_id is None:
            return False
        choices = [c for row in choices_of(self.shown[message_id]) for c in row]
        if not 1 <= number <= len(choices):
            return False
        choice = choices[number - 1]
        if choice.data is None:
            self.write(f"(button {number} opens {choice.url or 'something this chat cannot'})\n")
            self.prompt()
            return True
        try:
            update = await self._act(
                self.client.press_button(self.user_id, message_id, choice.data)
            )
        except EmulatorError as error:
            self.write(f"(could not press button {number}: {error})\n")
            self.prompt()
            return True
        task = asyncio.create_task(self.show_answer(str(update["callback_query"]["id"])))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return True

    async def _location(self, rest: str) -> None:
        parts = rest.replace(",", " ").split()
        try:
            lat, lon = (float(part) for part in parts)
        except ValueError:
            self.write("(usage: /location LAT LON, e.g. /location 24.49 91.77)\n")
            self.prompt()
            return
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.write("(latitude must be within ±90 and longitude within ±180)\n")
            self.prompt()
            return
        await self._act(self.client.share_location(self.user_id, lat, lon))

    async def settle(self, changes_before: int, sent_before: int) -> None:
        """Wait until the bot has answered the last line and gone quiet (scripted input).

        Nothing to wait for when the line stayed local. Otherwise: until the bot fetched the
        update and made no request for a moment; if nothing was shown yet (a slow handler),
        a little longer for its first message.
        """
        if self.sent == sent_before:
            return
        await self._idle()
        if self.changes == changes_before:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), _SETTLE_GRACE)
            await self._idle()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self._guard(self.client.wait_idle(quiet=0.3, timeout=_SETTLE_TIMEOUT))

    async def _act(self, call: Awaitable[JsonDict]) -> JsonDict:
        """Do something the bot will see; return the update it made."""
        update = await self._guard(call)
        self.sent += 1
        return update

    async def _guard(self, call: Awaitable[T]) -> T:
        """Await a control API call, turning a vanished emulator into EmulatorGone."""
        try:
            return await call
        except (ClientError, ConnectionError) as error:
            raise EmulatorGone(str(error) or type(error).__name__) from error


async def run_chat(
    base_url: str,
    user_id: int | None,
    bot_id: int,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    first_name: str = "Resident",
) -> None:
    """Chat with the bot behind the emulator at `base_url` as a resident, until /quit or EOF."""
    source = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    interactive = _isatty(source)
    tty_out = _isatty(out)
    user = user_id if user_id is not None else DEFAULT_USER_ID
    client = EmulatorClient(base_url)
    chat = TerminalChat(
        client=client,
        user_id=user,
        bot_id=bot_id,
        out=out,
        interactive=interactive and tty_out,
        styled=tty_out and "NO_COLOR" not in os.environ,
        width=shutil.get_terminal_size().columns if tty_out else 0,
    )
    chat.write(BANNER.format(user_id=user, bot_id=bot_id))
    reader = LineReader(source)
    watcher: asyncio.Task[None] | None = None
    interrupt = _Interrupt(asyncio.current_task())
    try:
        with interrupt:
            await chat._guard(client.add_user(user, first_name=first_name))
            watcher = asyncio.create_task(chat.watch())
            await _converse(chat, reader, watcher)
    except EmulatorGone as gone:
        chat.write(f"\nThe emulator at {base_url} is not answering ({gone}); leaving the chat.\n")
    except asyncio.CancelledError:
        if not interrupt.hit:
            raise
        interrupt.absorb()
        chat.write("\n")
    finally:
        reader.close()
        pending = [task for task in (watcher, *chat.tasks) if task is not None]
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, EmulatorGone):
                await task
        await client.close()
    chat.write("Bye. / বিদায়।\n")


async def _converse(chat: TerminalChat, reader: LineReader, watcher: asyncio.Task[None]) -> None:
    """Send /start, then act on each line until the person leaves or the emulator goes away."""
    chat.write("you: /start\n")
    before = chat.changes, chat.sent
    await chat.handle("/start")
    await chat.settle(*before)
    while True:
        line = await _next_line(reader, watcher)
        if line is None:
            return
        if not chat.interactive:
            chat.write("you: " + line.rstrip("\r\n") + "\n")
        before = chat.changes, chat.sent
        if not await chat.handle(line):
            return
        if not chat.interactive:
            await chat.settle(*before)


async def _next_line(reader: LineReader, watcher: asyncio.Task[None]) -> str | None:
    """Return the next typed line; raise the watcher's error if it stops first."""
    reading = asyncio.ensure_future(reader.readline())
    try:
        await asyncio.wait({reading, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        reading.cancel()
        raise
    if reading.done():
        return reading.result()
    reading.cancel()
    watcher.result()  # raises EmulatorGone (or whatever stopped it)
    raise EmulatorGone("the chat watcher stopped")


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class _Interrupt:
    """While chatting, make Ctrl-C end the chat (cancel the chat's task), not the program."""

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.hit = False
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
        if self.task is None or threading.current_thread() is not threading.main_thread():
            return self
        self._previous = signal.getsignal(signal.SIGINT)
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._interrupt)
        except (NotImplementedError, RuntimeError, ValueError):
            return self
        self._installed = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._installed:
            return
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        self._installed = False

    def _interrupt(self) -> None:
        if self.task is not None and not self.hit:
            self.hit = True
            self.task.cancel()

    def absorb(self) -> None:
        """Forget the cancellation Ctrl-C caused: leaving the chat is a normal end."""
        if self.task is not None:
            self.task.uncancel()

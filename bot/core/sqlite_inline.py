"""SQLite for SQLAlchemy's asyncio API without a thread per connection.

aiosqlite runs every call on a thread of its own and hands each result back to the event
loop. For the statements Sabai runs per update (a primary-key read, an insert, a small
update, each some tens of microseconds in SQLite) that hand-off costs several times the
statement: a queue put, a thread wake-up, a write to the loop's self-pipe, a loop wake-up
(`bench/transaction.py`, `bench/updates.py`). This module gives SQLAlchemy's aiosqlite
dialect (through `create_async_engine(async_creator=...)`) a connection whose coroutines run
the sqlite3 call in place, so the common case never leaves the event loop.

What a thread used to hide, handled here:
- Another connection holding the write lock. The connection's own busy timeout is 0, so
  SQLite reports "database is locked" at once instead of sleeping on the loop (which would
  also stall the coroutine that holds the lock). The statement then waits with
  `asyncio.sleep` and runs again, until `busy_timeout` seconds have passed. It is retried
  only where SQLite's own busy handler would wait: a statement that starts the transaction
  and changed nothing yet, or a commit. A statement inside a transaction that already read
  fails at once, as SQLite does there, since waiting could deadlock two writers.
- Back-to-back statements never suspend, so every `TURN_SECONDS` one of them waits a loop
  turn first: a job that only talks to the database lets updates in between.
- A long statement now holds the loop while it runs: a coordinator's reach report over
  100,000 residents (about 50 ms), a WAL checkpoint inside a commit. Everything else in the
  process waits that long, so long jobs work in batches and yield in between (the reach
  rollups' catch-up does); README ("Design notes") says when PostgreSQL is the better choice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import dialect as AIOSQLITE
from sqlalchemy.engine import URL

# Lock conflicts that clear once the other connection finishes. BUSY_SNAPSHOT (this
# connection's snapshot went stale before it could write) never clears by waiting.
RETRYABLE = frozenset({"SQLITE_BUSY", "SQLITE_BUSY_RECOVERY"})
FIRST_WAIT = 0.001
LONGEST_WAIT = 0.05
# Longest stretch of back-to-back statements before the loop gets a turn.
TURN_SECONDS = 0.02


def _locked(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorname", None) in RETRYABLE


class _Turns:
    """When statements last let the rest of the process run."""

    yielded = 0.0


async def _take_turns() -> None:
    # An inline call never suspends, so a job that only talks to the database (queueing an
    # alert for 100,000 residents, a retention sweep) would hold the loop from its first
    # statement to its last. Every so often a statement waits one loop turn first.
    now = time.monotonic()
    if now - _Turns.yielded >= TURN_SECONDS:
        _Turns.yielded = now
        await asyncio.sleep(0)


async def _retrying(
    call: Callable[[], Any], busy_timeout: float, may_retry: Callable[[], bool]
) -> Any:
    await _take_turns()
    deadline = time.monotonic() + busy_timeout
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if not _locked(error) or not may_retry() or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


class InlineCursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy's adapter uses, run in place."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor: sqlite3.Cursor | None = None

    @property
    def _open(self) -> sqlite3.Cursor:
        if self._cursor is None:
            raise ValueError("Connection closed")
        return self._cursor

    async def __aenter__(self) -> InlineCursor:
        # Opened here, not in `connection.cursor()`: SQLAlchemy's adapter turns an error
        # raised in here ("Connection closed") into a disconnect, as it does for aiosqlite.
        self._cursor = self._connection._open().cursor()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _run(self, call: Callable[[], Any]) -> InlineCursor:
        conn = self._connection._open()
        # Safe to run again only if SQLite undid all of it: nothing was in a transaction
        # before (a write that starts one waits for the lock like SQLite's own busy
        # handler) and no row has changed since (executemany can fail part-way through).
        fresh = not conn.in_transaction
        changes = conn.total_changes
        await _retrying(
            call,
            self._connection.busy_timeout,
            lambda: fresh and conn.total_changes == changes,
        )
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self._open
        if parameters is None:
            return await self._run(lambda: cursor.execute(sql))
        return await self._run(lambda: cursor.execute(sql, parameters))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        cursor = self._open
        every = list(rows)  # an iterator would be used up by a failed first attempt
        return await self._run(lambda: cursor.executemany(sql, every))

    async def fetchone(self) -> Any:
        return self._open.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        await _take_turns()  # streamed results (`yield_per`) come in many such calls
        if size is None:
            return self._open.fetchmany()
        return self._open.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._open.fetchall()

    async def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._open.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._open.description

    @property
    def rowcount(self) -> int:
        return self._open.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._open.lastrowid

    @property
    def arraysize(self) -> int:
        return self._open.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._open.arraysize = value


class _Immediate:
    """Stands in for aiosqlite's work queue: SQLAlchemy's isolation-level setter puts a
    (future, function) pair on it; here the function runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # handed to whoever awaits the future
            future.set_exception(error)


class InlineConnection:
    """The part of `aiosqlite.Connection` SQLAlchemy's adapter uses, run in place."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.busy_timeout = busy_timeout
        self._tx = _Immediate()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy checks it to skip commit/rollback on a closed connection.
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = await self.cursor().__aenter__()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        # SQLite's busy handler waits for a commit's locks too (rollback-journal mode).
        await _retrying(self._open().commit, self.busy_timeout, lambda: True)

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._open().isolation_level = value  # type: ignore[assignment]  # sqlite3 checks it


def connector(url: URL, default_timeout: float) -> Callable[[], Awaitable[InlineConnection]]:
    """An `async_creator` for `create_async_engine`: opens the URL's database with no thread.

    SQLAlchemy does not apply URL options to a creator, so they are read here the way its
    sqlite dialect reads them; `timeout` becomes the busy wait described above.
    """
    args, options = AIOSQLITE().create_connect_args(url)
    options = dict(options)
    busy_timeout = float(options.pop("timeout", default_timeout))
    options["check_same_thread"] = False
    database = args[0] if args else ":memory:"

    async def connect() -> InlineConnection:
        conn = sqlite3.connect(database, timeout=0, **options)
        return InlineConnection(conn, busy_timeout)

    return connect

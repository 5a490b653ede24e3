"""SQLite for SQLAlchemy's asyncio API without a thread per connection.

aiosqlite runs every call on a thread of its own and hands each result back to the event
loop. For the statements Sabai runs per update (a primary-key read, an insert, a small
update, each some tens of microseconds in SQLite) that hand-off costs several times the
statement: a queue put, a thread wake-up, a write to the loop's self-pipe, a loop wake-up
(`bench/transaction.py`, `bench/updates.py`). This module gives SQLAlchemy's aiosqlite
dialect (through `create_async_engine(async_creator=...)`) a connection whose coroutines run
the sqlite3 call in place, so the common case never leaves the event loop.

What a thread used to hide, handled here:
- Another connection holding the write lock. The connection's own busy timeout is 0, and a
  statement that finds the database locked waits with `asyncio.sleep` and tries again, so
  the loop keeps serving the writer that holds the lock (blocking there would wait on
  ourselves). It gives up after `busy_timeout` seconds, as sqlite3's own timeout would.
- A long query (a reach report over 100,000 residents, ~50 ms) runs on the loop; the heavy
  periodic jobs are the ones that would notice, and they run rarely (see README, "Database").
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import dialect as AIOSQLITE
from sqlalchemy.engine import URL

# A plain "database is locked" can clear when the other writer commits; BUSY_SNAPSHOT (a
# read snapshot that became stale before writing) and others cannot, so they fail at once.
RETRYABLE = frozenset({"SQLITE_BUSY"})
FIRST_WAIT = 0.001
LONGEST_WAIT = 0.05


async def _retrying(call: Callable[[], Any], busy_timeout: float) -> Any:
    deadline = time.monotonic() + busy_timeout
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", None) not in RETRYABLE:
                raise
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)


class InlineCursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy's adapter uses, run in place."""

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        run = self._cursor.execute
        await _retrying(
            (lambda: run(sql)) if parameters is None else (lambda: run(sql, parameters)),
            self._busy_timeout,
        )
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        rows = list(rows)  # a retry must see every row again
        await _retrying(lambda: self._cursor.executemany(sql, rows), self._busy_timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Immediate:
    """Stands in for aiosqlite's work queue: SQLAlchemy's isolation-level setter puts a
    (future, function) pair on it; here the function runs at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineConnection:
    """The part of `aiosqlite.Connection` SQLAlchemy's adapter uses, run in place."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._busy_timeout = busy_timeout
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
        return InlineCursor(self._open().cursor(), self._busy_timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        await _retrying(self._open().commit, self._busy_timeout)

    async def rollback(self) -> None:
        self._open().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

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

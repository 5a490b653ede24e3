"""Signed button data, so a modified client cannot forge a tap on another area, alert or role.

Telegram gives callback data back exactly as the bot sent it, but anyone can send any data
(up to 64 bytes) with a modified client. Staff buttons that carry ids or area codes are
therefore signed: `sign("stf:rv:12", secret, user_id=…)` gives `"stf:rv:12|lq3k1c|<mac>"`,
where the stamp is the minute it was made (base 36) and the MAC (HMAC-SHA256, 72 bits,
base64url) covers the tapping person's Telegram id, the data and the stamp. `verify` returns
the data or raises `BadSignature` for a forged, altered, someone else's or too old button.
A valid signature says only "the bot made this button for this person": handlers still check
the person's roles at tap time, since roles can be revoked after the button was sent.

The secret comes from SABAI_CALLBACK_SECRET, or is made once and kept in the `app_secrets`
table, so every bot process signs alike and restarts keep old buttons valid. It is never
logged and never written to a file in the repository.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.base import utcnow
from bot.staff.models import AppSecret

SECRET_ENV = "SABAI_CALLBACK_SECRET"
SECRET_NAME = "callback_signing"
SEP = "|"
MAC_CHARS = 12  # 72 bits: guessing one takes ~2^71 taps, each a Telegram round trip
MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback_data
# Separators, a stamp of up to 7 base-36 digits (minutes until the year 2130) and the MAC.
OVERHEAD = 2 + 7 + MAC_CHARS
MAX_DATA_BYTES = MAX_CALLBACK_BYTES - OVERHEAD
DEFAULT_MAX_AGE = timedelta(days=7)
# Clocks of several bot processes may differ a little.
CLOCK_SKEW = timedelta(minutes=5)
MIN_SECRET_BYTES = 16
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class BadSignature(Exception):
    """Button data that this bot did not make for this person, or made too long ago."""


def _base36(value: int) -> str:
    out = ""
    while True:
        value, digit = divmod(value, 36)
        out = _DIGITS[digit] + out
        if value == 0:
            return out


def _minutes(moment: datetime) -> int:
    return int((moment - _EPOCH).total_seconds() // 60)


def _mac(secret: bytes, user_id: int, data: str, stamp: str) -> str:
    message = f"{user_id}{SEP}{data}{SEP}{stamp}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:MAC_CHARS]


def sign(data: str, secret: bytes, *, user_id: int, now: datetime | None = None) -> str:
    """Return `data` with a stamp and a MAC that bind it to the person it is shown to."""
    if SEP in data:
        raise ValueError(f"callback data must not contain {SEP!r}")
    if len(data.encode()) > MAX_DATA_BYTES:
        raise ValueError(f"callback data longer than {MAX_DATA_BYTES} bytes: {data[:20]!r}…")
    stamp = _base36(max(_minutes(now or utcnow()), 0))
    return f"{data}{SEP}{stamp}{SEP}{_mac(secret, user_id, data, stamp)}"


def verify(
    token: str,
    secret: bytes,
    *,
    user_id: int,
    now: datetime | None = None,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> str:
    """Return the data a signed token carries; raise BadSignature if it is not genuine or stale."""
    data, sep1, rest = token.rpartition(SEP)
    data, sep2, stamp = data.rpartition(SEP)
    if not (sep1 and sep2) or not stamp or any(c not in _DIGITS for c in stamp):
        raise BadSignature("not a signed token")
    if len(stamp) > 7 or not hmac.compare_digest(_mac(secret, user_id, data, stamp), rest):
        raise BadSignature("signature does not match")
    made = int(stamp, 36)
    current = _minutes(now or utcnow())
    if made > current + CLOCK_SKEW.total_seconds() // 60:
        raise BadSignature("made in the future")
    if current - made > max_age.total_seconds() // 60:
        raise BadSignature("too old")
    return data


class CallbackSigner:
    """A secret bound to sign and verify; what handlers receive as `signer`."""

    def __init__(self, secret: bytes, max_age: timedelta = DEFAULT_MAX_AGE) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the callback secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.max_age = max_age

    def __repr__(self) -> str:
        return "CallbackSigner(<secret>)"

    def sign(self, data: str, user_id: int, now: datetime | None = None) -> str:
        return sign(data, self._secret, user_id=user_id, now=now)

    def verify(self, token: str, user_id: int, now: datetime | None = None) -> str:
        return verify(token, self._secret, user_id=user_id, now=now, max_age=self.max_age)


async def load_secret(session: AsyncSession, environ: Mapping[str, str]) -> bytes:
    """The signing secret: from the environment, else from the database, made there if new."""
    given = environ.get(SECRET_ENV, "").strip()
    if given:
        if len(given.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"{SECRET_ENV} must be at least {MIN_SECRET_BYTES} bytes long")
        return given.encode()
    row = await session.get(AppSecret, SECRET_NAME)
    if row is not None:
        return row.value.encode()
    session.add(AppSecret(name=SECRET_NAME, value=secrets.token_urlsafe(32)))
    try:
        await session.commit()
    except IntegrityError:
        # Another process made it first: theirs is the one everybody uses.
        await session.rollback()
    row = await session.get(AppSecret, SECRET_NAME, populate_existing=True)
    assert row is not None
    return row.value.encode()


class SignerSource:
    """Loads the signer once, on first need, so building the dispatcher stays synchronous."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], environ: Mapping[str, str]
    ) -> None:
        self._sessions = sessions
        # Keep only the one variable this needs, not a copy of the whole environment.
        self._environ = {SECRET_ENV: environ[SECRET_ENV]} if SECRET_ENV in environ else {}
        self._signer: CallbackSigner | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> CallbackSigner:
        if self._signer is None:
            async with self._lock:
                if self._signer is None:
                    async with self._sessions() as session:
                        secret = await load_secret(session, self._environ)
                    self._signer = CallbackSigner(secret)
        return self._signer

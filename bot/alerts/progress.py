"""Keep coordinators' confirmation messages up to date while their alerts go out.

The runner calls `update_progress` every few seconds (one process only, like the scheduler).
For each alert whose confirmation message is not final yet it counts the outbox rows and, when
the figures changed, edits the message through `edit` — a callable the runner builds around
the Bot (handlers/alerts.py has one), so this module never touches aiogram. Once an alert is
done, expired or cancelled, its message gets a last edit without the cancel button.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.alerts.compose import PREFIX, progress_text
from bot.alerts.models import Alert
from bot.alerts.service import alert_status, status_of
from bot.core.base import utcnow
from bot.core.i18n import Catalog
from bot.core.screens import Option, Screen
from bot.reach.suppression import DEFAULT_K

log = logging.getLogger("sabai.alerts")

# Edits one message: (chat id, message id, screen); returns False when it could not.
Edit = Callable[[int, int, Screen], Awaitable[bool]]
# Telegram allows about one edit per second per chat; a handful of alerts per run is plenty.
BATCH = 20


def progress_screen(
    catalog: Catalog, language: str, alert_id: int, text: str, final: bool
) -> Screen:
    """The progress message, with a cancel button while the alert can still be stopped."""
    if final:
        return Screen(text)
    cancel = Option(catalog.text(language, "alerts.cancel_alert"), f"{PREFIX}k:{alert_id}")
    return Screen(text, ((cancel,),))


async def confirmation_screen(
    session: AsyncSession,
    catalog: Catalog,
    language: str,
    alert_id: int,
    tz: ZoneInfo,
    k: int = DEFAULT_K,
) -> Screen:
    """The progress message that replaces a coordinator's preview once the alert is queued."""
    status = await alert_status(session, alert_id)
    if status is None:
        raise LookupError(f"no alert #{alert_id}")
    text = progress_text(catalog, language, status, tz, k)
    return progress_screen(catalog, language, alert_id, text, status.finished)


async def update_progress(
    sessions: async_sessionmaker[AsyncSession],
    edit: Edit,
    catalog: Catalog,
    tz: ZoneInfo,
    k: int = DEFAULT_K,
) -> int:
    """Edit every confirmation message whose figures changed; return how many were edited."""
    now = utcnow()
    pending: list[tuple[int, int, int, Screen, str, bool]] = []
    async with sessions() as session:
        alerts = await session.scalars(
            select(Alert)
            .where(Alert.progress_final.is_(False), Alert.progress_message_id.is_not(None))
            .order_by(Alert.id)
            .limit(BATCH)
        )
        for alert in list(alerts):
            status = await status_of(session, alert, now)
            language = alert.progress_language or catalog.default_language
            text = progress_text(catalog, language, status, tz, k)
            screen = progress_screen(catalog, language, alert.id, text, status.finished)
            digest = hashlib.sha256(repr(screen).encode()).hexdigest()[:32]
            if digest == alert.progress_shown:
                continue
            assert alert.progress_chat_id is not None and alert.progress_message_id is not None
            pending.append(
                (
                    alert.id,
                    alert.progress_chat_id,
                    alert.progress_message_id,
                    screen,
                    digest,
                    status.finished,
                )
            )
    edited = 0
    # Sent outside the session, so a slow Bot API never holds a database connection.
    for alert_id, chat_id, message_id, screen, digest, finished in pending:
        ok = await edit(chat_id, message_id, screen)
        async with sessions.begin() as session:
            row = await session.get(Alert, alert_id)
            if row is None:
                continue
            row.progress_shown = digest
            # A message that cannot be edited (deleted, too old) is given up, not retried forever.
            row.progress_final = finished or not ok
        edited += ok
    return edited


async def move_progress(
    sessions: async_sessionmaker[AsyncSession], alert_id: int, chat_id: int, message_id: int
) -> None:
    """Edit progress into another message from now on (the first could not be edited)."""
    async with sessions.begin() as session:
        alert = await session.get(Alert, alert_id)
        if alert is not None and alert.progress_chat_id == chat_id:
            alert.progress_message_id = message_id
            alert.progress_shown = None

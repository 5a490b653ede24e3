"""Who sent an update, read in one query: their resident row, and whether an alert they are
composing waits for typed text.

Typed text is routed (bot/residents/routing.py) by asking first whether it answers an alert
draft. Asking that separately cost every resident's typed message a second query; here it
rides along with the resident lookup the update makes anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.alerts.drafts import draft_waits_for_text
from bot.alerts.models import AlertDraft
from bot.residents.models import Resident

# The draft's columns come back as they are and are judged here: a statement with no
# parameter but the id stays one cached statement (a step list in SQL costs more than the
# second query it replaces). Built once: building it per update, and its cache key, cost
# more than running it.
_SENDER = (
    select(Resident, AlertDraft.step, AlertDraft.updated_at)
    .outerjoin(AlertDraft, AlertDraft.staff_telegram_id == Resident.telegram_id)
    .where(Resident.telegram_id == bindparam("telegram_id"))
)


@dataclass(frozen=True)
class Sender:
    resident: Resident | None
    # None when there is no resident row to ride along with (staff who never signed up
    # as residents, first contact): the routing asks `waiting_for_text` when it needs to.
    composing_text: bool | None


async def load_sender(session: AsyncSession, telegram_id: int, now: datetime) -> Sender:
    row = (await session.execute(_SENDER, {"telegram_id": telegram_id})).first()
    if row is None:
        return Sender(None, None)
    resident, step, touched = row
    return Sender(resident, draft_waits_for_text(step, touched, now))

"""What a resident reads under /mydata: everything Sabai keeps about them, in their language."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from bot.core.i18n import format_when

if TYPE_CHECKING:
    from bot.residents.conversation import Conversation


async def my_data_text(c: Conversation) -> str:
    """Everything stored about the resident, in their language."""
    from bot.residents.conversation import LANGUAGE_LABELS

    r = c.resident
    if r is None:
        return c.t("mydata.nothing")
    if r.area_code:
        area = c.areas.get(r.area_code)
        ancestors = c.areas.ancestors(r.area_code) if area else []
        place = c.describe_place(area, ancestors) if area else r.area_code
    elif r.area_unlisted_text:
        place = c.t("mydata.area_unlisted", words=html.escape(r.area_unlisted_text))
    else:
        place = c.t("mydata.none")
    language_name = c.ctx.catalog.raw(r.language, LANGUAGE_LABELS.get(r.language or "", "lang.bn"))
    fields = {
        "telegram_id": str(r.telegram_id) if r.telegram_id is not None else c.t("mydata.none"),
        "name": html.escape(r.first_name) if r.first_name else c.t("mydata.none"),
        "username": "@" + html.escape(r.username) if r.username else c.t("mydata.none"),
        "lang_name": language_name,
        "place": place,
        "consent": format_when(r.consent_at, c.language, c.ctx.tz)
        if r.consent_at
        else c.t("mydata.none"),
        "since": format_when(r.created_at, c.language, c.ctx.tz),
        "status": c.t(f"mydata.status_{r.status}"),
        "gender": c.t(f"profile.gender_{r.gender}") if r.gender else c.t("mydata.none"),
        "age_band": c.t(f"profile.age_{r.age_band}") if r.age_band else c.t("mydata.none"),
        "events": await c.residents.event_count(r),
    }
    return c.t("mydata.text", **fields)

"""The resident menu's "Alerts" entry: what is valid for their area now, then the menu."""

from __future__ import annotations

from bot.alerts.for_residents import current_alerts, current_alerts_screen
from bot.core.screens import Reply
from bot.residents.conversation import Conversation


async def alerts_menu(conversation: Conversation) -> Reply:
    """The menu's "Alerts": what is valid for the resident's area now, then the menu."""
    resident = conversation.resident
    area = resident.area_code if resident else None
    alerts = await current_alerts(conversation.session, area, conversation.now)
    screen = current_alerts_screen(
        conversation.ctx.catalog, conversation.language, alerts, conversation.ctx.tz
    )
    return Reply([screen, conversation.menu_screen()])

"""The language staff are answered in, and their words in it. No aiogram here.

Staff need not have signed up as residents: an admin or trainer invited by link may never
have chosen a language. They are answered in their Telegram app's language when Sabai has
it, rather than in the default, so an English-speaking trainer is not handed Bangla
instructions. A language chosen as a resident wins over the app's: it was asked for.
"""

from __future__ import annotations

import html
from datetime import datetime

from bot.areas.tree import AreaService, describe, display_name
from bot.core.i18n import Catalog, format_when
from bot.residents.conversation import Conversation
from bot.staff.roles import NATIONAL, Grant, Role


def reply_language(catalog: Catalog, chosen: str | None, app_language: str | None) -> str:
    """Pick the resident's chosen language, else the app's ("en" of "en-GB"), else the default."""
    if chosen:
        return catalog.resolve(chosen)
    primary = (app_language or "").split("-")[0].lower()
    return catalog.resolve(primary or None)


def staff_language(conversation: Conversation) -> str:
    """The language to answer the person behind `conversation` in, as staff."""
    resident = conversation.resident
    return reply_language(
        conversation.ctx.catalog,
        resident.language if resident is not None else None,
        conversation.user.language_code,
    )


class StaffWords:
    """Strings, counts, times and places for one staff member, in their reply language."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.session = conversation.session
        self.language = staff_language(conversation)

    def t(self, key: str, **params: object) -> str:
        return self.conversation.ctx.catalog.text(self.language, key, **params)

    def role(self, role: Role) -> str:
        return self.t(f"staff.role_{role.value}")

    def count(self, n: int) -> str:
        """A count as staff may see it (small ones suppressed), for HTML."""
        return self.conversation.ctx.staff_count(n, self.language)

    def when(self, moment: datetime) -> str:
        return format_when(moment, self.language, self.conversation.ctx.tz)

    async def area_name(self, code: str) -> str:
        """An area's own name, escaped for HTML (the code itself if there is no such area)."""
        area = await AreaService(self.session).get(code)
        return html.escape(display_name(area, self.language) if area else code)

    async def place(self, code: str) -> str:
        """An area's name with its parents, escaped for HTML ("all of Bangladesh" for "")."""
        if code == NATIONAL:
            return self.t("staff.national")
        areas = AreaService(self.session)
        area = await areas.get(code)
        if area is None:
            return html.escape(code)
        return html.escape(describe(area, await areas.ancestors(code), self.language))

    async def roles_text(self, grants: tuple[Grant, ...]) -> str:
        """One line per role: what it is and where."""
        lines = [
            self.t("staff.role_line", role=self.role(g.role), place=await self.place(g.scope))
            for g in grants
        ]
        return "\n".join(lines)

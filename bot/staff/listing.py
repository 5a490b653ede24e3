"""The staff an admin manages: one screen listing them, with a revoke button per role.

The screen's button actions are "stf:rv:<grant id>"; the router signs them for the admin
and checks, at tap time, that they still manage the grant. Names go into the list escaped
and into button labels and toasts as they are (those are plain text to Telegram).
"""

from __future__ import annotations

import html

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.screens import Option, Screen
from bot.staff.language import StaffWords
from bot.staff.roles import (
    Grant,
    Role,
    Staff,
    StaffListing,
    list_staff,
    may_manage,
    minimal_scopes,
)

REVOKE = "stf:rv:"
# Telegram allows 100 buttons per message; a long list is for the command line.
MAX_REVOKE_BUTTONS = 30


async def managed_staff(session: AsyncSession, staff: Staff) -> list[StaffListing]:
    """Everyone holding a role within the areas `staff` administers, each person once."""
    people: dict[str, StaffListing] = {}
    for scope in minimal_scopes(staff.scopes(Role.ADMIN)):
        for listing in await list_staff(session, scope):
            # A person with roles in two of the admin's areas is listed once, with both.
            known = people.get(listing.pseudonym)
            if known is not None:
                listing = StaffListing(known.pseudonym, known.name, known.grants + listing.grants)
            people[listing.pseudonym] = listing
    return list(people.values())


def who(words: StaffWords, listing: StaffListing) -> str:
    """How a staff member is named to colleagues (plain text): name and pseudonym."""
    if not listing.name:
        return listing.pseudonym
    return words.t("staff.who_named", name=listing.name, pseudonym=listing.pseudonym)


async def holder_of(words: StaffWords, grant: Grant) -> str:
    """The name (plain text) of whoever holds `grant`."""
    for listing in await list_staff(words.session, grant.scope):
        if any(g.id == grant.id for g in listing.grants):
            return who(words, listing)
    return words.t("staff.holder_unknown")


async def staff_screen(words: StaffWords, staff: Staff) -> Screen:
    """The staff `staff` manages, with a revoke option for each role but their own."""
    people = await managed_staff(words.session, staff)
    if not people:
        return Screen(words.t("staff.list_empty"))
    lines = [words.t("staff.list_title")]
    rows: list[tuple[Option, ...]] = []
    revocable = 0
    for listing in people:
        grants = [
            words.t("staff.grant_item", role=words.role(g.role), place=await words.place(g.scope))
            for g in listing.grants
        ]
        roles = words.t("staff.grant_separator").join(grants)
        lines.append(words.t("staff.list_line", who=html.escape(who(words, listing)), roles=roles))
        for grant in listing.grants:
            if listing.pseudonym == staff.pseudonym or not may_manage(staff, grant):
                continue
            revocable += 1
            if len(rows) >= MAX_REVOKE_BUTTONS:
                continue
            label = words.t(
                "staff.revoke_button",
                who=who(words, listing),
                role=words.role(grant.role),
                # Button labels are plain text: no HTML escaping there.
                place=html.unescape(await words.place(grant.scope)),
            )
            rows.append((Option(label, f"{REVOKE}{grant.id}"),))
    if revocable > MAX_REVOKE_BUTTONS:
        lines.append(words.t("staff.list_more", count=MAX_REVOKE_BUTTONS))
    return Screen("\n".join(lines), tuple(rows))

"""The staff desk: one gate in front of the routers that only staff use.

Every resident's message used to walk through five staff routers, each parsing the
command again and turning it away: 4 % of all the Python calls an update costs
(`bench/updates.py --profile`). The desk asks once whether any of them could want the update:
a staff command or a tap on a staff button. Typed text never goes behind the desk: it is
routed by bot/residents/routing.py (an alert draft waiting for text included). Each router
behind it keeps its own filters and role checks, so the desk only ever turns away what all
of them would have turned away.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import F, Router
from aiogram.filters import Command

from handlers.filters import private_chat, private_tap, when


def build_desk(
    routers: Iterable[Router], commands: Iterable[str], prefixes: Iterable[str]
) -> Router:
    """A router that lets through to `routers` only the `commands` and the button taps whose
    data starts with one of `prefixes`."""
    desk = Router(name="staff_desk")
    desk.message.filter(private_chat(), Command(*commands))
    desk.callback_query.filter(private_tap(), when(F.data.startswith(tuple(prefixes))))
    desk.include_routers(*routers)
    return desk

"""The staff desk turns away only what every router behind it would turn away."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command

from handlers import STAFF_DESK_COMMANDS
from tests.botkit import running_bot


def _commands_filtered_on(router: Router) -> set[str]:
    """Every command that a Command filter of `router` or of its sub-routers accepts."""
    found: set[str] = set()
    for observer in router.observers.values():
        # Commands are filtered per handler; router-wide filters there are role checks.
        checks = [check for handler in observer.handlers for check in handler.filters or []]
        for check in checks:
            if isinstance(check.callback, Command):
                found.update(str(command) for command in check.callback.commands)
    for sub in router.sub_routers:
        found |= _commands_filtered_on(sub)
    return found


async def test_the_desk_lets_through_every_command_of_the_routers_behind_it(db_url: str) -> None:
    # A command added to a staff router but not to the desk would never reach that router.
    async with running_bot(db_url) as bot:
        desks = [r for r in bot.app.dispatcher.sub_routers if r.name == "staff_desk"]
        assert len(desks) == 1
        behind = set().union(*(_commands_filtered_on(r) for r in desks[0].sub_routers))
    assert {"invite", "staff", "push", "alert", "reach", "missing", "register"} <= behind
    assert behind <= set(STAFF_DESK_COMMANDS)

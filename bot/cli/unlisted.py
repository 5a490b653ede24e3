"""`sabai unlisted list|assign`: residents whose area is not listed, placed by the operator.

The operator acts for the whole country: `list` shows every group of words (counts
suppressed, like every staff output), `assign` moves everyone who typed the words into an
area, tells them in their language, and writes the move to the audit log.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.core.config import Settings

COMMANDS = ("unlisted",)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `sabai unlisted` to `sabai`'s subcommands."""
    unlisted = sub.add_parser("unlisted", help="residents whose area is not listed")
    unlisted_sub = unlisted.add_subparsers(dest="unlisted_command", required=True)
    listing = unlisted_sub.add_parser("list", help="what they typed, most common first")
    listing.add_argument("--area", default="", help="only words naming a place in this area (code)")
    assign = unlisted_sub.add_parser(
        "assign", help="move everyone who typed these words into an area and tell them"
    )
    assign.add_argument("--words", required=True, help="the words exactly as listed")
    assign.add_argument("--area", required=True, help="the area code to place them in")


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run `sabai unlisted …`; return the exit status."""
    from bot.areas.tree import load_index
    from bot.core.i18n import Catalog
    from bot.reach.suppression import Suppressor
    from bot.reach.unlisted import PlacementError, place_unlisted, unlisted_groups
    from bot.staff.audit import cli_actor
    from bot.wiring.database import prepare_database

    engine, sessions = await prepare_database(settings)
    try:
        async with sessions() as session:
            index = await load_index(session)
            if args.unlisted_command == "list":
                area = (args.area or "").strip()
                groups = await unlisted_groups(session, [area], index)
                s = Suppressor(settings.small_count_k)
                if not groups:
                    out.write("nobody whose area is not listed\n")
                for group in groups:
                    shown = group.words or "(nothing typed)"
                    out.write(f"{s.count(group.count).text('en'):>6}  {shown}\n")
                return 0
        try:
            placed = await place_unlisted(
                sessions,
                args.words,
                args.area.strip(),
                cli_actor(),
                Catalog.load(default_language=settings.default_language),
                index=index,
            )
        except PlacementError as exc:
            sys.stderr.write(f"sabai: {exc.detail}\n")
            return 2
        out.write(
            f"moved {placed.moved} residents into {args.area.strip()}; "
            f"{placed.notified} will be told in their language\n"
        )
        return 0
    finally:
        await engine.dispose()

"""`sabai areas tag|untag|tags`: coordinators' need tags on areas ("haor"), audited."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from bot.core.config import Settings

COMMANDS = ("tag", "untag", "tags")


def add_commands(areas_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add tag, untag and tags under `sabai areas`."""
    for name, help_text in (
        ("tag", "put a tag on areas (a tag covers everything below the area)"),
        ("untag", "take a tag off areas"),
    ):
        command = areas_sub.add_parser(name, help=help_text)
        command.add_argument("--tag", required=True, help="e.g. haor")
        command.add_argument("--area", required=True, help="area codes, comma-separated")
    tags = areas_sub.add_parser("tags", help="list tagged areas")
    tags.add_argument("--tag", default=None, help="only this tag")


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run `sabai areas tag|untag|tags`; return the exit status."""
    from bot.areas.tags import TagError, list_tags, parse_codes, tag_areas, untag_areas
    from bot.staff.audit import cli_actor
    from bot.wiring.database import prepare_database

    engine, sessions = await prepare_database(settings)
    try:
        async with sessions.begin() as session:
            try:
                if args.areas_command == "tags":
                    found = await list_tags(session, args.tag)
                    if not found:
                        out.write("no tagged areas\n")
                    for item in found:
                        out.write(f"{item.tag}\t{item.code}\t{item.level}\t{item.name_en}\n")
                    return 0
                codes = parse_codes(args.area)
                if args.areas_command == "tag":
                    n = await tag_areas(session, codes, args.tag, cli_actor())
                    out.write(f"tagged {n} areas {args.tag.strip().lower()!r}\n")
                else:
                    n = await untag_areas(session, codes, args.tag, cli_actor())
                    out.write(f"untagged {n} areas\n")
                return 0
            except TagError as exc:
                sys.stderr.write(f"sabai: {exc}\n")
                return 2
    finally:
        await engine.dispose()

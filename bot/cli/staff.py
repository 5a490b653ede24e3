"""`sabai staff add|list|revoke`, `sabai invite` and `sabai audit`: staff work at the command line.

Whoever runs these has the database in hand, so they act with every power; each act is
audited as "cli:<operating-system user>". Output names staff by pseudonym and never shows
residents' Telegram ids.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, TextIO

from bot.cli.options import name_choices, positive_int
from bot.core.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.core.i18n import Catalog

COMMANDS = ("staff", "invite", "audit")
# Spelled out rather than imported from bot.staff.roles, so `sabai --help` stays quick to start.
ROLE_NAMES = ["trainer", "coordinator", "admin"]
NATIONAL = ""
_RELATIVE = re.compile(r"^\d+[mhdw]$")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the staff, invite and audit commands to `sabai`'s subcommands."""
    staff = sub.add_parser("staff", help="staff roles: add (bootstrap), list, revoke")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="give a person a staff role (e.g. the first admin)")
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--role", choices=ROLE_NAMES, required=True)
    add.add_argument(
        "--area", default="", help="area code of the role's scope (default: national, admin only)"
    )
    add.add_argument("--name", default=None, help="a name colleagues will know them by")
    listing = staff_sub.add_parser("list", help="everyone with an active staff role")
    listing.add_argument("--area", default="", help="only roles within this area code")
    revoke = staff_sub.add_parser("revoke", help="take away a person's roles (all, or some)")
    who = revoke.add_mutually_exclusive_group(required=True)
    who.add_argument("--telegram-id", type=int)
    who.add_argument("--staff", metavar="PSEUDONYM", help="as `staff list` shows it (st-…)")
    revoke.add_argument("--role", choices=ROLE_NAMES, default=None)
    revoke.add_argument("--area", default=None, help="only the role in this scope")
    name_choices(staff_sub)

    invite = sub.add_parser("invite", help="make a one-time invitation to a staff role")
    invite.add_argument("--role", choices=ROLE_NAMES, required=True)
    invite.add_argument("--area", required=True, help='area code, or "national" (admins)')
    invite.add_argument("--expires", default="7d", help="how long it works: 30m, 12h, 7d, 2w")
    invite.add_argument("--bot-username", default=None, help="to print a t.me start link")

    audit = sub.add_parser("audit", help="print the audit log of privileged acts")
    audit.add_argument("--since", default=None, help="a date (2026-11-01), ISO time, or 7d/12h")
    audit.add_argument(
        "--limit", type=positive_int, default=None, help="only the newest N entries (default: all)"
    )
    audit.add_argument(
        "--oldest", action="store_true", help="with --limit: the oldest N entries instead"
    )


def parse_since(text: str, settings: Settings, now: datetime) -> datetime:
    """Read --since: "7d"/"12h" ago, a local date, or an ISO time (local if it has no offset)."""
    from bot.staff.invitations import parse_duration

    text = text.strip()
    if _RELATIVE.match(text):
        span = parse_duration(text) or _long_span(text)
        return now - span
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"--since: not a date, time or span: {text!r}") from exc
    if len(text) == 10:
        moment = datetime.combine(moment.date(), time(0), tzinfo=settings.tz)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)
    return moment


def _long_span(text: str) -> timedelta:
    # parse_duration stops at an invitation's 30 days; the audit may look back further.
    amount, unit = int(text[:-1]), text[-1]
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: amount})


def _catalog(settings: Settings) -> Catalog:
    from bot.core.i18n import Catalog

    return Catalog.load(default_language=settings.default_language)


def _scope(text: str) -> str:
    return NATIONAL if text.strip().lower() in ("", "national", "bd", "all") else text.strip()


async def _describe_scope(session: AsyncSession, scope: str) -> str:
    from bot.areas.tree import AreaService, describe

    if scope == NATIONAL:
        return "national"
    areas = AreaService(session)
    area = await areas.get(scope)
    if area is None:
        return scope
    return f"{scope} {describe(area, await areas.ancestors(scope), 'en')}"


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run one of COMMANDS; return the exit status."""
    from bot.staff.roles import BadScope
    from bot.wiring.database import prepare_database

    engine, sessions = await prepare_database(settings)
    try:
        async with sessions() as session:
            status = await _run(session, args, settings, out)
            await session.commit()
            return status
    except (BadScope, ValueError) as exc:
        sys.stderr.write(f"sabai: {exc}\n")
        return 2
    finally:
        await engine.dispose()


async def _run(
    session: AsyncSession, args: argparse.Namespace, settings: Settings, out: TextIO
) -> int:
    from bot.core.base import utcnow
    from bot.staff.audit import audit_entries, cli_actor
    from bot.staff.invitations import DEFAULT_TTL, create_invitation, parse_duration
    from bot.staff.roles import Role, find_account, grant_role, list_staff, revoke_roles

    actor = cli_actor()
    now = utcnow()
    if args.command == "staff" and args.staff_command == "add":
        staff, created = await grant_role(
            session,
            args.telegram_id,
            Role(args.role),
            _scope(args.area),
            actor,
            name=args.name,
            now=now,
        )
        place = await _describe_scope(session, _scope(args.area))
        verb = "granted" if created else "already held"
        out.write(f"{staff.pseudonym}: {args.role} for {place} ({verb})\n")
        return 0
    if args.command == "staff" and args.staff_command == "list":
        people = await list_staff(session, _scope(args.area))
        for person in people:
            roles = ", ".join(
                [f"{g.role.value} {await _describe_scope(session, g.scope)}" for g in person.grants]
            )
            out.write(f"{person.pseudonym}\t{person.name or '-'}\t{roles}\n")
        out.write(_catalog(settings).plural("en", "cli.staff_count", len(people)) + "\n")
        return 0
    if args.command == "staff" and args.staff_command == "revoke":
        account = await find_account(session, telegram_id=args.telegram_id, pseudonym=args.staff)
        if account is None:
            sys.stderr.write("sabai: no such staff member\n")
            return 1
        revoked = await revoke_roles(
            session,
            account,
            actor,
            role=Role(args.role) if args.role else None,
            scope=_scope(args.area) if args.area is not None else None,
            now=now,
        )
        for grant in revoked:
            place = await _describe_scope(session, grant.scope)
            out.write(f"revoked {account.pseudonym}: {grant.role.value} for {place}\n")
        if not revoked:
            out.write(f"{account.pseudonym} had no such active role\n")
        return 0 if revoked else 1
    if args.command == "invite":
        ttl = parse_duration(args.expires) if args.expires else DEFAULT_TTL
        if ttl is None:
            raise ValueError(f"--expires: use 30m, 12h, 7d or 2w, at most 30 days: {args.expires}")
        issued = await create_invitation(
            session, actor, Role(args.role), _scope(args.area), creator=None, ttl=ttl, now=now
        )
        place = await _describe_scope(session, issued.scope)
        invitation = _catalog(settings).text(
            "en", f"cli.invitation_for.{issued.role.value}", place=place
        )
        out.write(invitation + "\n")
        out.write(f"expires {issued.expires_at.astimezone(settings.tz).isoformat()}\n")
        out.write(f"code: {issued.code}\n")
        out.write(f"in the bot: /start {issued.start_payload}\n")
        if args.bot_username:
            out.write(f"link: {issued.link(args.bot_username.lstrip('@'))}\n")
        out.write("It works once. Share it only with the person it is meant for.\n")
        return 0
    if args.command == "audit":
        since = parse_since(args.since, settings, now) if args.since else None
        for entry in await audit_entries(session, since, limit=args.limit, newest=not args.oldest):
            when = entry.at.astimezone(settings.tz).isoformat(timespec="seconds")
            details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True)
            out.write(f"{when}\t{entry.actor}\t{entry.act}\t{entry.scope or '-'}\t{details}\n")
        return 0
    return 2

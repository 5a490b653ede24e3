"""`sabai reach`, `sabai missing` and `sabai residents import`: reach work at the command line.

Output is suppressed like everything staff read. `--unsuppressed` shows small counts, to an
admin only: it needs `--admin TELEGRAM_ID` of a person holding the admin role over the area
(the whole country for a national report), and the export is written to the audit log under
that admin's pseudonym, with the operating-system user who ran it. Whoever runs the CLI has
the database in hand anyway; naming the admin makes the export someone's answerable act.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli.options import name_choices, positive_int
from bot.core.config import Settings

if TYPE_CHECKING:
    from bot.core.i18n import Catalog

COMMANDS = ("reach", "missing", "residents")
FORMATS = ("text", "csv", "json")
LEVELS = ("district", "upazila", "union")
_PERIOD = re.compile(r"^(\d{1,3})d$")
# Spelled out rather than imported from bot.residents.assisted, so `--help` stays quick.
IMPORT_COLUMNS = """\
The CSV's first line names its columns; area_code is required, the others may be left out
of the header, and every row needs a cell for each column the header names:
  area_code     a union, upazila or district code inside the trainer's areas
  language      bn, en or syl (empty: bn)
  phone_access  none or shared (empty: none)
  gender        female, male, other or empty
  age_band      under18, 18_29, 30_44, 45_59, 60plus or empty
  attended_on   the workshop day, e.g. 2026-11-28 (empty: no attendance recorded)
Example:
  area_code,language,phone_access,gender,age_band,attended_on
  605865,bn,none,female,30_44,2026-11-28"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the reach, missing and residents commands to `sabai`'s subcommands."""
    reach = sub.add_parser("reach", help="reach figures of an area and its child areas")
    reach.add_argument("--area", default="", help="area code (default: the whole country)")
    _common(reach)

    missing = sub.add_parser("missing", help="communities Sabai is still missing")
    missing.add_argument("--area", default="", help="area code (default: the whole country)")
    missing.add_argument(
        "--level", choices=LEVELS, default="upazila", help="areas to rank (default: %(default)s)"
    )
    missing.add_argument(
        "--top",
        type=positive_int,
        default=None,
        help="only the N furthest behind (default: all in csv and json, 20 in text)",
    )
    missing.add_argument(
        "--priority",
        default=None,
        help="tags ranked first within equal coverage, comma-separated (default: config "
        "reach.priority_tags)",
    )
    _common(missing)

    residents = sub.add_parser("residents", help="assisted residents")
    residents_sub = residents.add_subparsers(dest="residents_command", required=True)
    imp = residents_sub.add_parser(
        "import",
        help="import a workshop's attendance (CSV); all rows or none",
        description=IMPORT_COLUMNS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", type=Path, help="the CSV file (columns above)")
    imp.add_argument("--trainer", type=int, required=True, help="the trainer's Telegram id")
    name_choices(residents_sub)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--period", default="30d", help="days up to today, e.g. 7d (default: %(default)s)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="(default: %(default)s)")
    parser.add_argument(
        "--language", choices=("en", "bn", "syl"), default="en", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--unsuppressed",
        action="store_true",
        help="show small counts too (needs --admin; written to the audit log)",
    )
    parser.add_argument(
        "--admin",
        type=int,
        default=None,
        metavar="TELEGRAM_ID",
        help="with --unsuppressed: the Telegram id of an admin covering the area",
    )


def parse_period(text: str) -> int:
    """Days from "30d" (1 to 366)."""
    match = _PERIOD.match(text.strip())
    if not match or not 1 <= int(match.group(1)) <= 366:
        raise ValueError(f"--period must look like 30d (1–366 days), got {text!r}")
    return int(match.group(1))


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run one of the commands; return the exit status."""
    from bot.wiring.database import prepare_database

    engine, sessions = await prepare_database(settings)
    try:
        async with sessions() as session:
            if args.command == "residents":
                status = await _import(session, args, settings, out)
            else:
                status = await _report(session, args, settings, out)
            await session.commit()
            return status
    finally:
        await engine.dispose()


async def _report(
    session: object, args: argparse.Namespace, settings: Settings, out: TextIO
) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.areas.tree import load_index
    from bot.core.base import utcnow
    from bot.core.i18n import Catalog
    from bot.reach.csv_export import missing_csv, reach_csv
    from bot.reach.figures import Period, UnknownArea
    from bot.reach.missing import missing_report
    from bot.reach.render import TextRenderer, missing_document, reach_document, to_json
    from bot.reach.report import area_info, reach_report
    from bot.reach.suppression import Suppressor
    from bot.staff.audit import Act, cli_actor, record_audit
    from bot.staff.roles import NotAllowed, Role, require

    assert isinstance(session, AsyncSession)
    try:
        days = parse_period(args.period)
    except ValueError as exc:
        _fail(str(exc))
        return 2
    period = Period.ending(utcnow(), days, settings.tz)
    s = (
        Suppressor.off(settings.small_count_k)
        if args.unsuppressed
        else Suppressor(settings.small_count_k)
    )
    try:
        info = await area_info(session, args.area or None)
    except UnknownArea:
        _fail(f"no area with code {args.area!r}")
        return 2
    if args.unsuppressed:
        place = f"area {args.area}" if args.area else "the whole country"
        admin_id = getattr(args, "admin", None)
        if admin_id is None:
            _fail(f"--unsuppressed needs --admin TELEGRAM_ID: an admin covering {place}")
            return 2
        try:
            admin = await require(session, admin_id, Role.ADMIN, args.area)
        except NotAllowed:
            _fail(f"Telegram id {admin_id} is not an admin covering {place}; nothing exported")
            return 2
        record_audit(
            session,
            admin.pseudonym,
            Act.EXPORT_UNSUPPRESSED,
            args.area,
            {"report": args.command, "format": args.format, "days": days, "via": cli_actor()},
        )
    text = TextRenderer(Catalog.load(), args.language, s, markup=False)
    if args.command == "reach":
        report = await reach_report(session, args.area or None, period, settings.reach_denominator)
        if args.format == "json":
            out.write(to_json(reach_document(report, s)) + "\n")
        elif args.format == "csv":
            out.write(reach_csv(report, s))
        else:
            out.write(_plain(text.reach(report, top=1_000)) + "\n")
        return 0
    scope = [args.area]
    # Words typed for unlisted areas are placed by the search index (a fraction of a second
    # to build; the bot builds it once at start).
    index = await load_index(session) if args.area else None
    typed = getattr(args, "priority", None)
    priority = (
        tuple(t.strip().lower() for t in typed.split(",") if t.strip())
        if typed is not None
        else settings.reach_priority_tags
    )
    report_m = await missing_report(
        session,
        scope,
        period,
        level=args.level,
        index=index,
        target=settings.reach_target_per_10000,
        priority=priority,
        prefer=settings.reach_denominator,
    )
    if args.format == "json":
        out.write(to_json(missing_document(report_m, s, args.top)) + "\n")
    elif args.format == "csv":
        out.write(missing_csv(report_m, s, args.top))
    else:
        place = info.name_en if args.language == "en" or not info.name_bn else info.name_bn
        out.write(_plain(text.missing(report_m, place, top=args.top or 20)) + "\n")
    return 0


def _catalog(settings: Settings) -> Catalog:
    from bot.core.i18n import Catalog

    return Catalog.load(default_language=settings.default_language)


def _fail(message: str) -> None:
    sys.stderr.write(f"sabai: {message}\n")


def _plain(text: str) -> str:
    """Strip the few HTML tags and entities the chat strings use, for a terminal."""
    import html

    return html.unescape(re.sub(r"</?b>", "", text))


async def _import(
    session: object, args: argparse.Namespace, settings: Settings, out: TextIO
) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.cli.alerts import local_time
    from bot.residents.assisted import AlreadyImported, ImportRejected, import_attendance
    from bot.staff.roles import Role, staff_of

    assert isinstance(session, AsyncSession)
    staff = await staff_of(session, args.trainer)
    scopes = staff.scopes(Role.TRAINER) if staff is not None else []
    if staff is None or not scopes:
        _fail(f"{args.trainer} is not a trainer (see `sabai staff add`)")
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {args.file}: {exc.strerror}")
        return 2
    try:
        report = await import_attendance(session, data, staff.pseudonym, settings.tz, set(scopes))
    except AlreadyImported as exc:
        when = local_time(exc.at, settings.tz)
        _fail(f"this file was imported already ({when}); nothing imported")
        return 1
    except ImportRejected as exc:
        for line, problem in exc.problems:
            sys.stderr.write(f"{args.file}:{line}: {problem}\n")
        _fail(_catalog(settings).plural("en", "cli.bad_rows", len(exc.problems)))
        return 1
    imported = _catalog(settings).plural(
        "en", "cli.imported", report.registered, attendance=report.attendance
    )
    out.write(imported + "\n")
    return 0

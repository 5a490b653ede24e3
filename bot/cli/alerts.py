"""`sabai alerts send|list|show|cancel|watch`: alerts from other systems and for operators.

`send` queues the same alert a coordinator composes in chat (a flood-warning feed or a
utility's outage list calls it), prints its id and the number of recipients. Whoever runs the
CLI holds the database and acts as an operator: no role is checked, and every send and cancel
is written to the audit log as "cli:<operating-system user>". The bot's sender delivers the
messages; `watch` draws a progress bar until the alert is done.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.cli.options import name_choices
from bot.core.config import Settings

COMMANDS = ("alerts",)
DEFAULT_VALIDITY = timedelta(hours=24)
EXAMPLE = "2026-12-24T09:30"
# A time typed a few seconds ago, in the minute it names, still means "now".
LATE_GRACE = timedelta(minutes=1)
BAR_WIDTH = 30


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `alerts` and its subcommands to `sabai`'s subcommands."""
    alerts = sub.add_parser("alerts", help="service alerts: send, list, show, cancel, watch")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)

    send = alerts_sub.add_parser("send", help="queue an alert; prints its id and recipients")
    send.add_argument("--areas", required=True, help="area codes, comma-separated")
    send.add_argument("--topic", required=True, help="water, power, health, flood or scam")
    send.add_argument("--urgency", choices=("normal", "urgent"), default="normal")
    send.add_argument(
        "--text",
        action="append",
        required=True,
        metavar="LANG=TEXT",
        help='text per language, e.g. --text bn="…" --text en="…" (bn required)',
    )
    send.add_argument(
        "--at",
        default=None,
        help=f"when to send: now (the default) or a later time, e.g. {EXAMPLE} (local time)",
    )
    send.add_argument(
        "--until",
        default=None,
        help=f"valid until, e.g. {EXAMPLE} (local time; default: 24 hours after --at)",
    )

    alerts_sub.add_parser("list", help="the latest alerts with their status and counts")
    show = alerts_sub.add_parser("show", help="one alert's status and delivery counts")
    show.add_argument("id", type=int)
    cancel = alerts_sub.add_parser("cancel", help="drop an alert's messages not yet sent")
    cancel.add_argument("id", type=int)
    watch = alerts_sub.add_parser("watch", help="a progress bar until the alert is done")
    watch.add_argument("id", type=int)
    watch.add_argument(
        "--interval", type=float, default=1.0, help="seconds between refreshes (default: 1)"
    )
    name_choices(alerts_sub)


def parse_moment(text: str, tz: ZoneInfo, flag: str = "--at") -> datetime:
    """An ISO-8601 moment; one without an offset is local time in `tz`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{flag} must be a date and time like {EXAMPLE} (local time), got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """A moment as local time with its offset: 2026-12-24 09:30 +06:00."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + local.isoformat()[-6:]


def parse_texts(items: list[str]) -> dict[str, str]:
    """{"bn": "…", "en": "…"} from ["bn=…", "en=…"]."""
    texts: dict[str, str] = {}
    for item in items:
        language, sep, text = item.partition("=")
        if not sep or not language.strip():
            raise ValueError(f"--text must look like bn=TEXT, got {item[:20]!r}")
        texts[language.strip().lower()] = text
    return texts


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text bar like [#######-----------] 7/20."""
    filled = width if total == 0 else round(width * done / total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}"


async def run(args: argparse.Namespace, settings: Settings, out: TextIO = sys.stdout) -> int:
    """Run one `sabai alerts` subcommand; return the exit status."""
    from bot.wiring.database import prepare_database

    engine, sessions = await prepare_database(settings)
    try:
        command = args.alerts_command
        if command == "send":
            return await _send(args, settings, sessions, out)
        if command == "watch":
            return await _watch(args, sessions, out)
        async with sessions.begin() as session:
            return await _query(args, session, settings, out)
    finally:
        await engine.dispose()


async def _send(args: argparse.Namespace, settings: Settings, sessions: object, out: TextIO) -> int:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from bot.alerts.service import AlertError, AlertSpec, create_alert
    from bot.areas.tree import load_tree
    from bot.core.base import utcnow
    from bot.core.i18n import Catalog
    from bot.lessons.pushes import QuietHours
    from bot.staff.audit import cli_actor

    assert isinstance(sessions, async_sessionmaker)
    tz = settings.tz
    try:
        texts = parse_texts(args.text)
        now = utcnow()
        at = (args.at or "now").strip()
        send_at = now if at.lower() == "now" else parse_moment(at, tz)
        if now - LATE_GRACE <= send_at < now:
            send_at = now
        if send_at < now:
            raise ValueError(
                f"--at {local_time(send_at, tz)} has passed already; use --at now, or a later time"
            )
        until = (
            parse_moment(args.until, tz, "--until") if args.until else send_at + DEFAULT_VALIDITY
        )
    except ValueError as exc:
        _fail(str(exc))
        return 2
    spec = AlertSpec(
        topic=args.topic.strip().lower(),
        urgency=args.urgency,
        area_codes=tuple(code.strip() for code in args.areas.split(",") if code.strip()),
        texts=texts,
        send_at=send_at,
        expires_at=until,
    )
    async with sessions() as session:
        tree = await load_tree(session)
    catalog = Catalog.load(default_language=settings.default_language)
    try:
        queued = await create_alert(
            sessions,
            spec,
            cli_actor(),
            catalog,
            tz,
            QuietHours(),
            known_area=lambda code: tree.get(code) is not None,
        )
    except AlertError as exc:
        # The chat's words, in English, serve the operator too.
        _fail(_plain(catalog.text("en", exc.key, **exc.params)))
        return 2
    out.write(catalog.plural("en", "cli.alert_queued", queued.recipients, id=str(queued.alert_id)))
    if queued.deliver_at > utcnow():
        out.write(f", from {local_time(queued.deliver_at, tz)}")
    out.write("\n")
    if queued.split is not None:
        out.write(
            _plain(
                catalog.text(
                    "en",
                    "alerts.recipients_split",
                    inside=queued.split.inside,
                    wider=queued.split.wider,
                    typed=queued.split.typed,
                )
            )
            + "\n"
        )
    return 0


async def _query(args: argparse.Namespace, session: object, settings: Settings, out: TextIO) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.alerts.service import QUEUEING, AlertError, alert_status, cancel_alert, list_alerts
    from bot.core.i18n import Catalog
    from bot.staff.audit import cli_actor

    assert isinstance(session, AsyncSession)
    catalog = Catalog.load(default_language=settings.default_language)
    tz = settings.tz
    if args.alerts_command == "list":
        found = await list_alerts(session, limit=50)
        if not found:
            out.write("no alerts yet\n")
        for item in found:
            state = catalog.text("en", f"alerts.state_{item.state}")
            out.write(
                f"{item.id:>5}  {item.topic:<7} {item.urgency:<7} {state:<10} "
                f"sent {item.sent}/{item.recipients}  failed {item.failed}  "
                f"got-it {item.acknowledged}  areas {','.join(item.area_codes)}\n"
            )
        return 0
    if args.alerts_command == "cancel":
        try:
            dropped = await cancel_alert(session, args.id, cli_actor())
        except AlertError as exc:
            reason = _plain(catalog.text("en", exc.key, **{"id": args.id, **exc.params}))
            _fail(f"cannot cancel alert {args.id}: {reason}")
            return 1
        out.write(catalog.plural("en", "cli.alert_cancelled", dropped, id=str(args.id)) + "\n")
        return 0
    shown = await alert_status(session, args.id)
    if shown is None:
        _fail(f"no alert {args.id}")
        return 1
    status = shown
    not_sent = ", ".join(f"{n} {why}" for why, n in sorted(status.dropped.items())) or "0"
    state = catalog.text("en", f"alerts.state_{status.state}")
    lines = [
        f"alert {status.id}: {status.topic}, {status.urgency}, {state}",
        f"areas: {', '.join(status.area_codes)}",
        f"goes out: {local_time(status.deliver_at, tz)}"
        + (f", valid until {local_time(status.expires_at, tz)}" if status.expires_at else ""),
        f"created by {status.created_by}",
        f"recipients: {status.recipients}"
        + (" so far (queueing is not finished)" if status.state == QUEUEING else ""),
        f"sent: {status.sent}  failed: {status.failed}  remaining: {status.remaining}"
        f"  not sent: {not_sent}",
        f"got it: {status.acknowledged}",
        progress_bar(status.sent + status.failed, status.recipients),
    ]
    for language, text in sorted(status.texts.items()):
        lines.append(f"text [{language}]: {text}")
    out.write("\n".join(lines) + "\n")
    return 0


async def _watch(args: argparse.Namespace, sessions: object, out: TextIO) -> int:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from bot.alerts.service import alert_status

    assert isinstance(sessions, async_sessionmaker)
    while True:
        async with sessions() as session:
            status = await alert_status(session, args.id)
        if status is None:
            _fail(f"no alert {args.id}")
            return 1
        eta = ""
        if status.eta_seconds is not None and status.remaining:
            eta = f"  ETA {round(status.eta_seconds)} s"
        bar = progress_bar(status.sent + status.failed, status.recipients)
        # \r redraws the line in place on a terminal.
        out.write(f"\r{bar}  {status.state}  failed {status.failed}{eta}   ")
        out.flush()
        if status.finished:
            out.write("\n")
            return 0
        await asyncio.sleep(max(args.interval, 0.1))


def _fail(message: str) -> None:
    sys.stderr.write(f"sabai: {message}\n")


def _plain(text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text))

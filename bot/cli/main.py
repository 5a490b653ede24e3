"""The `sabai` command: run the bot, migrate the database, import areas, run the emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli import alerts as cli_alerts
from bot.cli import reach as cli_reach
from bot.cli import staff as cli_staff
from bot.cli.options import name_choices
from bot.core.config import ConfigError, Settings, load_settings
from bot.core.logging_setup import configure_logging
from bot.core.startup import StartupError

log = logging.getLogger("sabai.cli")
_FORCE_HELP = "start the sender even though another one runs without a shared Redis budget"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sabai", description="Sabai civic messaging bot")
    parser.add_argument("--version", action="version", version=f"sabai {_version()}")
    parser.add_argument(
        "--config", type=Path, help="config file (default: SABAI_CONFIG or ./config.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the bot (long polling); with no token, offline with the emulator"
    )
    run.add_argument(
        "--no-chat", action="store_true", help="with the emulator: do not open the terminal chat"
    )
    run.add_argument(
        "--no-sender", action="store_true", help="do not send the outbox (a `sabai send` does)"
    )
    run.add_argument("--force", action="store_true", help=_FORCE_HELP)
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve Telegram's webhook on telegram.listen instead of long polling",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        help="with --webhook: this many worker processes (ports telegram.listen + 0..N-1)",
    )
    run.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    run.add_argument(
        "--shared-port",
        action="store_true",
        help="with --workers: all workers listen on telegram.listen (SO_REUSEPORT), no proxy",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="long polling: serve /healthz, /readyz and /metrics on this port",
    )
    send = sub.add_parser("send", help="only send the outbox: no polling, no scheduler")
    send.add_argument("--force", action="store_true", help=_FORCE_HELP)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply Alembic migrations")
    upgrade.add_argument(
        "--verbose", action="store_true", help="show Alembic's own progress lines too"
    )

    areas = sub.add_parser("areas", help="the Bangladesh area hierarchy")
    areas_sub = areas.add_subparsers(dest="areas_command", required=True)
    areas_sub.add_parser("import", help="(re)load areas and census population; safe to repeat")
    from bot.cli import area_tags, unlisted

    area_tags.add_commands(areas_sub)

    emulator = sub.add_parser("emulator", help="run only the local Bot API emulator")
    emulator.add_argument("--host", default=None)
    emulator.add_argument("--port", type=int, default=None)

    chat = sub.add_parser("chat", help="talk to a running emulator's bot as a resident")
    chat.add_argument("--url", default=None, help="emulator base URL (default: from config)")
    chat.add_argument("--user-id", type=int, default=None)
    chat.add_argument(
        "--sms", metavar="NUMBER", default=None, help="talk by SMS as this phone (no gateway)"
    )

    content = sub.add_parser("content", help="lessons and strings")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    content_check = content_sub.add_parser("check", help="validate strings, lessons and facts")
    content_check.add_argument(
        "--content", type=Path, help="check this content folder instead (strings/, lessons/)"
    )
    cli_staff.add_commands(sub)
    cli_reach.add_commands(sub)
    cli_alerts.add_commands(sub)
    unlisted.add_commands(sub)
    for commands in (sub, db_sub, areas_sub, content_sub):
        name_choices(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"sabai: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(f"sabai: configuration error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"sabai: {exc}", file=sys.stderr)
        return 1


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        return await _run(args, settings)
    level = settings.log_level
    if getattr(args, "verbose", False) and level in ("WARNING", "ERROR"):
        level = "INFO"
    configure_logging(level, secrets=[settings.bot_token or ""])
    if args.command == "send":
        from bot.wiring.runner import send

        return await send(settings, force=args.force)
    if args.command == "db":
        from bot.core.db import upgrade

        await upgrade(settings.database_url, verbose=args.verbose)
        print(f"database is at the latest schema ({_safe_url(settings.database_url)})")
        return 0
    if args.command == "areas" and args.areas_command != "import":
        from bot.cli import area_tags

        return await area_tags.run(args, settings)
    if args.command == "unlisted":
        from bot.cli import unlisted

        return await unlisted.run(args, settings)
    if args.command == "areas":
        from bot.areas.importer import import_areas
        from bot.wiring.database import prepare_database

        engine, sessions = await prepare_database(settings)
        try:
            report = await import_areas(sessions)
        finally:
            await engine.dispose()
        print(f"imported {report.areas} areas and {report.populations} population figures")
        return 0
    if args.command == "emulator":
        from bot.devtools.emulator import serve

        await serve(args.host or settings.emulator_host, args.port or settings.emulator_port)
        return 0
    if args.command == "chat" and args.sms:
        from bot.devtools.sms_chat import run_sms_chat

        return await run_sms_chat(settings, args.sms)
    if args.command == "chat":
        from bot.channels.telegram.client import EMULATOR_BOT_ID
        from bot.devtools.terminal_chat import run_chat

        url = args.url or f"http://{settings.emulator_host}:{settings.emulator_port}"
        await run_chat(url, user_id=args.user_id, bot_id=EMULATOR_BOT_ID)
        return 0
    if args.command == "content":
        from bot.core.content_check import check_all

        return check_all(sys.stdout, args.content)
    if args.command in cli_staff.COMMANDS:
        return await cli_staff.run(args, settings)
    if args.command in cli_reach.COMMANDS:
        return await cli_reach.run(args, settings)
    if args.command in cli_alerts.COMMANDS:
        return await cli_alerts.run(args, settings)
    return 2


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    if args.no_sender:
        settings = dataclasses.replace(settings, run_sender=False)
    if not args.webhook:
        from bot.wiring.runner import run

        return await run(
            settings,
            chat=not args.no_chat,
            sender=not args.no_sender,
            force_sender=args.force,
            metrics_port=args.metrics_port,
        )
    from bot.wiring.webhook_run import check_webhook_settings, run_webhook

    if args.workers < 1:
        raise ConfigError("--workers must be 1 or more")
    check_webhook_settings(settings, args.workers)
    if args.worker is not None or args.workers == 1:
        return await run_webhook(
            settings,
            worker=args.worker or 0,
            workers=args.workers,
            force_sender=args.force,
            shared_port=args.shared_port,
        )
    from bot.wiring.workers import supervise

    configure_logging(settings.log_level, secrets=[settings.bot_token or ""])
    return await supervise(args.workers, args.config, shared_port=args.shared_port)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sabai")
    except PackageNotFoundError:
        return "(not installed)"


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

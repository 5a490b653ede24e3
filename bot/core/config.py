"""Typed settings from config.toml plus environment overrides."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TELEGRAM_API = "https://api.telegram.org"
LANGUAGES = ("bn", "en", "syl")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# `[reach] denominator` (bot.reach.figures.PREFERENCES; spelled out so config imports no feature).
DENOMINATORS = ("adults", "total")
SQLITE = "sqlite+aiosqlite:///"


class ConfigError(Exception):
    """The configuration is unusable; the message names the key or variable to fix."""


@dataclass(frozen=True)
class Settings:
    """Every setting with its default: config.toml and the README repeat these (a test checks)."""

    # From SABAI_BOT_TOKEN only; None runs offline against the local emulator.
    bot_token: str | None = field(default=None, repr=False)
    # Empty: Telegram's own when a token is set, else the emulator's.
    telegram_api: str = ""
    # A relative SQLite path is resolved against the current directory by load_settings.
    database_url: str = SQLITE + "var/sabai.db"
    polling_timeout: int = 30
    max_concurrent_updates: int = 64
    default_language: str = "bn"
    timezone: str = "Asia/Dhaka"
    emulator_host: str = "127.0.0.1"
    emulator_port: int = 8081
    log_level: str = "INFO"
    small_count_k: int = 5
    retention_days: int = 400
    send_rate: float = 25.0
    run_sender: bool = True
    redis_url: str = field(default="", repr=False)
    run_scheduler: bool = True
    flood_updates: int = 20
    flood_window_seconds: int = 10
    # Webhook mode: the public HTTPS URL Telegram posts to, the host:port this process
    # listens on behind the proxy, and the secret Telegram sends back (SABAI_WEBHOOK_SECRET).
    webhook_url: str = ""
    listen: str = "127.0.0.1:8443"
    webhook_max_connections: int = 40
    webhook_secret: str | None = field(default=None, repr=False)
    # Signs staff buttons; from SABAI_CALLBACK_SECRET, else generated once and kept in the DB.
    callback_secret: str | None = field(default=None, repr=False)
    sms_enabled: bool = False
    # Kannel smsbox's sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    sms_sendsms_url: str = ""
    sms_username: str = ""
    # Where Sabai listens for Kannel's get-url (incoming SMS) and dlr-url (delivery reports).
    sms_listen: str = "127.0.0.1:8090"
    sms_rate_per_second: float = 10.0
    sms_sender_id: str = ""
    # From SABAI_SMS_PASSWORD and SABAI_SMS_SECRET only.
    sms_password: str | None = field(default=None, repr=False)
    sms_secret: str | None = field(default=None, repr=False)
    config_path: Path | None = None
    # Missing communities: an absolute benchmark (reachable per 10,000), and tags ranked first.
    reach_target_per_10000: float | None = None
    reach_priority_tags: tuple[str, ...] = ()
    # What coverage is measured against: people aged 15 and over ("adults") where the census
    # has the figure, or everyone ("total").
    reach_denominator: str = "adults"

    @property
    def uses_emulator(self) -> bool:
        """True when no real Telegram is configured and the local emulator stands in."""
        return self.bot_token is None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Every key config.toml may hold, by section, and the Settings field it sets; anything else is
# a typo that would otherwise be ignored.
FILE_KEYS: Mapping[str, Mapping[str, str]] = {
    "telegram": {
        "api_url": "telegram_api",
        "polling_timeout": "polling_timeout",
        "max_concurrent_updates": "max_concurrent_updates",
        "webhook_url": "webhook_url",
        "listen": "listen",
        "max_connections": "webhook_max_connections",
    },
    "database": {"url": "database_url"},
    "locale": {"default_language": "default_language", "timezone": "timezone"},
    "emulator": {"host": "emulator_host", "port": "emulator_port"},
    "logging": {"level": "log_level"},
    "privacy": {"small_count_k": "small_count_k", "retention_days": "retention_days"},
    "sending": {
        "rate_per_second": "send_rate",
        "run_sender": "run_sender",
        "redis_url": "redis_url",
        "run_scheduler": "run_scheduler",
    },
    "limits": {"flood_updates": "flood_updates", "flood_window_seconds": "flood_window_seconds"},
    "sms": {
        "enabled": "sms_enabled",
        "sendsms_url": "sms_sendsms_url",
        "username": "sms_username",
        "listen": "sms_listen",
        "rate_per_second": "sms_rate_per_second",
        "sender_id": "sms_sender_id",
    },
    "reach": {
        "target_per_10000": "reach_target_per_10000",
        "priority_tags": "reach_priority_tags",
        "denominator": "reach_denominator",
    },
}
KNOWN_KEYS: Mapping[str, frozenset[str]] = {
    name: frozenset(keys) for name, keys in FILE_KEYS.items()
}
# Environment variables and the Settings field each one sets (SABAI_CONFIG names the file).
ENVIRONMENT: Mapping[str, str] = {
    "SABAI_BOT_TOKEN": "bot_token",
    "SABAI_TELEGRAM_API": "telegram_api",
    "SABAI_DATABASE_URL": "database_url",
    "SABAI_LOG_LEVEL": "log_level",
    "SABAI_REDIS_URL": "redis_url",
    "SABAI_CALLBACK_SECRET": "callback_secret",
    "SABAI_SMS_PASSWORD": "sms_password",
    "SABAI_SMS_SECRET": "sms_secret",
    "SABAI_WEBHOOK_SECRET": "webhook_secret",
}
DEFAULTS: Mapping[str, Any] = {f.name: f.default for f in fields(Settings)}


def file_default(section: str, key: str) -> Any:
    """The default of config.toml's `section.key`, as the Settings model holds it."""
    return DEFAULTS[FILE_KEYS[section][key]]


def _section(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: [{name}] must be a table")
    unknown = sorted(set(value) - KNOWN_KEYS[name])
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {name}.{unknown[0]} (known: {sorted(KNOWN_KEYS[name])})"
        )
    return value


def _typed(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key, file_default(where, key))
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key} must be {kind.__name__}, got {value!r}")
    return value


def _positive(table: Mapping[str, Any], key: str, where: str) -> int:
    value: int = _typed(table, key, int, where)
    if value < 1:
        raise ConfigError(f"{where}.{key} must be 1 or more, got {value}")
    return value


def _absolute_sqlite(url: str, base: Path) -> str:
    if url.startswith(SQLITE) and not url.startswith(SQLITE + "/") and ":memory:" not in url:
        return SQLITE + str(base / url[len(SQLITE) :])
    return url


# What Telegram accepts as a webhook secret_token.
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def split_listen(listen: str) -> tuple[str, int]:
    """("host", port) from "host:port"; raises ConfigError naming telegram.listen."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"telegram.listen must be host:port (like 127.0.0.1:8443): {listen!r}")
    return host.strip("[]"), int(port)


def _webhook(telegram: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    url = _typed(telegram, "webhook_url", str, "telegram")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"telegram.webhook_url must be an http(s) URL, got {url!r}")
    listen = _typed(telegram, "listen", str, "telegram")
    split_listen(listen)
    connections = _positive(telegram, "max_connections", "telegram")
    if connections > 100:
        raise ConfigError(f"telegram.max_connections must be 1 to 100, got {connections}")
    secret = environ.get("SABAI_WEBHOOK_SECRET") or None
    if secret is not None and not _SECRET_RE.match(secret):
        raise ConfigError("SABAI_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return {
        "webhook_url": url,
        "listen": listen,
        "webhook_max_connections": connections,
        "webhook_secret": secret,
    }


def load_settings(
    path: Path | None = None, environ: Mapping[str, str] = os.environ, cwd: Path | None = None
) -> Settings:
    """Read the config file (SABAI_CONFIG or ./config.toml) and apply environment overrides.

    Without a file every setting keeps the model's default. Relative paths (the config file's,
    a SQLite database's) are resolved against `cwd`, the current directory by default.
    """
    base = (cwd or Path.cwd()).resolve()
    if path is None:
        path = base / (environ.get("SABAI_CONFIG") or "config.toml")
    data: Mapping[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif "SABAI_CONFIG" in environ:
        raise ConfigError(f"SABAI_CONFIG points to {path}, which does not exist")

    for name in data:
        if name not in KNOWN_KEYS:
            raise ConfigError(f"{path}: unknown section [{name}] (known: {sorted(KNOWN_KEYS)})")
    telegram = _section(data, "telegram", path)
    database = _section(data, "database", path)
    locale = _section(data, "locale", path)
    emulator = _section(data, "emulator", path)
    logging_ = _section(data, "logging", path)
    privacy = _section(data, "privacy", path)
    limits = _section(data, "limits", path)
    sending = _section(data, "sending", path)
    rate = sending.get("rate_per_second", file_default("sending", "rate_per_second"))
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1000:
        raise ConfigError(f"sending.rate_per_second must be between 0 and 1000, got {rate}")

    token = environ.get("SABAI_BOT_TOKEN", "").strip() or None
    if token is not None and ":" not in token:
        raise ConfigError("SABAI_BOT_TOKEN does not look like a bot token (<digits>:<secret>)")
    api = environ.get("SABAI_TELEGRAM_API") or _typed(telegram, "api_url", str, "telegram")
    if not api and token is not None:
        api = TELEGRAM_API
    if api and not api.startswith(("http://", "https://")):
        raise ConfigError(f"SABAI_TELEGRAM_API / telegram.api_url must be an http(s) URL: {api!r}")

    db_url = environ.get("SABAI_DATABASE_URL") or _typed(database, "url", str, "database")
    if not db_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "SABAI_DATABASE_URL / database.url must start with sqlite+aiosqlite:// "
            f"or postgresql+asyncpg:// (got {db_url.split('://')[0]}://…)"
        )

    language = _typed(locale, "default_language", str, "locale")
    if language not in LANGUAGES:
        raise ConfigError(f"locale.default_language must be one of {LANGUAGES}, got {language!r}")
    timezone = _typed(locale, "timezone", str, "locale")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"locale.timezone: unknown timezone {timezone!r}") from exc

    level = environ.get("SABAI_LOG_LEVEL") or _typed(logging_, "level", str, "logging")
    if level.upper() not in LOG_LEVELS:
        raise ConfigError(f"SABAI_LOG_LEVEL / logging.level must be one of {LOG_LEVELS}")
    k = _typed(privacy, "small_count_k", int, "privacy")
    if k < 3:
        raise ConfigError("privacy.small_count_k must be 3 or more")
    target, priority_tags, denominator = _reach(_section(data, "reach", path))

    sms = _sms_settings(_section(data, "sms", path), environ)
    return Settings(
        **sms,
        bot_token=token,
        telegram_api=api,
        database_url=_absolute_sqlite(db_url, base),
        polling_timeout=_typed(telegram, "polling_timeout", int, "telegram"),
        max_concurrent_updates=_positive(telegram, "max_concurrent_updates", "telegram"),
        default_language=language,
        timezone=timezone,
        emulator_host=_typed(emulator, "host", str, "emulator"),
        emulator_port=_typed(emulator, "port", int, "emulator"),
        log_level=level.upper(),
        small_count_k=k,
        retention_days=_positive(privacy, "retention_days", "privacy"),
        send_rate=float(rate),
        run_sender=_typed(sending, "run_sender", bool, "sending"),
        redis_url=environ.get("SABAI_REDIS_URL") or _typed(sending, "redis_url", str, "sending"),
        run_scheduler=_typed(sending, "run_scheduler", bool, "sending"),
        flood_updates=_positive(limits, "flood_updates", "limits"),
        flood_window_seconds=_positive(limits, "flood_window_seconds", "limits"),
        callback_secret=environ.get("SABAI_CALLBACK_SECRET") or None,
        config_path=path,
        **_webhook(telegram, environ),
        reach_target_per_10000=target,
        reach_priority_tags=priority_tags,
        reach_denominator=denominator,
    )


def _reach(reach: Mapping[str, Any]) -> tuple[float | None, tuple[str, ...], str]:
    target = reach.get("target_per_10000")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 10_000
    ):
        raise ConfigError(
            f"reach.target_per_10000 must be a number above 0 and at most 10000, got {target!r}"
        )
    tags = reach.get("priority_tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and t.strip() and len(t) <= 32 for t in tags
    ):
        raise ConfigError(f"reach.priority_tags must be a list of tag names, got {tags!r}")
    denominator = reach.get("denominator", file_default("reach", "denominator"))
    if denominator not in DENOMINATORS:
        raise ConfigError(f"reach.denominator must be one of {DENOMINATORS}, got {denominator!r}")
    return (
        None if target is None else float(target),
        tuple(t.strip().lower() for t in tags),
        denominator,
    )


def _sms_settings(sms: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The [sms] group; when enabled, the gateway URL and both secrets must be there."""
    enabled = _typed(sms, "enabled", bool, "sms")
    url = _typed(sms, "sendsms_url", str, "sms")
    listen = _typed(sms, "listen", str, "sms")
    host, _, port = listen.rpartition(":")
    if not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise ConfigError(f"sms.listen must be host:port, got {listen!r}")
    rate = sms.get("rate_per_second", file_default("sms", "rate_per_second"))
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1000:
        raise ConfigError(f"sms.rate_per_second must be between 0 and 1000, got {rate}")
    password = environ.get("SABAI_SMS_PASSWORD") or None
    secret = environ.get("SABAI_SMS_SECRET") or None
    if enabled:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"sms.sendsms_url must be Kannel's http(s) sendsms URL, got {url!r}")
        if password is None:
            raise ConfigError("sms.enabled needs SABAI_SMS_PASSWORD (Kannel's sendsms password)")
        if secret is None or len(secret) < 16:
            raise ConfigError("sms.enabled needs SABAI_SMS_SECRET of at least 16 characters")
    return {
        "sms_enabled": enabled,
        "sms_sendsms_url": url,
        "sms_username": _typed(sms, "username", str, "sms"),
        "sms_listen": listen,
        "sms_rate_per_second": float(rate),
        "sms_sender_id": _typed(sms, "sender_id", str, "sms"),
        "sms_password": password,
        "sms_secret": secret,
    }

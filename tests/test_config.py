"""Settings come from config.toml and the environment; bad values name what to fix."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot.core.config import (
    DEFAULTS,
    ENVIRONMENT,
    FILE_KEYS,
    TELEGRAM_API,
    ConfigError,
    file_default,
    load_settings,
)


def test_defaults_run_offline_on_sqlite() -> None:
    settings = load_settings(environ={})
    assert settings.bot_token is None and settings.uses_emulator
    assert settings.database_url.startswith("sqlite+aiosqlite:////")
    assert settings.database_url.endswith("/var/sabai.db")
    assert settings.timezone == "Asia/Dhaka" and settings.default_language == "bn"


def test_environment_overrides(tmp_path: Path) -> None:
    token = "12345:" + "a" * 35
    settings = load_settings(
        environ={
            "SABAI_BOT_TOKEN": token,
            "SABAI_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1/sabai",
            "SABAI_LOG_LEVEL": "debug",
        }
    )
    assert settings.bot_token == token and not settings.uses_emulator
    assert settings.telegram_api == TELEGRAM_API
    assert settings.database_url == "postgresql+asyncpg://postgres@127.0.0.1/sabai"
    assert settings.log_level == "DEBUG"
    # The token never shows in the settings' repr (it would end up in logs).
    assert token not in repr(settings)

    custom = load_settings(environ={"SABAI_TELEGRAM_API": "http://127.0.0.1:9999"})
    assert custom.telegram_api == "http://127.0.0.1:9999" and custom.uses_emulator


def test_config_file_from_sabai_config(tmp_path: Path) -> None:
    path = tmp_path / "sabai.toml"
    path.write_text('[locale]\ndefault_language = "en"\ntimezone = "UTC"\n', encoding="utf-8")
    settings = load_settings(environ={"SABAI_CONFIG": str(path)})
    assert settings.default_language == "en" and settings.timezone == "UTC"


@pytest.mark.parametrize(
    ("content", "environ", "names"),
    [
        ('[locale]\ntimezone = "Mars/Olympus"\n', {}, "locale.timezone"),
        ('[locale]\ndefault_language = "fr"\n', {}, "locale.default_language"),
        ('[telegram]\npolling_timeout = "soon"\n', {}, "telegram.polling_timeout"),
        ("[privacy]\nsmall_count_k = 2\n", {}, "privacy.small_count_k"),
        ("not toml at all [", {}, "not valid TOML"),
        ("", {"SABAI_DATABASE_URL": "mysql://x"}, "SABAI_DATABASE_URL"),
        ("", {"SABAI_BOT_TOKEN": "oops"}, "SABAI_BOT_TOKEN"),
        ("", {"SABAI_TELEGRAM_API": "ftp://x"}, "SABAI_TELEGRAM_API"),
        ("", {"SABAI_LOG_LEVEL": "LOUD"}, "SABAI_LOG_LEVEL"),
        ("[sending]\nrate_per_secnd = 10\n", {}, "sending.rate_per_secnd"),
        ("[sending]\nrate_per_second = 5000\n", {}, "sending.rate_per_second"),
        ("[telegarm]\n", {}, "telegarm"),
    ],
)
def test_bad_values_name_what_to_fix(
    tmp_path: Path, content: str, environ: dict[str, str], names: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_settings(path, environ=environ)


def test_missing_sabai_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SABAI_CONFIG"):
        load_settings(environ={"SABAI_CONFIG": str(tmp_path / "nope.toml")})


def test_committed_config_documents_every_key(project_dir: Path) -> None:
    lines = (project_dir / "config.toml").read_text(encoding="utf-8").splitlines()
    keys = [n for n, line in enumerate(lines) if re.match(r"^[a-z_]+ = ", line)]
    assert len(keys) >= 15
    for n in keys:
        assert lines[n - 1].startswith("#"), f"{lines[n]!r} has no comment above it"
    # Every documented key is read (a typo in the file would silently be ignored).
    settings = load_settings(project_dir / "config.toml", environ={})
    assert settings.send_rate == 25 and settings.flood_updates == 20
    assert settings.retention_days == 400 and settings.max_concurrent_updates == 64


def test_committed_config_holds_the_model_defaults(project_dir: Path) -> None:
    data = tomllib.loads((project_dir / "config.toml").read_text(encoding="utf-8"))
    written = {(name, key): value for name, table in data.items() for key, value in table.items()}
    text = (project_dir / "config.toml").read_text(encoding="utf-8")
    # TOML has no null: a key unset by default is shown commented out, as an example.
    unset = {(n, k) for n, keys in FILE_KEYS.items() for k in keys if file_default(n, k) is None}
    for name, key in unset:
        assert re.search(rf"^# {key} = ", text, flags=re.M), f"{name}.{key} is not shown"
    assert sorted(written) == sorted(
        (name, key) for name, keys in FILE_KEYS.items() for key in keys if (name, key) not in unset
    )
    for (name, key), value in written.items():
        expected = file_default(name, key)
        if isinstance(expected, tuple):
            value = tuple(value)
        assert value == expected, f"config.toml's {name}.{key} is not the model's"
    # The settings no file key sets are documented there by their environment variable.
    in_file = {field for keys in FILE_KEYS.values() for field in keys.values()}
    for field in sorted(set(DEFAULTS) - in_file - {"config_path"}):
        [variable] = [v for v, f in ENVIRONMENT.items() if f == field]
        assert variable in text, f"config.toml does not mention {variable}"


def test_readme_documents_every_variable_with_the_model_default(project_dir: Path) -> None:
    readme = (project_dir / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(SABAI_[A-Z_]+)` \|[^|]*\| (.*) \|$", readme, flags=re.M))
    assert sorted(rows) == sorted([*ENVIRONMENT, "SABAI_CONFIG"])
    for variable, name in ENVIRONMENT.items():
        literal = re.fullmatch(r"`([^`]*)`", rows[variable])
        if literal:
            assert literal.group(1) == str(DEFAULTS[name]), variable
        else:
            assert DEFAULTS[name] in (None, ""), f"{variable}: README shows no default"


def test_relative_paths_resolve_against_the_current_directory(tmp_path: Path) -> None:
    here = tmp_path.resolve()
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.config_path == here / "config.toml"
    assert settings.database_url == f"sqlite+aiosqlite:///{here / 'var' / 'sabai.db'}"

    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite+aiosqlite:///data/town.db"\n', encoding="utf-8"
    )
    from_file = load_settings(environ={}, cwd=tmp_path)
    assert from_file.database_url == f"sqlite+aiosqlite:///{here / 'data' / 'town.db'}"
    absolute = load_settings(
        environ={"SABAI_DATABASE_URL": "sqlite+aiosqlite:////srv/sabai.db"}, cwd=tmp_path
    )
    assert absolute.database_url == "sqlite+aiosqlite:////srv/sabai.db"

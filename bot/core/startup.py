"""Start-up failures an operator can fix: one line naming what to change, no traceback."""

from __future__ import annotations

import errno


class StartupError(Exception):
    """Sabai cannot start; the message says what to fix. `sabai` prints it and exits 1."""


def port_in_use(host: str, port: int, error: OSError, fix: str) -> StartupError:
    """The failure to listen on host:port, with `fix` naming the setting to change."""
    if error.errno == errno.EADDRINUSE:
        why = "the port is already in use (is another sabai or emulator running?)"
    else:
        why = error.strerror or str(error)
    return StartupError(f"cannot listen on {host}:{port}: {why}; {fix}")


def database_unavailable(url: str, error: BaseException) -> StartupError:
    """The failure to open the database at `url` (shown without its password)."""
    from sqlalchemy.engine import make_url

    shown = make_url(url).render_as_string(hide_password=True)
    why = " ".join(str(getattr(error, "orig", None) or error).split())[:200]
    return StartupError(
        f"cannot open the database {shown}: {why}; "
        "check SABAI_DATABASE_URL (or database.url in config.toml)"
    )

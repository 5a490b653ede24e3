"""Where the shipped content and migrations are: in the installed package, or in a checkout.

A checkout keeps `content/` and `migrations/` at its top; a wheel carries them inside the
package as `bot/_content` and `bot/_migrations` (setup.py maps them there).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_folder(name: str) -> Path:
    """The folder `name` ("content" or "migrations") of this installation or checkout."""
    # A wheel is always unpacked on disk by pip, so the package's files are real paths
    # that Alembic and the loaders can open.
    packaged = Path(str(resources.files("bot") / f"_{name}"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name


def content_folder() -> Path:
    """The folder holding `strings/` and `lessons/`."""
    return shipped_folder("content")


def migrations_folder() -> Path:
    """The Alembic script folder (env.py and versions/)."""
    return shipped_folder("migrations")

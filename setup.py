"""Packaging that pyproject.toml cannot express: content/ and migrations/ shipped inside bot/.

The repository keeps content/ and migrations/ at its top, where writers and Alembic expect
them; the wheel carries them as bot/_content and bot/_migrations, so an installed `sabai`
needs no checkout (bot/core/resources.py finds either). Everything else is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

SHIPPED = {"bot._content": "content", "bot._migrations": "migrations"}
# Data folders are listed as packages too (setuptools warns about unlisted ones); lesson
# folders, whose names are not identifiers, ride along as their parent's package data.
NOT_CODE = ["__pycache__", "*.__pycache__"]


def _packages() -> list[str]:
    found = find_namespace_packages(
        include=["bot", "bot.*", "handlers", "handlers.*"], exclude=NOT_CODE
    )
    for package, folder in SHIPPED.items():
        found.append(package)
        found += [
            f"{package}.{sub}"
            for sub in find_namespace_packages(where=folder, exclude=NOT_CODE)
            if all(part.isidentifier() for part in sub.split("."))
        ]
    return found


setup(packages=_packages(), package_dir=SHIPPED)

"""Shortcuts that bring a test resident to the menu."""

from __future__ import annotations

from tests.botkit import Harness, Person


async def signed_up(
    h: Harness, user_id: int, language: str = "English", area: str = "Kulaura", **user: object
) -> Person:
    """A resident who chose a language, an area and agreed to the privacy notice."""
    person = h.person(user_id, **user)  # type: ignore[arg-type]
    await person.send("/start")
    await person.send(language)
    await person.send(area)
    await person.send("yes" if language == "English" else "হ্যাঁ")
    return person

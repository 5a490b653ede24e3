"""What the bot shows, independent of the channel: text plus numbered choices."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Option:
    """One choice: its label and the action token a button press or its number triggers."""

    label: str
    action: str


@dataclass(frozen=True)
class Screen:
    """One message: HTML text (user words already escaped) and rows of options."""

    text: str
    rows: tuple[tuple[Option, ...], ...] = ()

    def options(self) -> list[Option]:
        """Options in reading order, as a resident would number them."""
        return [option for row in self.rows for option in row]


@dataclass
class Reply:
    """The answer to one resident action."""

    screens: list[Screen] = field(default_factory=list)
    # Short note for a button press (shown as a toast), and whether it is a warning.
    toast: str | None = None
    alert: bool = False
    # For a button press: show the first screen in place of the message with the button.
    replace: bool = True
    # Chat commands to show this resident, when their language changed.
    language_changed: str | None = None


def rows_of(options: list[Option], per_row: int) -> tuple[tuple[Option, ...], ...]:
    """Lay options out in rows of `per_row`."""
    return tuple(
        tuple(options[start : start + per_row]) for start in range(0, len(options), per_row)
    )

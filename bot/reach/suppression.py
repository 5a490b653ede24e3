"""Small-count suppression, the one place every staff-facing output goes through.

A count from 1 to k−1 could single out a person in a small village, so it is shown as "<k"
and every rate or difference built on it is withheld. Zero is shown: "nobody here yet" is what
a coordinator needs to know and points at no one. Only an admin's audited export turns this
off (`Suppressor.off()`).

Totals are shown because coordinators need them, so a lone suppressed child could be worked
out as the total minus its shown siblings. Complementary suppression closes that: when exactly
one child of a group is hidden, the next smallest is hidden too (`complementary`), and the
renderers ask `hidden(code, figure, n)` instead of looking at the number alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.core.i18n import format_number, localize_digits

DEFAULT_K = 5
MIN_K = 3


@dataclass(frozen=True)
class Count:
    """A count as staff may see it: the number, or only that it is below k."""

    value: int | None
    k: int

    @property
    def suppressed(self) -> bool:
        return self.value is None

    def text(self, language: str = "en") -> str:
        """The count for a person: "<5" when suppressed, digits of the language otherwise."""
        if self.value is None:
            return localize_digits(f"<{self.k}", language)
        return format_number(self.value, language)

    def json(self) -> int | None:
        return self.value


class Suppressor:
    """Turns raw counts into `Count`s and decides which rates may be shown."""

    def __init__(
        self,
        k: int = DEFAULT_K,
        enabled: bool = True,
        forced: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        if k < MIN_K:
            raise ValueError(f"small-count k must be {MIN_K} or more, got {k}")
        self.k = k
        self.enabled = enabled
        # (area code, figure name) cells hidden by complementary suppression.
        self.forced = forced if enabled else frozenset()

    def forcing(self, cells: Iterable[tuple[str, str]]) -> Suppressor:
        """The same suppressor, also hiding these (area code, figure) cells."""
        return Suppressor(self.k, self.enabled, self.forced | frozenset(cells))

    def hidden(self, code: str, name: str, n: int) -> bool:
        """True for a small count, or a cell hidden so that a small one cannot be derived."""
        return self.is_small(n) or (code, name) in self.forced

    def cell(self, code: str, name: str, n: int) -> Count:
        """An area's figure as staff may see it (small or complementarily hidden: "<k")."""
        return Count(None if self.hidden(code, name, n) else n, self.k)

    @classmethod
    def off(cls, k: int = DEFAULT_K) -> Suppressor:
        """No suppression: only for an admin's export, which must be audited by the caller."""
        return cls(k, enabled=False)

    def is_small(self, n: int) -> bool:
        """True for a count that must not be shown (1 … k−1) while suppression is on."""
        return self.enabled and 0 < n < self.k

    def count(self, n: int) -> Count:
        return Count(None if self.is_small(n) else n, self.k)

    def rate(self, numerator: int, denominator: int | None, scale: float = 1.0) -> float | None:
        """numerator / denominator × scale, withheld when either count is small or unknown.

        The denominator may be a census population (never small in practice, checked anyway).
        """
        if not denominator or self.is_small(numerator) or self.is_small(denominator):
            return None
        return numerator * scale / denominator

    def change(self, now: int, before: int) -> float | None:
        """Relative change from `before` to `now` (0.25 = +25 %), withheld on small counts."""
        if before == 0 or self.is_small(now) or self.is_small(before):
            return None
        return (now - before) / before

    def difference(self, expected: int, actual: int) -> int | None:
        """expected − actual (a shortfall), withheld when `actual` is small: it would reveal it."""
        if self.is_small(actual):
            return None
        return expected - actual


def complementary(
    groups: Iterable[Mapping[str, Mapping[str, int]]], s: Suppressor
) -> set[tuple[str, str]]:
    """Cells to hide so that no small count follows from a total minus its shown parts.

    Each group maps a member (an area code, or the parent's own code for residents placed at
    the parent itself) to its figures; the members add up to a total that is shown. Per
    figure, when exactly one member is small, the smallest other member above zero is hidden
    too (zero stays shown: it reveals nothing and hiding it would mislead).
    """
    if not s.enabled:
        return set()
    extra: set[tuple[str, str]] = set()
    for group in groups:
        names = {name for figures in group.values() for name in figures}
        for name in sorted(names):
            values = {code: figures.get(name, 0) for code, figures in group.items()}
            small = [code for code, n in values.items() if s.is_small(n)]
            if len(small) != 1:
                continue
            others = sorted((n, code) for code, n in values.items() if n > 0 and code != small[0])
            if others:
                extra.add((others[0][1], name))
    return extra

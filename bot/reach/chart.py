"""A small coverage image for chat: a map of upazilas, or numbered bars where there is no map.

Written with zlib alone (an 8-bit palette PNG), so Sabai needs no imaging library and no font:
the image carries no words, only colours and the rank numbers of the text beside it (drawn
from a 3×5 digit bitmap). The words, in the reader's language and script, are in the caption.

Colours compare each area's coverage with the benchmark (the deployment's own coverage); an
area whose coverage is withheld by small-count suppression is grey, exactly like one with no
figure, so the picture never reveals what the numbers hide.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.areas.importer import data_dir
from bot.reach.suppression import Suppressor

MAX_BYTES = 150_000
WIDTH = 480
HEIGHT = 480
MARGIN = 12

# Palette indexes.
WHITE, BORDER, GREY, NONE, FAR, BEHIND, NEAR, AHEAD, INK = range(9)
PALETTE = (
    (255, 255, 255),  # background
    (90, 90, 90),  # borders
    (200, 200, 200),  # withheld or unknown
    (120, 0, 40),  # nobody registered
    (215, 48, 39),  # below half the benchmark
    (252, 141, 89),  # half to the benchmark
    (254, 224, 139),  # (unused step kept for a legend; near the benchmark)
    (26, 152, 80),  # at or above the benchmark
    (30, 30, 30),  # digits
)

# 3×5 digits, one row of three bits per line, top first.
DIGITS = {
    "0": (7, 5, 5, 5, 7),
    "1": (2, 6, 2, 2, 7),
    "2": (7, 1, 7, 4, 7),
    "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1),
    "5": (7, 4, 7, 1, 7),
    "6": (7, 4, 7, 5, 7),
    "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7),
    "9": (7, 5, 7, 1, 7),
}


@dataclass(frozen=True)
class Bar:
    """One area in the chart: its code (for the map), reachable residents and the people its
    coverage is measured against (the report's denominator: aged 15 and over, or everyone).

    `expected` stands in for the census where there is none (a union against its siblings).
    """

    code: str
    registered: int
    population: int | None
    expected: int | None = None


def band(bar: Bar, benchmark: float | None, s: Suppressor) -> int:
    """The palette colour of an area: how its coverage compares with the benchmark."""
    if bar.registered == 0 and (bar.population or bar.expected):
        return NONE
    if s.hidden(bar.code, "reachable", bar.registered):
        return GREY
    if bar.population is None and bar.expected:
        ratio_of_expected = s.rate(bar.registered, bar.expected)
        if ratio_of_expected is None:
            return GREY
        ratio = ratio_of_expected
    else:
        rate = s.rate(bar.registered, bar.population, 10_000)
        if rate is None or not benchmark:
            return GREY
        ratio = rate / benchmark
    if ratio < 0.5:
        return FAR
    if ratio < 1.0:
        return BEHIND
    return AHEAD


class Canvas:
    """A palette image in memory, one bytearray per row."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.rows = [bytearray(width) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: int) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        for y in range(max(0, y0), min(self.height, y1)):
            self.rows[y][x0:x1] = bytes([colour]) * max(0, x1 - x0)

    def fill_polygon(self, rings: Sequence[Sequence[tuple[float, float]]], colour: int) -> None:
        """Even-odd scanline fill of all rings together (holes and islands alike)."""
        crossings: dict[int, list[float]] = {}
        for ring in rings:
            for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
                if y0 == y1:
                    continue
                if y0 > y1:
                    x0, y0, x1, y1 = x1, y1, x0, y0
                # Pixel centres y + 0.5 inside [y0, y1).
                first = max(0, int(y0 - 0.5) + (1 if y0 - 0.5 > int(y0 - 0.5) else 0))
                last = min(self.height - 1, int(y1 - 0.5 - 1e-9))
                slope = (x1 - x0) / (y1 - y0)
                for y in range(first, last + 1):
                    crossings.setdefault(y, []).append(x0 + (y + 0.5 - y0) * slope)
        for y, xs in crossings.items():
            xs.sort()
            row = self.rows[y]
            for left, right in zip(xs[0::2], xs[1::2], strict=False):
                a, b = max(0, round(left)), min(self.width, round(right))
                if b > a:
                    row[a:b] = bytes([colour]) * (b - a)

    def line(self, x0: float, y0: float, x1: float, y1: float, colour: int) -> None:
        steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        for i in range(steps + 1):
            x = round(x0 + (x1 - x0) * i / steps)
            y = round(y0 + (y1 - y0) * i / steps)
            if 0 <= x < self.width and 0 <= y < self.height:
                self.rows[y][x] = colour

    def number(self, x: int, y: int, value: int, colour: int = INK, scale: int = 2) -> None:
        for ch in str(value):
            for dy, bits in enumerate(DIGITS[ch]):
                for dx in range(3):
                    if bits & (4 >> dx):
                        self.rect(
                            x + dx * scale,
                            y + dy * scale,
                            x + (dx + 1) * scale,
                            y + (dy + 1) * scale,
                            colour,
                        )
            x += 4 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        return b"".join(
            (
                b"\x89PNG\r\n\x1a\n",
                _chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0)),
                _chunk(b"PLTE", b"".join(bytes(c) for c in PALETTE)),
                _chunk(b"IDAT", zlib.compress(raw, 9)),
                _chunk(b"IEND", b""),
            )
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@cache
def upazila_shapes(
    path: Path | None = None,
) -> Mapping[str, tuple[tuple[tuple[float, float], ...], ...]]:
    """Upazila rings (lon, lat) from the simplified file shipped in bot/areas/data/bd."""
    source = path or data_dir() / "upazilas.min.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    scale = float(data["scale"])
    shapes: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {}
    for code, rings in data["features"].items():
        decoded = []
        for flat in rings:
            x, y = flat[0], flat[1]
            points = [(x / scale, y / scale)]
            for i in range(2, len(flat), 2):
                x, y = x + flat[i], y + flat[i + 1]
                points.append((x / scale, y / scale))
            decoded.append(tuple(points))
        shapes[code] = tuple(decoded)
    return shapes


def coverage_map(bars: Sequence[Bar], benchmark: float | None, s: Suppressor) -> bytes | None:
    """A choropleth of the given upazilas, or None when none of them has a shape."""
    try:
        shapes = upazila_shapes()
    except FileNotFoundError:
        return None  # an install without the map file: the bars still tell it
    drawn = [(bar, shapes[bar.code]) for bar in bars if bar.code in shapes]
    if not drawn:
        return None
    xs = [x for _, rings in drawn for ring in rings for x, _ in ring]
    ys = [y for _, rings in drawn for ring in rings for _, y in ring]
    min_x, max_x, min_y, max_y = min(xs), max(xs), min(ys), max(ys)
    span = max(max_x - min_x, max_y - min_y) or 1.0
    size = min(WIDTH, HEIGHT) - 2 * MARGIN
    unit = size / span

    def project(lon: float, lat: float) -> tuple[float, float]:
        # Latitude grows upward on a map and downward in an image.
        return MARGIN + (lon - min_x) * unit, MARGIN + (max_y - lat) * unit

    width = round((max_x - min_x) * unit) + 2 * MARGIN
    height = round((max_y - min_y) * unit) + 2 * MARGIN
    canvas = Canvas(max(width, 40), max(height, 40))
    projected = [
        (bar, [[project(x, y) for x, y in ring] for ring in rings]) for bar, rings in drawn
    ]
    for bar, rings in projected:
        canvas.fill_polygon(rings, band(bar, benchmark, s))
    for _, rings in projected:
        for ring in rings:
            for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
                canvas.line(x0, y0, x1, y1, BORDER)
    return canvas.png()


def coverage_bars(bars: Sequence[Bar], benchmark: float | None, s: Suppressor) -> bytes:
    """Numbered horizontal bars of coverage (numbers match the text list), benchmark line."""
    shown = list(bars)[:20]
    row_height = 18
    height = 2 * MARGIN + max(1, len(shown)) * row_height
    canvas = Canvas(WIDTH, height)
    left = MARGIN + 28
    usable = WIDTH - left - MARGIN
    rates = [
        None
        if s.hidden(bar.code, "reachable", bar.registered)
        else s.rate(bar.registered, bar.population, 10_000)
        for bar in shown
    ]
    top = max([r for r in rates if r is not None] + [benchmark or 0.0, 1e-9])
    for n, (bar, rate) in enumerate(zip(shown, rates, strict=True)):
        y = MARGIN + n * row_height
        canvas.number(MARGIN, y + 3, n + 1)
        colour = band(bar, benchmark, s)
        length = usable if rate is None else round(usable * rate / top)
        canvas.rect(left, y + 2, left + max(length, 2), y + row_height - 2, colour)
    if benchmark:
        x = left + round(usable * benchmark / top)
        canvas.rect(x, MARGIN // 2, x + 2, height - MARGIN // 2, INK)
    return canvas.png()


def coverage_image(bars: Sequence[Bar], benchmark: float | None, s: Suppressor) -> bytes:
    """A map when the areas are upazilas with shapes, numbered bars otherwise."""
    image = coverage_map(bars, benchmark, s) if any(len(b.code) == 6 for b in bars) else None
    if image is None:
        image = coverage_bars(bars, benchmark, s)
    if len(image) > MAX_BYTES:
        # Cannot happen with these sizes and a palette; kept as a guard for future changes.
        raise ValueError(f"chart of {len(image)} bytes is over {MAX_BYTES}")
    return image

"""Make bot/areas/data/bd/upazilas.min.json from the full upazilas.geojson (run once, by hand).

    python scripts/simplify_upazilas.py SOURCE/upazilas.geojson bot/areas/data/bd/upazilas.min.json

Douglas–Peucker with a tolerance of 0.004° (about 400 m: enough for a map a few hundred
pixels wide), coordinates in thousandths of a degree, rings that collapse to under 4 points
dropped (tiny islands). Output: {"attribution": …, "scale": 1000, "features": {code: [ring,
…]}} where a ring is a flat list of integers: x0, y0, then each next point as the difference
from the one before (lon, lat × 1000). Deterministic; no dependencies.
"""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path

TOLERANCE = 0.004
SCALE = 1000


def _distance(p: list[float], a: list[float], b: list[float]) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return float(((x - x1) ** 2 + (y - y1) ** 2) ** 0.5)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return float(((x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2) ** 0.5)


def simplify(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas–Peucker, iterative (rings have thousands of points)."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, index = 0.0, -1
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > worst:
                worst, index = d, i
        if worst > tolerance and index > 0:
            keep[index] = True
            stack.extend(((first, index), (index, last)))
    return [p for p, k in zip(points, keep, strict=True) if k]


def _deltas(points: list[tuple[int, int]]) -> list[int]:
    flat = [points[0][0], points[0][1]]
    for (x0, y0), (x1, y1) in pairwise(points):
        flat.extend((x1 - x0, y1 - y0))
    return flat


def main(source: str, target: str) -> None:
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    features: dict[str, list[list[int]]] = {}
    for feature in data["features"]:
        code = feature["properties"]["code"]
        geometry = feature["geometry"]
        polygons = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        rings = []
        for polygon in polygons:
            for ring in polygon:
                small = [(round(x * SCALE), round(y * SCALE)) for x, y in simplify(ring, TOLERANCE)]
                if len(small) >= 4:
                    rings.append(_deltas(small))
        features[code] = rings
    out = {
        "attribution": (
            "Boundaries: BBS via OCHA/HDX cod-ab-bgd (CC BY 3.0 IGO), as packaged in the R "
            "package 'bangladesh' (MIT); simplified for Sabai (see SOURCES.md)."
        ),
        "scale": SCALE,
        "features": dict(sorted(features.items())),
    }
    Path(target).write_text(json.dumps(out, separators=(",", ":")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

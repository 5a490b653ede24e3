"""Fill the `population_15plus` column of bot/areas/data/bd/population.csv (run by hand).

    # in a clone of github.com/UNDP-CREW/crisis_risk_dashboard
    AT=71d014396a8fa7c5a5221cc4516f6c8b0ad5632f
    git show $AT:data/bgd_admpop_adm3_2022.csv > /tmp/adm3.csv
    git show $AT:data/bgd_admpop_adm2_2022.csv > /tmp/adm2.csv
    python scripts/adult_population.py /tmp/adm3.csv /tmp/adm2.csv

The source is HDX COD-PS "bgd_admpop_adm3_2022" (UNFPA, CC BY 3.0 IGO) as copied into
github.com/UNDP-CREW/crisis_risk_dashboard; see bot/areas/data/bd/SOURCES.md. It gives each of
the 544 upazilas/thanas its total and 5-year age bands, so the population aged 15 and over is
exact (total minus the bands 0–4, 5–9 and 10–14); 18 and over would need the 15–19 band split,
which no source here has. District and division figures are sums of their upazilas, as for the
totals; the second file (the source's own district table) is only a check.

Nothing is written unless every check passes: the source file is the one recorded below, its
age bands add up to its totals, every upazila code is one of ours with the same 2022 total, male
and female figures, and the district sums equal the district table's. 2011 rows get an empty
cell (the 2011 census tables shipped have no age bands). Deterministic; no dependencies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from collections import defaultdict
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "bot" / "areas" / "data" / "bd" / "population.csv"
COLUMN = "population_15plus"
YEAR = "2022"
CHILD_BANDS = ("T_00_04", "T_05_09", "T_10_14")
# sha256 of the two files at the commit named in SOURCES.md, so a rerun builds the same column.
SHA256 = {
    "adm3": "d69287fd7a17904fc08b658c9297b68ad04f51e0de45522e2bf9973aef70d231",
    "adm2": "7a8c9018ef97742c98f3742aa14d57918571af71c6110a71aee40e3bc26f2223",
}


class SourceError(Exception):
    """The source disagrees with the shipped data or with itself; nothing was written."""


def _read(path: Path, kind: str) -> list[dict[str, str]]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256[kind]:
        raise SourceError(f"{path}: sha256 {digest} is not the recorded {kind} file's")
    # The files start with a byte-order mark.
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _adults(row: dict[str, str], where: str) -> int:
    total = int(row["T_TL"])
    bands = [int(value) for name, value in row.items() if name.startswith("T_") and name != "T_TL"]
    if sum(bands) != total:
        raise SourceError(f"{where}: age bands add up to {sum(bands)}, not T_TL {total}")
    return total - sum(int(row[band]) for band in CHILD_BANDS)


def adults_by_code(
    adm3: list[dict[str, str]], shipped: dict[str, dict[str, str]]
) -> dict[str, int]:
    """15+ per upazila, district and division code, checked against the shipped 2022 rows."""
    upazilas = {code for code, row in shipped.items() if row["level"] == "upazila"}
    out: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    for row in adm3:
        code = row["ADM3_PCODE"].removeprefix("BD")
        mine = shipped.get(code)
        if mine is None or mine["level"] != "upazila":
            raise SourceError(
                f"{row['ADM3_PCODE']} ({row['ADM3_NAME']}) is not one of our upazilas"
            )
        for theirs, ours in (("T_TL", "total"), ("M_TL", "male"), ("F_TL", "female")):
            if int(row[theirs]) != int(mine[f"population_{ours}"]):
                raise SourceError(f"{code}: {theirs} {row[theirs]} differs from population_{ours}")
        adults = _adults(row, code)
        seen.add(code)
        for length in (2, 4, 6):
            out[code[:length]] += adults
    if missing := sorted(upazilas - seen):
        raise SourceError(f"no source row for upazilas {', '.join(missing)}")
    return dict(out)


def check_districts(adm2: list[dict[str, str]], adults: dict[str, int]) -> None:
    """The upazila sums must equal the source's own district table."""
    for row in adm2:
        code = row["ADM2_PCODE"].removeprefix("BD")
        if adults.get(code) != _adults(row, code):
            raise SourceError(
                f"district {code}: its upazilas' sum {adults.get(code)} differs from the table"
            )


def main(adm3_path: str, adm2_path: str) -> None:
    with TARGET.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c for c in reader.fieldnames or () if c != COLUMN]
        rows = list(reader)
    shipped = {row["code"]: row for row in rows if row["year"] == YEAR}
    adults = adults_by_code(_read(Path(adm3_path), "adm3"), shipped)
    check_districts(_read(Path(adm2_path), "adm2"), adults)
    if missing := sorted(set(shipped) - set(adults)):
        raise SourceError(f"no 15+ figure for {', '.join(missing)}")
    out = io.StringIO()
    writer = csv.DictWriter(out, [*columns, COLUMN], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        row[COLUMN] = str(adults[row["code"]]) if row["year"] == YEAR else ""
        writer.writerow(row)
    TARGET.write_text(out.getvalue(), encoding="utf-8")
    sys.stdout.write(
        f"{len(shipped)} rows of {YEAR} given {COLUMN}, {len(rows) - len(shipped)} left empty\n"
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        main(sys.argv[1], sys.argv[2])
    except SourceError as exc:
        sys.exit(f"nothing written: {exc}")

"""How long `sabai` commands take from the shell prompt to their exit, on a ready database.

Each command runs as its own process (as an operator or a cron job runs it) against a SQLite
database in a temp folder, migrated and with the areas loaded beforehand, so the figures are
start-up (imports, settings, the migration check) plus a small query. The rounds take turns
across commands so a slow minute on a shared machine spreads over all of them; the CPU time
of each process is printed too, as it depends less on what else the machine is doing. Two
references: the bare interpreter, and importing aiogram, which none of these commands does.

    .venv/bin/python bench/cli_start.py
    .venv/bin/python bench/cli_start.py --rounds 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
COMMANDS = [
    ["--version"],
    ["content", "check"],
    ["db", "upgrade"],
    ["alerts", "list"],
    ["audit"],
    ["staff", "list"],
    ["reach"],
    ["missing", "--top", "5"],
]
REFERENCES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import aiogram.types'": [sys.executable, "-c", "import aiogram.types"],
}


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of `argv`."""
    cpu, start = _cpu_of_children(), time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - start, _cpu_of_children() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sabai = Path(sys.executable).with_name("sabai")
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SABAI_")}
        env["SABAI_DATABASE_URL"] = f"sqlite+aiosqlite:///{Path(folder) / 'cli.db'}"
        first, _ = _timed([str(sabai), "areas", "import"], env, PROJECT)
        print(f"first start (migrate an empty database, import the areas): {first:.2f} s")
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for name, argv in REFERENCES.items():
                runs.setdefault(name, []).append(_timed(argv, env, PROJECT))
            for command in COMMANDS:
                name = "sabai " + " ".join(command)
                runs.setdefault(name, []).append(_timed([str(sabai), *command], env, PROJECT))
    print(f"seconds per run, {args.rounds} runs; CPU is user + system time of the process")
    print(f"{'command':<36} {'wall min':>8} {'wall median':>11} {'CPU median':>10}")
    for name, pairs in runs.items():
        wall = [w for w, _ in pairs]
        cpu = statistics.median(c for _, c in pairs)
        print(f"{name:<36} {min(wall):>8.2f} {statistics.median(wall):>11.2f} {cpu:>10.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The whole check, as `make test` and CI run it: services, lint, types, content, the
# installed wheel, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/services.sh

echo "== ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
echo "== mypy"
"$BIN/mypy"
echo "== content check"
"$BIN/sabai" content check
echo "== wheel (installed outside the checkout)"
bash scripts/wheel_check.sh
echo "== pytest"
"$BIN/pytest" "$@"

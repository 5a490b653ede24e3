#!/usr/bin/env bash
# Build the wheel as `pip install .` does, install it into a fresh venv outside the checkout
# and run `sabai` from another folder: strings, lessons, migrations and area data must all
# come from the installed package. The new venv borrows the project venv's dependencies
# (a .pth line) instead of downloading them again; Sabai itself comes only from the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
BIN=$root/.venv/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The sources as a fresh clone has them: no venv, database or build leftovers.
mkdir "$tmp/src"
tar -C "$root" --exclude=./.git --exclude=./.venv --exclude=./var --exclude=./build \
  --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache --exclude=.ruff_cache \
  --exclude=.pytest_cache --exclude=.hypothesis -cf - . | tar -C "$tmp/src" -xf -
"$BIN/pip" wheel --quiet --no-deps --wheel-dir "$tmp/dist" "$tmp/src"

"$BIN/python" -m venv --without-pip "$tmp/venv"
"$BIN/pip" --python "$tmp/venv/bin/python" install --quiet --no-deps "$tmp"/dist/sabai-*.whl
purelib='import sysconfig; print(sysconfig.get_path("purelib"))'
"$BIN/python" -c "$purelib" >"$("$tmp/venv/bin/python" -c "$purelib")/sabai-deps.pth"

mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"
unset SABAI_CONFIG SABAI_DATABASE_URL SABAI_BOT_TOKEN SABAI_TELEGRAM_API SABAI_LOG_LEVEL
sabai=$tmp/venv/bin/sabai
fail() { echo "wheel check: $*" >&2; exit 1; }
# Log lines are shown only when a command fails.
quiet() { "$@" 2>"$tmp/stderr" || { cat "$tmp/stderr" >&2; fail "failed: ${*#"$tmp"/}"; }; }

"$sabai" --version
where=$("$tmp/venv/bin/python" -c 'import bot; print(bot.__file__)')
[[ $where == "$tmp/venv/"* ]] || fail "bot was imported from $where, not from the wheel"
"$sabai" content check >content.txt || { cat content.txt; fail "sabai content check failed"; }
tail -n 1 content.txt
export SABAI_DATABASE_URL="sqlite+aiosqlite:///$tmp/wheel.db"
quiet "$sabai" db upgrade
quiet "$sabai" areas import
unset SABAI_DATABASE_URL
# With no config file and no variables, the database is var/sabai.db under this folder.
quiet "$sabai" db upgrade
[[ -f var/sabai.db ]] || fail "the default SQLite database is not under the current folder"
echo "wheel check: ok"

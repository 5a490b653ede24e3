# Two commands do all the set-up (see README): `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench wheel-check clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run Sabai on the embedded default (SQLite; the local emulator and a terminal chat when
## SABAI_BOT_TOKEN is not set).
run: $(STAMP)
	$(BIN)/sabai run

## Lint, type-check, validate content and run the whole test suite (SQLite and PostgreSQL).
test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/python bench/updates.py

## Build the wheel, install it in a fresh venv and run `sabai` outside the checkout (part of `make test`).
wheel-check: $(STAMP)
	bash scripts/wheel_check.sh

clean:
	rm -rf $(VENV) var build .mypy_cache .ruff_cache .pytest_cache

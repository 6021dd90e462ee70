# reconciler: the commands a new user needs. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: install test lint format demo bench mariadb chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## The whole suite, against SQLite and a real MariaDB (started here if it is down), and the
## report in a real headless Chromium (installed here if it is missing).
test: install mariadb chromium
	$(BIN)/python -m pytest

mariadb:
	@scripts/ensure-mariadb.sh

chromium:
	@scripts/ensure-chromium.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## The main job on the embedded default: an OSCAR database in SQLite with drift,
## then plan, apply, plan again.
demo: install
	@scripts/demo.sh

## Speed and memory: the hot paths, then a synthetic fleet planned as a user runs it
## (ends with one JSON line of figures; `bench/fleet.py --help` for its options), then the
## HTML report of 1,000 Accuro clinics (render time, sizes, the index in Chromium).
bench: install mariadb
	$(BIN)/python bench/run.py
	$(BIN)/python bench/fleet.py $(BENCH_ARGS)
	$(BIN)/python bench/report.py

clean:
	rm -rf $(VENV) .demo .reconcile .pytest_cache .mypy_cache .ruff_cache test-artifacts

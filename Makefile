# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint install bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Serve the API on :8000: use the PostgreSQL DATABASE_URL names, or start an embedded one
## when nothing answers at a local URL (data in .data/postgres; stopped on exit), create
## the database if missing, migrate, serve.
run: $(STAMP)
	$(BIN)/memory-agent serve --start-database --host $(HOST) --port $(PORT)

## Every check: layers, lint, types, then all tests on a throwaway PostgreSQL database
## (an embedded one when nothing answers at a local DATABASE_URL; tests without one first).
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest

## Load test: the API as production runs it, next to pgbench's ceiling (see docs/benchmarks.md).
## BENCH_DURATION (s per load, 10) and BENCH_RUNS (passes, 2) bound it.
bench: $(STAMP)
	command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python -m bench.run

## Mixed traffic for SOAK_DURATION seconds (default 600): no errors, flat RSS, flat latency.
soak: $(STAMP)
	command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y wrk; }
	$(BIN)/python -m bench.soak

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

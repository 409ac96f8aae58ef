# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The exact versions (and hashes) every install uses, CI's included; `make lock` renews it.
LOCK := requirements.lock
UV_VERSION := 0.13.9

.PHONY: run test lint install lock bench soak clean topology-test

# A system tool a target needs: installed with apt-get when we are root, else named.
# $(call need,COMMAND,DEBIAN PACKAGE)
need = command -v $(1) >/dev/null 2>&1 || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq $(2); \
	else \
		echo "$(1) is missing: install it (Debian/Ubuntu: sudo apt-get install $(2); macOS: brew install $(1))" >&2; \
		exit 1; \
	fi; }

## The virtualenv .venv: the locked versions, then the project itself (no resolving).
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Re-resolve after adding or changing a dependency in pyproject.toml: keeps the current
## pins where they still fit; `make lock LOCK_ARGS=--upgrade` moves all to the newest.
lock:
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet --custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)

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

## The end-to-end tests through PgBouncer in transaction mode, two API processes behind it
## (tests/topology.py); installs Debian's pgbouncer when missing.
topology-test: $(STAMP)
	@[ -x /usr/sbin/pgbouncer ] || $(call need,pgbouncer,pgbouncer)
	$(BIN)/python -m tests.topology

## Load test: the API as production runs it, next to pgbench's ceiling (see docs/benchmarks.md).
## BENCH_DURATION (s per load, 10) and BENCH_RUNS (passes, 2) bound it.
bench: $(STAMP)
	@$(call need,wrk,wrk)
	$(BIN)/python -m bench.run

## Mixed traffic for SOAK_DURATION seconds (default 600): no errors, flat RSS, flat latency.
soak: $(STAMP)
	@$(call need,wrk,wrk)
	$(BIN)/python -m bench.soak

## The static checks only: layers, lint, format, types (seconds).
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## Remove the virtualenv and the tools' caches. The embedded server's data (.data/) stays.
clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache build *.egg-info

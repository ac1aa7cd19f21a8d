# mhbench: two commands on a fresh machine (Python 3.11 is all it needs).
#   make demo   install, write the sample returns, run the annual cycle, publish a release
#   make test   install and run the test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export MHBENCH_HOME ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(MHBENCH_HOME)/dagster
# No network at run time: telemetry off everywhere.
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False

UV := python3 -m uv
RUN := $(UV) run --frozen

.PHONY: help setup demo test lint format ui bench clean
.PHONY: pg-up pg-down demo-pg setup-lake demo-lake

help:
	@echo "make demo   - install, generate sample returns, run the annual cycle, publish a release"
	@echo "make test   - install and run the tests"
	@echo "make ui     - Dagster UI on http://127.0.0.1:3000"
	@echo "make bench  - time the annual cycle and the import floor"
	@echo "make lint   - ruff check and format check"
	@echo "make clean  - remove $(MHBENCH_HOME) and build outputs"
	@echo "make pg-up / pg-down - a throwaway PostgreSQL on 127.0.0.1 for the Dagster instance"
	@echo "make demo-pg - make demo with the Dagster instance on that PostgreSQL"
	@echo "make setup-lake - .venv-lake: the environment of the DuckLake warehouse (duckdb 1.5.5)"
	@echo "make demo-lake - make demo with the warehouse as DuckLake, its catalog on that PostgreSQL"

setup: .venv/.mhbench-installed .venv-clients/.installed

# Older DuckDB clients, each in a venv of its own, that the tests open a release with
# (tests/e2e/test_release_clients.py): a release must open in the clients analysts have.
OLD_DUCKDB_VERSIONS := 1.4.0 1.5.5
.venv-clients/.installed: Makefile
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	for v in $(OLD_DUCKDB_VERSIONS); do \
	  $(UV) venv --quiet --allow-existing --python python3.11 .venv-clients/duckdb-$$v && \
	  $(UV) pip install --quiet --python .venv-clients/duckdb-$$v/bin/python duckdb==$$v || exit 1; \
	done
	@touch $@

# The warehouse as DuckLake (MHBENCH_WAREHOUSE=ducklake) runs in .venv-lake: the same lock,
# its `lake` group (duckdb 1.5.5 and the ducklake and postgres extensions, from PyPI) instead
# of the default duckdb 2.0.1. The tests run the lake's code with its python.
LAKE_VENV := .venv-lake
setup-lake: $(LAKE_VENV)/.mhbench-installed

$(LAKE_VENV)/.mhbench-installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	UV_COMPILE_BYTECODE=1 UV_PROJECT_ENVIRONMENT=$(LAKE_VENV) $(UV) sync --frozen --no-default-groups --group lake
	@touch $@

.venv/.mhbench-installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	# Precompile the venv once: this machine sets PYTHONDONTWRITEBYTECODE, and without .pyc
	# files every start recompiles dagster, dbt and great_expectations (GE import 11 s -> 6 s).
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen
	$(RUN) python -c "from orchestration.dbt_manifest import ensure_manifest; ensure_manifest()"
	@touch $@

# The collection of a year, on the sample: a draft release for participants to review, each
# lead's sign-off and the team's approval (recorded `--by demo`; the deliberately bad returns
# stay unapproved), then the final release.
demo: setup
	$(RUN) mhbench sample
	$(RUN) mhbench run --draft
	$(RUN) mhbench signoff --all --by demo --note "sample returns: the demo signs off for every lead"
	$(RUN) mhbench approve --all --by demo
	$(RUN) mhbench run

test: setup setup-lake
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) pytest -n 2 --dist loadgroup --durations=15

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: setup
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

ui: setup
	$(RUN) python -c "from orchestration.instance import prepare_instance as p; p()"
	$(RUN) dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

bench: setup
	$(RUN) python scripts/bench.py

clean:
	rm -rf "$(MHBENCH_HOME)" dbt_project/target dbt_project/logs

# The Dagster instance on PostgreSQL (README, "Running on more than one machine"): a throwaway
# server from Debian's postgresql (initdb/pg_ctl) in $TMPDIR/mhbench-pg; pg-up prints the
# MHBENCH_DAGSTER_PG to export.
pg-up: setup
	$(RUN) python scripts/pg_server.py up

pg-down: setup
	$(RUN) python scripts/pg_server.py down

demo-pg: pg-up
	MHBENCH_DAGSTER_PG=$$($(RUN) python scripts/pg_server.py url) $(MAKE) demo

# make demo with the warehouse as DuckLake: its catalog in a database of make pg-up's server
# (created when missing), its data files under $(MHBENCH_HOME)/lake/, run from .venv-lake.
LAKE_RUN := $(LAKE_VENV)/bin/
demo-lake: pg-up setup-lake
	export MHBENCH_WAREHOUSE=ducklake && \
	export MHBENCH_LAKE_CATALOG=$$($(RUN) python scripts/pg_server.py lake-catalog) && \
	$(LAKE_RUN)mhbench sample && \
	$(LAKE_RUN)mhbench run --draft && \
	$(LAKE_RUN)mhbench signoff --all --by demo --note "sample returns: the demo signs off for every lead" && \
	$(LAKE_RUN)mhbench approve --all --by demo && \
	$(LAKE_RUN)mhbench run

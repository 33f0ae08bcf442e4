# Yigongti 医共体 — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1:8000

.PHONY: assets run test lint typecheck checks pytest test-postgres bench bench-big demo-reset clean help

help:
	@echo "make run            set up, build the demo county (SQLite) and serve http://$(HOST)"
	@echo "make test           lint, type check, Django checks and the whole test suite"
	@echo "make test-postgres  the suite against PostgreSQL (YGT_TEST_PG_URL, default local)"
	@echo "make bench          benchmarks (see docs/benchmarks.md)"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Self-hosted browser assets (ECharts for the indicator dashboard) from the npm registry,
# pinned and checked (tools/fetch_assets.py); quick when they are already there.
assets: $(STAMP)
	@$(PY) tools/fetch_assets.py

# The MQTT subscriber (home BP meters and glucometers, docs/devices.md) runs beside the web
# server and stops with it; without a broker it keeps retrying and the pages still work.
run: assets
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py demo --address $(HOST)
	@$(PY) manage.py mqtt_subscriber & sub=$$!; \
	  trap 'kill $$sub 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src bench

checks: $(STAMP)
	$(PY) manage.py check --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run

pytest: assets
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint typecheck checks pytest

YGT_TEST_PG_URL ?= postgres://postgres:postgres@127.0.0.1:5432/yigongti
test-postgres: assets
	YGT_DATABASE_URL=$(YGT_TEST_PG_URL) $(PY) manage.py check --database default
	YGT_DATABASE_URL=$(YGT_TEST_PG_URL) $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py --quick

bench-big: $(STAMP)
	$(PY) bench/run.py

demo-reset:
	rm -f var/yigongti.sqlite3 var/yigongti.sqlite3-wal var/yigongti.sqlite3-shm

clean: demo-reset
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

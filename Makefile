# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
WORKERS ?= 2

.PHONY: run test lint install install-dev migrate db-check chromium wrk bench fuzz clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(FLASK) db upgrade

## run: venv, install, migrate, demo organization and admin, serve on 127.0.0.1:5000 with the job worker
##      beside it (bin/run-all: Ctrl-C stops both)
run: migrate
	$(FLASK) demo --credentials-file instance/demo-credentials.txt
	WEB_CONCURRENCY=$(WORKERS) BIND=127.0.0.1:5000 $(BIN)/python bin/run-all

## chromium: Debian's Chromium for the browser tests (installed only when missing and root)
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "*** chromium is missing and this is not root: browser tests will be SKIPPED ***"; \
	fi

## test: venv with dev extras, the whole suite (PostgreSQL too when TEST_DATABASE_URL is set)
test: install-dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff (lint and format check) over the repo, mypy (strict on portal/core and scim_blueprint; see pyproject.toml)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## fuzz: 20,000 hypothesis-generated requests, 2,500 for each of the 8 fuzz tests (PostgreSQL too when set): the
##       4 of SCIM bodies, filters, PATCHes and raw requests, and the 4 hostile-URL walks of the console and SCIM
fuzz: install-dev
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2500} $(BIN)/python -m pytest -q --timeout 3600 tests/proof/test_fuzz.py tests/test_hostile_urls.py -k fuzzed $(PYTEST_ARGS)

## wrk: Debian's wrk for the load bench (installed only when missing and root)
wrk:
	@if command -v wrk >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian's wrk for the load bench"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	else \
		echo "*** wrk is missing and this is not root: apt-get install -y wrk ***"; exit 1; \
	fi

$(VENV)/.installed-bench: $(VENV)/.installed bench/requirements.txt
	$(BIN)/python -m pip install -q -r bench/requirements.txt
	touch $@

## bench: the app against the bare Flask ceiling and scim2-server, then the 100k scale figures
##        (WORKERS=4 for more gunicorn workers; BENCH_DATABASE_URL=postgresql+psycopg://... adds PostgreSQL;
##        BENCH_ARGS="--duration 5 --sync-users 20000" for a shorter run)
bench: $(VENV)/.installed-bench wrk
	$(BIN)/python bench/run.py --workers $(WORKERS) $(BENCH_ARGS)

## db-check: the models and the migrations agree
db-check: install
	$(BIN)/python -m pytest tests/test_migrations.py

clean:
	rm -rf $(VENV) instance .pytest_cache

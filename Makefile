# Quick start: `make run`, then `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run setup test test-slow test-postgres lint typecheck clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

setup: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py load_demo

# PORT (default 8000) and MUSTER_SANDBOX_PORT (default 8100) choose the ports.
run: setup
	$(PY) -m muster.devserver

# The suite on SQLite (the embedded default); DATABASE_URL=postgres://... runs it on PostgreSQL.
test: $(VENV)/.dev
	$(VENV)/bin/pytest -m "not slow" -n 2

test-slow: $(VENV)/.dev
	$(VENV)/bin/pytest -m slow

# ruff, then the import contracts of DESIGN §3 (pyproject.toml, [tool.importlinter]).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --no-cache

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

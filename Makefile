# Two entry points: `make run` and `make test`. Both work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format translations extract bench clean migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

translations: $(STAMP)
	$(BIN)/pybabel -q compile -d wellbeing/translations

# Maintainers: refresh the catalogs after changing user-facing strings, then translate zh_CN.
extract: $(STAMP)
	$(BIN)/pybabel -q extract -F wellbeing/translations/babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --no-location --sort-output -o wellbeing/translations/messages.pot .
	$(BIN)/pybabel -q update -i wellbeing/translations/messages.pot -d wellbeing/translations --no-fuzzy-matching --ignore-obsolete

run: $(STAMP) translations
	$(BIN)/wellbeing demo

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(DEV_STAMP) translations lint
	$(BIN)/python -m pytest -n auto -q

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

migration: $(STAMP)
	$(BIN)/python migrations/regenerate.py

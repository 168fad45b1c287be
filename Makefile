# The two commands of the README:
#   make demo   set up, then analyse the bundled sample corpus (offline engine)
#   make test   set up with dev tools, then run every check CI runs
VENV ?= .venv
BIN := $(VENV)/bin
QUESTION ?= What do the teams want from the new remote control, and what worries them?

.PHONY: demo test setup setup-dev check pytest

demo: setup
	$(BIN)/workbench analyze samples/ami-meetings -q "$(QUESTION)" --project projects/sample

setup:
	bash scripts/setup.sh run

setup-dev:
	bash scripts/setup.sh dev

test: setup-dev check pytest

check:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest:
	$(BIN)/python -m pytest -q

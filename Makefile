# `make run` and `make test` set everything up from a fresh clone; nothing else is needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format setup system-deps samples bench clean

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

run: setup
	$(BIN)/streamlit run app.py

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

samples: setup
	$(BIN)/python -m synth samples --out sample_videos

bench: setup
	$(BIN)/python -m bench.speed
	$(BIN)/python -m bench.accuracy
	$(BIN)/python -m bench.batch

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

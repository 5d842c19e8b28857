# fraudlite: `make demo` trains, converts, checks parity and serves; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= service,server,train,hf,bench,client,dev
ARTIFACTS ?= artifacts
ROWS   ?= 200000
N_ITER ?= 8
PORT   ?= 8000
PARITY_ROWS ?= 1000000
KEEP_SERVING ?= 1

.PHONY: setup demo train convert parity serve serve-demo test lint format bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

# The main job: train on built-in data, export to ONNX, prove parity, serve and answer a request.
demo: train convert parity serve-demo

train: setup
	$(BIN)/fraud-train --data synthetic:$(ROWS) --n-iter $(N_ITER) --out $(ARTIFACTS)

convert: setup
	$(BIN)/fraud-convert $(ARTIFACTS)

parity: setup
	$(BIN)/fraud-parity --model $(ARTIFACTS)/model.onnx --pipeline $(ARTIFACTS)/pipeline.joblib \
		--data synthetic:$(PARITY_ROWS) --seed 1 --json $(ARTIFACTS)/parity.json

serve-demo: setup
	BIN=$(BIN) KEEP_SERVING=$(KEEP_SERVING) scripts/demo_serve.sh $(ARTIFACTS)/model.onnx $(PORT)

serve: setup
	$(BIN)/fraud-serve --model $(ARTIFACTS)/model.onnx --host 127.0.0.1 --port $(PORT)

# The Streamlit client (client/app.py) against FRAUD_API_URL, by default the local `make serve`.
CLIENT_PORT ?= 8501
FRAUD_API_URL ?= http://127.0.0.1:$(PORT)
.PHONY: client
client: setup
	FRAUD_API_URL=$(FRAUD_API_URL) STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
		$(BIN)/streamlit run client/app.py --server.headless=true --server.address=127.0.0.1 \
		--server.port=$(CLIENT_PORT) --browser.gatherUsageStats=false

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

# Every benchmark against the baseline (a few minutes; trains and converts first if needed):
# benchmarks/results/latest.json, latest.md and PNGs. See docs/benchmarks.md.
bench: setup
	test -f $(ARTIFACTS)/model.onnx || $(MAKE) train convert
	bash .ci/install-aws-tools
	$(BIN)/python -m benchmarks --artifacts $(ARTIFACTS) --out benchmarks/results

# Deployment: `make lock` recompiles requirements/service.lock (the Lambda image's dependencies,
# hashed) with a pinned uv in its own venv; `make footprint` measures installed dependency sizes.
.PHONY: lock footprint
lock: setup
	$(BIN)/python requirements/lock.py

footprint: setup
	$(BIN)/python -m benchmarks.footprint

clean:
	rm -rf $(ARTIFACTS) .pytest_cache .ruff_cache

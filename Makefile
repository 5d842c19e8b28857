# fraudlite: `make demo` trains, converts, checks parity and serves; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
EXTRAS ?= service,server,train,hf,bench,client,dev,batch,ray
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

# The whole suite on a fresh machine: the Lambda emulator (for the RIE tests) is installed first,
# the workflows and the Dockerfile are linted, then ruff and pytest.
test: setup aws-tools lint-ci
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

# --- CI/CD (issue 18): every workflow step is one of these targets, runnable locally -----------
# docs/cicd.md. Variables with AWS values come from the GitHub environment in CI.
AWS_TOOLS ?= $(or $(FRAUDLITE_AWS_TOOLS),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/fraudlite/aws-tools-sam1.170.0)
SAM       ?= $(AWS_TOOLS)/bin/sam
IMAGE     ?= fraudlite:local
BUILDX_ARGS ?=
RIE_PORT  ?= 9000
TEST_MODEL ?= $(ARTIFACTS)/model.onnx
IMAGE_TAG ?= $(shell git rev-parse HEAD)
ECR_REPOSITORY_URI ?=
AWS_REGION ?= $(or $(AWS_DEFAULT_REGION),us-east-1)
STACK     ?= fraudlite-staging
MODEL_BUCKET ?=
MODEL_PREFIX ?= models/
PIN_FILE  ?= deploy/model.json
CFN_EXECUTION_ROLE_ARN ?=
DEPLOY_PARAMS ?=
URL       ?=
EXPECT_PINNED ?=
SMOKE_ARGS ?=
LOAD_USERS ?= 5
LOAD_SECONDS ?= 30
MAX_ERROR_RATE ?= 0.01
MAX_P99_MS ?= 1000
TRAINING_DATA_URI ?=
RETRAIN_DATA ?= data/$(notdir $(TRAINING_DATA_URI))
CANDIDATE ?= candidate
CURRENT   ?= current
RETRAIN_ARGS ?= --n-iter $(N_ITER)
TARGET_RECALL ?= 0.9
PR_AUC_TOLERANCE ?= 0.01
OUT       ?= ci-out

.PHONY: aws-tools lint-ci image image-test image-scan ecr-push deploy-template deploy stack-url \
	smoke load-check retrain-data retrain current-model retrain-gate publish pin-model model-pr

# AWS's Lambda emulator and SAM CLI, in a venv of their own (idempotent; about a minute once).
aws-tools:
	bash .ci/install-aws-tools

# actionlint (with shellcheck on the run: scripts) on .github/workflows, hadolint on the Dockerfile.
lint-ci: setup
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/actionlint
	$(BIN)/hadolint Dockerfile

# The Lambda image, with docker buildx (BUILDX_ARGS: e.g. --cache-from/--cache-to type=gha).
image:
	docker buildx build --load --tag $(IMAGE) $(BUILDX_ARGS) .

# Run the image as Lambda runs it (the base image's own RIE on 127.0.0.1:$(RIE_PORT)) with
# TEST_MODEL mounted, and send it API Gateway 2.0 events: health, a fraud-like /predict, V2 infer.
image-test: setup
	test -f $(TEST_MODEL) || { echo "image-test: no model at $(TEST_MODEL) (make train convert)" >&2; exit 1; }
	docker rm -f fraudlite-image-test >/dev/null 2>&1 || true
	docker run -d --name fraudlite-image-test -p 127.0.0.1:$(RIE_PORT):8080 \
		-v "$(abspath $(TEST_MODEL)):/opt/test-model/model.onnx:ro" \
		-e FRAUD_MODEL_URI=/opt/test-model/model.onnx $(IMAGE) >/dev/null
	status=0; $(BIN)/fraud-invoke-check http://127.0.0.1:$(RIE_PORT) --wait 60 || status=$$?; \
		docker logs fraudlite-image-test 2>&1 | tail -n 20; \
		docker rm -f fraudlite-image-test >/dev/null; exit $$status

# Fail on HIGH or CRITICAL findings that have a fix (trivy must be on PATH).
image-scan:
	trivy image --exit-code 1 --severity HIGH,CRITICAL --ignore-unfixed --no-progress $(IMAGE)

# Push IMAGE as ECR_REPOSITORY_URI:IMAGE_TAG (the commit). Tags are immutable: an image already
# pushed for this commit is kept, not replaced.
ecr-push:
	test -n "$(ECR_REPOSITORY_URI)" || { echo "ecr-push: set ECR_REPOSITORY_URI" >&2; exit 1; }
	aws ecr get-login-password --region $(AWS_REGION) | docker login --username AWS \
		--password-stdin $(firstword $(subst /, ,$(ECR_REPOSITORY_URI)))
	if aws ecr describe-images --region $(AWS_REGION) \
		--repository-name $(word 2,$(subst /, ,$(ECR_REPOSITORY_URI))) \
		--image-ids imageTag=$(IMAGE_TAG) >/dev/null 2>&1; then \
		echo "ecr-push: $(ECR_REPOSITORY_URI):$(IMAGE_TAG) already exists (immutable); kept"; \
	else \
		docker tag $(IMAGE) $(ECR_REPOSITORY_URI):$(IMAGE_TAG) && \
		docker push $(ECR_REPOSITORY_URI):$(IMAGE_TAG); \
	fi

# template.yaml deploying the pushed image (no second build), then sam deploy of STACK with the
# model pinned in deploy/model.json. CloudFormation acts as CFN_EXECUTION_ROLE_ARN; the stack
# update completes only when the alias has shifted (canary where template.yaml says so).
deploy-template: setup
	$(BIN)/fraud-deploy-template --image-uri $(ECR_REPOSITORY_URI):$(IMAGE_TAG) \
		--out $(OUT)/deploy-template.json

deploy: deploy-template aws-tools
	test -n "$(MODEL_BUCKET)" || { echo "deploy: set MODEL_BUCKET" >&2; exit 1; }
	params="$$($(BIN)/fraud-model-pin --file $(PIN_FILE) sam-params --bucket $(MODEL_BUCKET))" && \
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --template-file $(OUT)/deploy-template.json --stack-name $(STACK) \
		--region $(AWS_REGION) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--image-repository $(ECR_REPOSITORY_URI) \
		--s3-bucket $(MODEL_BUCKET) --s3-prefix deploy-templates/$(STACK) \
		$(if $(CFN_EXECUTION_ROLE_ARN),--role-arn $(CFN_EXECUTION_ROLE_ARN)) \
		--no-confirm-changeset --no-fail-on-empty-changeset \
		--tags fraudlite:commit=$(IMAGE_TAG) \
		--parameter-overrides $$params $(DEPLOY_PARAMS)

# The API URL of STACK (its ApiUrl output).
stack-url:
	@aws cloudformation describe-stacks --region $(AWS_REGION) --stack-name $(STACK) \
		--query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text

# make smoke URL=http://127.0.0.1:8000 (EXPECT_PINNED=1: the model pinned in deploy/model.json).
smoke: setup
	$(BIN)/fraud-smoke $(URL) --json $(OUT)/smoke.json $(SMOKE_ARGS) \
		$(if $(EXPECT_PINNED),--expect-version "$$($(BIN)/fraud-model-pin --file $(PIN_FILE) get model_version)")

# make load-check URL=...: LOAD_USERS users for LOAD_SECONDS s; fails over the limits.
load-check: setup
	$(BIN)/fraud-load-check $(URL) --users $(LOAD_USERS) --duration $(LOAD_SECONDS) \
		--max-error-rate $(MAX_ERROR_RATE) --max-p99-ms $(MAX_P99_MS) --json $(OUT)/load.json

# Retraining: the data from S3, fraud-train, fraud-convert, fraud-parity (a gate: exit 1 fails).
# The URI may come from a workflow input: the shell reads it from the environment (never pasted
# into the command line) and it is checked before any line uses the file name made from it.
export TRAINING_DATA_URI
retrain-data:
	case "$$TRAINING_DATA_URI" in s3://?*/?*) ;; *) \
		echo "retrain-data: TRAINING_DATA_URI must be s3://bucket/key" >&2; exit 1;; esac
	case "$$TRAINING_DATA_URI" in *[!A-Za-z0-9._/:=+-]*) \
		echo "retrain-data: unexpected characters in TRAINING_DATA_URI" >&2; exit 1;; esac
	mkdir -p $(dir $(RETRAIN_DATA))
	aws s3 cp --only-show-errors "$$TRAINING_DATA_URI" "$(RETRAIN_DATA)"

retrain: setup
	$(BIN)/fraud-train --data $(RETRAIN_DATA) --out $(CANDIDATE) $(RETRAIN_ARGS)
	$(BIN)/fraud-convert $(CANDIDATE)
	$(BIN)/fraud-parity --model $(CANDIDATE)/model.onnx --pipeline $(CANDIDATE)/pipeline.joblib \
		--data $(RETRAIN_DATA) --json $(CANDIDATE)/parity.json

# The production model (deploy/model.json) into CURRENT; nothing when none is pinned yet.
current-model: setup
	$(BIN)/fraud-model-pin --file $(PIN_FILE) fetch --bucket $(MODEL_BUCKET) --out $(CURRENT)

# make retrain-gate CANDIDATE=dir CURRENT=dir RETRAIN_DATA=file: both on the same held-out rows.
retrain-gate: setup
	$(BIN)/fraud-retrain-gate --candidate $(CANDIDATE) --data $(RETRAIN_DATA) \
		$$(test -f $(CURRENT)/model.onnx && echo --current $(CURRENT)) \
		--target-recall $(TARGET_RECALL) --tolerance $(PR_AUC_TOLERANCE) \
		--json $(CANDIDATE)/gate.json --markdown $(CANDIDATE)/gate.md

publish: setup
	$(BIN)/fraud-publish $(CANDIDATE) --bucket $(MODEL_BUCKET) --prefix $(MODEL_PREFIX) --json \
		> $(CANDIDATE)/publish.json
	cat $(CANDIDATE)/publish.json

pin-model: setup
	$(BIN)/fraud-model-pin --file $(PIN_FILE) set --from $(CANDIDATE)/publish.json

# A branch and pull request that change deploy/model.json only (gh and a token in GH_TOKEN).
model-pr: setup
	version="$$($(BIN)/fraud-model-pin --file $(PIN_FILE) get model_version)" && branch="retrain/$$version" && \
	git switch -c "$$branch" && git add $(PIN_FILE) && \
	git -c user.name="fraudlite-retrain[bot]" -c user.email="fraudlite-retrain@users.noreply.github.com" \
		commit -m "Deploy model $$version (retrained; parity and quality gates passed)" && \
	git push origin "$$branch" && \
	gh pr create --base main --head "$$branch" --title "Deploy model $$version" \
		--body-file $(CANDIDATE)/gate.md

clean:
	rm -rf $(ARTIFACTS) .pytest_cache .ruff_cache

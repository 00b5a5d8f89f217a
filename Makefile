# Facteur — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench conformance lint up clean venv build

venv: $(STAMP)

$(STAMP): requirements/dev.txt requirements/layer.txt layers/common/requirements.txt pyproject.toml
	@echo "==> setting up $(VENV) (virtualenv + pinned dependencies)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

## Run the whole job locally on the embedded runtime (moto, virtual clock); output in demo-out/
demo: $(STAMP)
	$(BIN)/facteur-local demo --out demo-out

## Lint (template, ruff, mypy), then unit, integration, contract and end-to-end tests
test: lint
	$(BIN)/python -m pytest -q

## sam build (python3.12, as on Lambda) and the unzipped size of each function with its layer (< 250 MB)
BUILD_VENV := .venv-build
PY312 ?= $(firstword $(shell command -v python3.12 2>/dev/null | grep -v shims) $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) /usr/bin/python3.12)
build: $(BUILD_VENV)/.installed
	@test -x "$(PY312)" || { echo "make build needs python3.12 (the Lambda runtime): none found"; exit 2; }
	PATH="$(dir $(PY312)):$$PATH" $(BUILD_VENV)/bin/sam build --template template.yaml --build-dir .aws-sam/build --parallel
	$(BIN)/python -m bench.sizes .aws-sam/build

$(BUILD_VENV)/.installed: requirements/build.txt
	@test -x $(BUILD_VENV)/bin/python || $(PYTHON) -m venv $(BUILD_VENV)
	@$(BUILD_VENV)/bin/python -m pip install --quiet --upgrade pip
	@$(BUILD_VENV)/bin/python -m pip install --quiet -r requirements/build.txt
	@touch $@

## Keep the local stack and its API running for manual use
up: $(STAMP)
	$(BIN)/facteur-local up

## Benchmarks (never part of the test suite)
bench: $(STAMP)
	$(BIN)/python -m bench

## Agreement of `facteur check` with the official verdict, and the verdict on every output (never part of the tests)
conformance: $(STAMP)
	$(BIN)/python -m bench.conformance ../shared/corpus $(wildcard ../ext/src/test ../ext/peppol)

## cfn-lint on the template, ruff and mypy on the code
lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(BUILD_VENV) .aws-sam demo-out .pytest_cache

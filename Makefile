# Facteur — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint up clean venv

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
	$(BIN)/facteur demo --out demo-out

## Lint (template, ruff, mypy), then unit, integration, contract and end-to-end tests
test: lint
	$(BIN)/python -m pytest -q

## Keep the local stack and its API running for manual use
up: $(STAMP)
	$(BIN)/facteur local up

## Benchmarks (never part of the test suite)
bench: $(STAMP)
	$(BIN)/python -m bench

## cfn-lint on the template, ruff and mypy on the code
lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-out .pytest_cache

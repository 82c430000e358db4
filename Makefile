# The project's verbs. Every target bootstraps its own virtualenv (.venv) from pyproject.toml,
# pinned by constraints.txt; nothing needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run demo test unit integration lint format typecheck bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv and install the project with its dev tools

run: install ## Run the whole system locally (moto + offline model + web page) until Ctrl-C
	$(BIN)/labeler local

test: lint ## Lint, type-check, then run every test
	$(BIN)/pytest

unit: install ## Only the fast tests (no moto server)
	$(BIN)/pytest tests/unit tests/infrastructure

lint: install ## ruff, ruff format --check, mypy --strict, statelint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src functions tests scripts
	$(BIN)/statelint statemachine/pipeline.asl.json

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Measure local pipeline throughput and latency; writes results/bench.json
	$(BIN)/python -m labeler.bench --output results/bench.json

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache results

# Tengri's two quick-start commands (`make run`, `make test`) and the checks CI runs.
# Each target creates .venv and installs the project into it the first time, or when
# pyproject.toml changes; nothing needs to be installed by hand beforehand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tengri-installed

.PHONY: install run test lint typecheck layers check bench reliability-report evidence clean

$(STAMP): pyproject.toml src/tengri/engine/_kernel.pyx
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: replay the bundled EURUSD sample through the whole system.
run: $(STAMP)
	$(BIN)/tengri run
	@echo "tengri is installed in $(VENV): 'source $(VENV)/bin/activate' to use the tengri command"

## The whole test suite, slow tests included.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck layers

## Refresh docs/reliability.md's figures from a run of the reliability suite (a plain `make test`
## writes them to build/reliability.md and edits no tracked file). Set TENGRI_TEST_POSTGRES_URL to
## include the PostgreSQL rows.
reliability-report: $(STAMP)
	TENGRI_TEST_RELIABILITY_DOC=docs/reliability.md $(BIN)/python -m pytest tests/reliability

## Regenerate docs/evidence.md: every model variant x 3 real series x 5 seeds, and the panel
## experiment (tengri.services.evidence; its scale is printed in the document). Progress goes to stdout.
evidence: $(STAMP)
	$(BIN)/python -m tengri.services.evidence --out docs/evidence.md

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache src/tengri/engine/_kernel.c src/tengri/engine/_kernel.*.so

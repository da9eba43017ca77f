# Two entry points a fresh machine needs: `make run` and `make test`.
# Both create (once) and reuse a virtual environment in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit integration clean docs

# The first run installs for about a minute: say so, and let pip show its progress.
$(STAMP): pyproject.toml
	@echo "keb: installing keb and its dependencies into $(VENV) (once; about a minute)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
	$(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -e '.[server,dev]'
	touch $(STAMP)
	@echo "keb: installed; next time this step is skipped"

run: $(STAMP)
	$(BIN)/keb serve

# lint also checks the layers' import contracts ([tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

# The in-memory tests on both cores (pytest-xdist), without the plugins only integration tests use.
UNIT_PLUGINS_OFF := -p no:schemathesis -p no:faker -p no:anyio
unit: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist worksteal $(UNIT_PLUGINS_OFF) tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# docs/configuration.md is generated from src/keb_app/variables.py; a unit test checks it is current.
docs: $(STAMP)
	$(BIN)/keb config docs > docs/configuration.md

# Two commands for a new user: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow test-report lint format clean device-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps record what is installed; they are remade when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

# The whole study on the built-in digits (the smoke budget: minutes on 2 CPU cores); ends by
# printing where runs/demo/report.md and report.html are. Run again, it reuses what is done.
demo: $(VENV)/.installed
	$(BIN)/scenelab reproduce --data digits --budget smoke --out runs/demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when no test was collected; that is not a failure of the code.
test: lint
	$(BIN)/python -m pytest; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow

# The smoke budget of `scenelab reproduce` end to end, its report checked (minutes).
test-report: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow tests/report

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# On a machine with a CUDA GPU: CUDA tests, bench conv (float32; bf16 + channels_last) and a
# short trainer throughput run, one table (scripts/device_check.sh; under 8 minutes).
device-check: $(VENV)/.installed-dev
	PYTHON=$(BIN)/python bash scripts/device_check.sh

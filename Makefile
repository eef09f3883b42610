# Two commands for a new user: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamps record what is installed; they are remade when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

# SimpleNet on the built-in digits (>= 95% val top-1 in under 2 minutes on 2 CPU cores);
# ends with the per-epoch table. runs/demo is the demo's own folder, remade every time.
demo: $(VENV)/.installed
	rm -rf runs/demo && $(BIN)/scenelab train --data digits --model simplenet --out runs/demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when no test was collected; that is not a failure of the code.
test: lint
	$(BIN)/python -m pytest; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

test-slow: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m slow

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# screenfit: `make demo` installs everything and runs the main job on bundled data;
# `make test` installs and runs the fast and the slow statistical tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo_output

.PHONY: install demo test test-fast test-all lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,jax]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/screenfit demo --out $(DEMO_OUT) --force

test: install
	$(BIN)/python -m pytest -q -m "not long and not gpu" -n 2 --dist loadgroup

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not long and not gpu" -n 2

test-all: install
	$(BIN)/python -m pytest -q -n 2

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache

# screenfit: `make demo` installs everything and runs the main job on bundled data;
# `make test` installs and runs the fast and the slow statistical tier.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= demo_output

.PHONY: install browser demo test test-fast test-all bench bench-quick bench-genome bench-genome-quick bench-small bench-sharded bench-accuracy bench-single bench-proximity chronos-env lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,jax,slurm]"
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium + ChromeDriver for the report's browser test (skipped when already there).
browser:
	bash scripts/install-chromium.sh

demo: install
	$(BIN)/screenfit demo --out $(DEMO_OUT) --force

test: install browser
	$(BIN)/python -m pytest -q -m "not long and not gpu" -n 2 --dist loadgroup

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not long and not gpu" -n 2

test-all: install browser
	$(BIN)/python -m pytest -q -n 2

# Speed benchmark against plain PyMC + nutpie measured in the same run (docs/benchmarks.md).
bench: install
	$(BIN)/python benchmarks/speed.py --json benchmarks/latest.json

bench-quick: install
	$(BIN)/python benchmarks/speed.py --quick

# Genome scale (18,000 genes × 1,000 lines, 144 M rows) by streamed SVI, against NUTS on a
# sub-sample and plain ADVI (docs/benchmarks.md). Runs on a lent GPU machine unchanged.
bench-genome: install
	$(BIN)/python benchmarks/genome_scale.py --json benchmarks/genome_scale.json

bench-genome-quick: install
	$(BIN)/python benchmarks/genome_scale.py --quick

# A seed-sized fit as new processes against plain PyMC + nutpie (docs/benchmarks.md).
bench-small: install
	$(BIN)/python benchmarks/small_fits.py --json benchmarks/small_fits.json

# Two-stage sharded fit against the joint fit, 2,000 genes × 300 lines (docs/distributed.md).
bench-sharded: install
	$(BIN)/python benchmarks/sharded.py --json benchmarks/sharded.json

# Chronos (crispr-chronos + TensorFlow) lives in its own environment, never in the default install.
CHRONOS_VENV ?= .venv-chronos
$(CHRONOS_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(CHRONOS_VENV)
	$(CHRONOS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHRONOS_VENV)/bin/python -m pip install --quiet "crispr-chronos==2.3.11" "tensorflow-cpu>=2.16,<2.22"
	touch $@

chronos-env: $(CHRONOS_VENV)/.installed-stamp

# Accuracy against Chronos on simulated truth, two regimes (docs/validation.md).
bench-accuracy: install chronos-env
	$(BIN)/python benchmarks/accuracy_vs_chronos.py --json benchmarks/accuracy.json --plot docs/images/accuracy_vs_chronos.png

bench-single: install chronos-env
	$(BIN)/python benchmarks/single_screens.py --json benchmarks/single_screens.json

# Proximity-bias correction (screenfit correct) on HT-29, A375, the Avana sample and simulations
# (docs/validation.md); --fit adds gene-cellline NUTS fits of HT-29 and A375, corrected and not.
bench-proximity: install
	cd benchmarks && ../$(BIN)/python proximity.py --json proximity.json --fit

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) $(CHRONOS_VENV) $(DEMO_OUT) .pytest_cache

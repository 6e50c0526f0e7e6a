# Two commands from a fresh clone: `make demo` (main job on data in data/) and `make test`.
# Both create .venv on first use: the CPU build of PyTorch first, then biofit with its dev extras.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.biofit-installed

.PHONY: demo test test-slow bench-deps install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# the main job on the shipped data: fit the synthetic ALIF cell (known parameters), print recovered
# vs true parameters and the held-out scores (results/demo_fit/fit.json, fit.nwb, fit.png)
demo: $(STAMP)
	$(VENV)/bin/biofit fit data/synthetic_alif.nwb --model alif \
		--train-sweeps 0,1,10,11,20,21,30,31,40,41,100,101 \
		--test-sweeps 2,3,12,13,22,23,32,33,42,43,102,103 --out results/demo_fit

test: $(STAMP)
	$(PY) -m pytest

test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# Peers measured by benchmarks/: installed without their dependencies (they would pull torchvision);
# norse.torch imports nir/nirtorch.
bench-deps: $(STAMP)
	$(PY) -m pip install --quiet --no-deps snntorch norse nir nirtorch

clean:
	rm -rf $(VENV) results .pytest_cache

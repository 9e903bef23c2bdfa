# egvsr: every target creates and fills the virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test test-fast hls hls-synth sim bench bitstream clean

$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c requirements-lock.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# the suite runs one test file per worker, a worker per core (pytest-xdist; JOBS=0: one process)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: venv
	$(PY) -m pytest -q -ra -n $(JOBS) --dist loadfile

test-fast: venv
	$(PY) -m pytest -q -ra -n $(JOBS) --dist loadfile -m "not slow"

# the flow as named steps over build/<name>/ (egvsr build -h; README "Architecture")
hls: venv
	$(PY) -m egvsr.flow.cli build --impl hls --steps export,plan,hls,verify

hls-synth: venv
	$(PY) -m egvsr.flow.cli hls --synth

sim: venv
	$(PY) -m egvsr.flow.cli build --impl rtl --steps plan,rtl,verify,regression

bench: venv
	$(PY) -m egvsr.flow.cli bench

# Users with Vivado: make bitstream BOARD=kv260 (see board/README.md)
BOARD   ?= pynq-z2
BUNDLE  ?= pretrained/tiny_anchor_w8a8
LR_SIZE ?= 64x96
IP_REPO ?= build/hls/ip
bitstream: venv
	$(MAKE) -f board/vivado/Makefile bitstream PY=$(abspath $(PY)) BOARD=$(BOARD) BUNDLE=$(BUNDLE) LR_SIZE=$(LR_SIZE) IP_REPO=$(IP_REPO)

clean:
	rm -rf build .pytest_cache

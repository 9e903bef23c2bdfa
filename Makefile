# egvsr: every target creates and fills the virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: venv test hls hls-synth sim bench bitstream clean

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

# Users with Vivado: make bitstream BOARD=kv260 (see board/README.md)
BOARD   ?= pynq-z2
BUNDLE  ?= pretrained/tiny_w8a8
LR_SIZE ?= 64x96
IP_REPO ?= build/hls/ip
bitstream: venv
	$(MAKE) -f board/vivado/Makefile bitstream PY=$(abspath $(PY)) BOARD=$(BOARD) BUNDLE=$(BUNDLE) LR_SIZE=$(LR_SIZE) IP_REPO=$(IP_REPO)

clean:
	rm -rf build sim_build .pytest_cache

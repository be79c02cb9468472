# Two commands matter: `make book` builds the HTML book, `make test` runs every test.
# Both start from nothing: they create .venv, install requirements.txt and prepare the data.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHAPTERS := $(wildcard chapters/*.ipynb)
BOOK_SOURCES := _config.yml _toc.yml $(wildcard *.md *.bib _static/*) $(CHAPTERS) $(wildcard d2l_utils/*.py)

.PHONY: install data book test unit nbval nbval-native nbval-emulated lint export execute bench clean

install: $(STAMP)

# The registry's torch 2.13.0 is a large CUDA build (runs on the CPU): about a minute here.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	$(BIN)/pip install --no-deps -e .
	$(BIN)/python tools/check_env.py
	touch $@

data: $(STAMP)
	$(BIN)/python -m d2l_utils

book: _build/.book-built

# Renders the chapters with their stored outputs (execute_notebooks: off), the outputs
# that `make nbval` checks, and treats any Sphinx warning as an error. The stamp is
# written only after a successful build, so a failed build is retried by the next one.
_build/.book-built: $(STAMP) $(BOOK_SOURCES)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	touch $@
	@echo "The book is in _build/html/index.html"

test: lint book book-zh pdf unit nbval

# MAKE_TEST=1: the browser check fails (instead of skipping) without a built book.
unit: $(STAMP)
	MAKE_TEST=1 $(BIN)/python -m pytest tests

# Every chapter re-executed and compared with its stored outputs, twice, side by side
# (one pass per core): with this CPU's kernels, and with PyTorch's portable kernels and
# MKL's compatible code path, which change the last bits of float results the way
# another CPU does. Figures go through the sanitizer; see README, "Stored outputs".
# `make nbval NB=chapters/softmax.ipynb` checks one chapter (a page without code cells
# has nothing to check: pytest's exit status 5, "no tests ran", counts as a pass).
NB ?= chapters
NBVAL := $(BIN)/python -m pytest --nbval --nbval-current-env -p no:cacheprovider \
	--nbval-sanitize-with tests/nbval-sanitize.cfg
EMULATED_CPU := ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE

nbval: data
	$(MAKE) --no-print-directory -j2 --output-sync=target nbval-native nbval-emulated

nbval-native: $(STAMP)
	$(NBVAL) $(NB) || test $$? -eq 5

nbval-emulated: $(STAMP)
	$(EMULATED_CPU) $(NBVAL) $(NB) || test $$? -eq 5

lint: $(STAMP)
	$(BIN)/ruff check

# Developer commands
export: $(STAMP)
	$(BIN)/python tools/export.py

execute: data
	$(BIN)/python tools/execute.py $(CHAPTERS)

bench: data
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf _build

# Further targets (the reader editions) live in mk/*.mk.
-include mk/*.mk

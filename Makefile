# flowengine: `make demo` runs a real call, `make test` runs the tests. Both install what they
# need first (Debian packages incl. Asterisk 16.28, a virtualenv with the package); idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: deps system-deps venv test lint typecheck unit demo clean

deps: system-deps venv

system-deps:
	@if [ "$$(id -u)" = 0 ]; then ./docker/install-asterisk.sh; else sudo ./docker/install-asterisk.sh; fi

venv: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml flowengine/media/_native_inbound.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

lint: venv
	$(BIN)/ruff check flowengine tests  # rules in pyproject.toml

typecheck: venv
	$(BIN)/mypy

test: deps lint typecheck
	$(BIN)/pytest

demo: deps
	$(BIN)/flowengine demo

clean:
	rm -rf $(VENV) run .pytest_cache .mypy_cache .ruff_cache *.egg-info

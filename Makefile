# hybrid-depth-bev: every target installs the environment on first use (see tools/install.sh).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.hdb-installed
PYTEST_ARGS ?=
DEMO_DIR ?= work_dirs/demo

.PHONY: install test test-fast lint demo clean

# The stamp depends on the files that define the environment; a second `make install` re-runs the
# (idempotent) installer, which skips every step that is already satisfied.
install:
	@bash tools/install.sh
	@touch $(STAMP)

$(STAMP): tools/install.sh requirements.txt pyproject.toml
	@bash tools/install.sh
	@touch $(STAMP)

# The whole suite, slow end-to-end tests included (what CI runs).
test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Everything except tests marked slow.
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hybrid_depth projects tools tests benchmarks configs

demo: $(STAMP)
	@bash tools/demo.sh $(DEMO_DIR)

clean:
	rm -rf work_dirs .pytest_cache .ruff_cache

# Thin aliases for the nox sessions. `make` installs nox (pinned, with uv) into .tools/ the
# first time when nox is not on PATH; nox then builds its environments from locks/bench.txt.
# Options go through ARGS:  make bench ARGS="--repeat 5 --items 100000"

PYTHON ?= python3
TOOLS  := .tools
ARGS   ?=

NOX := $(shell command -v nox 2>/dev/null)
ifeq ($(NOX),)
NOX     := $(TOOLS)/bin/nox
NOX_DEP := $(NOX)
endif

.DEFAULT_GOAL := help
.PHONY: help bench sweep test test-fast test-unit figures publish compare clean describe lock

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo '  options:    make bench ARGS="--repeat 5 --items 100000"  (python -m experiments run --help)'

bench: $(NOX_DEP) ## run every strategy (embedded PostgreSQL) into results/<run_id>/
	$(NOX) -s bench -- $(ARGS)

sweep: $(NOX_DEP) ## run a grid: make sweep ARGS="--items 1000,10000 --threads 1,4"
	$(NOX) -s sweep -- $(ARGS)

test: $(NOX_DEP) ## run the test suite against a real PostgreSQL it starts itself
	$(NOX) -s tests -- $(ARGS)

test-fast: $(NOX_DEP) ## the quick lane: every test not marked slow (under 2 minutes)
	$(NOX) -s tests -- -m "not slow" $(ARGS)

test-unit: $(NOX_DEP) ## the unit lane: tests that need no PostgreSQL, on every core (under a minute)
	$(NOX) -s tests -- --no-server -m "not slow" -n auto $(ARGS)

figures: $(NOX_DEP) ## rebuild the published sets in figures/ and draw your runs into figures/latest/
	$(NOX) -s figures -- $(ARGS)

publish: $(NOX_DEP) ## copy runs into figures/NAME/runs and draw them: make publish ARGS="main"
	$(NOX) -s publish -- $(ARGS)

compare: $(NOX_DEP) ## compare two runs: make compare ARGS="RUN_A RUN_B"
	$(NOX) -s compare -- $(ARGS)

clean: $(NOX_DEP) ## remove run folders, captures and leftover servers (never figures/)
	$(NOX) -s clean -- $(ARGS)

describe: $(NOX_DEP) ## print the strategy catalogue as Markdown
	$(NOX) -s describe -- $(ARGS)

lock: $(NOX_DEP) ## re-resolve locks/*.txt from pyproject.toml
	$(NOX) -s lock -- $(ARGS)

$(TOOLS)/bin/nox: locks/bootstrap.txt
	@$(PYTHON) -m venv $(TOOLS) || { echo "error: '$(PYTHON) -m venv' failed; install Python's venv module (Debian: python3-venv)"; exit 1; }
	$(TOOLS)/bin/python -m pip install -qq --disable-pip-version-check --require-hashes -r locks/bootstrap.txt
	@touch $@

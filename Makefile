# cxlab: `make report` runs the main job on the demo data, `make test` runs the tests.
# Both set themselves up on a fresh Debian machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CX := $(VENV)/bin/cx
STAMP := $(VENV)/.installed-stamp
DEMO := data/demo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help setup demo report test chromium java postgresql spark bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,spark]'
	@touch $(STAMP)

setup: $(STAMP) ## Create the virtual environment and install cxlib with pyspark (once)

demo: setup ## Generate the demo data set in data/demo/ if it is missing
	@[ -f $(DEMO)/truth.json ] || $(CX) simulate --preset demo --customers 10000 --seed 42 --out $(DEMO)

report: demo ## Run the notebooks on the demo data and write the HTML report under reports/
	$(CX) run --data $(DEMO)

chromium: ## Install Debian's chromium for the report test, if missing
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

java: ## Install Debian's openjdk-17-jre-headless for the Spark engine, if no java is found
	@command -v java >/dev/null || [ -x "$$JAVA_HOME/bin/java" ] || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q openjdk-17-jre-headless; }

postgresql: ## Install Debian's postgresql for the PostgreSQL source tests (the tests start their own server), if missing
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql; }

spark: setup java ## Install what the Spark engine needs: pyspark (the [spark] extra) and Java 17

test: setup chromium java postgresql ## Run the test suite in two processes (library, CLI, notebooks through papermill, report in Chromium, Spark local, a PostgreSQL server)
	$(PY) -m pytest -n 2 --dist loadgroup

bench: setup ## Measure speed and memory; figures go to benchmarks/RESULTS.md
	$(PY) benchmarks/run_all.py

clean: ## Remove generated data, reports and the virtual environment
	rm -rf $(VENV) $(DEMO) reports/2* reports/latest.html reports/index.html

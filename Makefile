# ctc-spark: `make demo` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.setup-stamp
JARS := .jars/delta-spark_2.13-4.0.1.jar .jars/delta-storage-4.0.1.jar
AZURITE := node_modules/.bin/azurite-blob
# The 6.x runtime SDK cannot share a venv with 5.4.0: a second venv runs it in tests/integration/emulator.
SDK6_VENV := .venv-sdk6
SDK6_STAMP := $(SDK6_VENV)/.setup-stamp
SDK6_SPEC := azure-ai-textanalytics==6.0.0b3
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup test unit integration lint format demo bench bench-peers wheel clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(STAMP) $(SDK6_STAMP) $(JARS) $(AZURITE) ## Create .venv (and .venv-sdk6), install the project, fetch Delta jars and Azurite (idempotent)

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# setuptools reports every editable install with an informational BuildBackendWarning; it says nothing here.
	PYTHONWARNINGS='ignore:Editable installation' $(PIP) install -q -e '.[spark,emulator,train,dev]'
	@# The authoring SDK declares azure-ai-textanalytics>=6.0.0b1; we test with 5.4.0, so skip its deps.
	$(PIP) install -q --no-deps 'azure-ai-textanalytics-authoring==1.0.0b1'
	@touch $@

$(SDK6_STAMP): Makefile
	@test -d $(SDK6_VENV) || $(PYTHON) -m venv $(SDK6_VENV)
	$(SDK6_VENV)/bin/python -m pip install -q --upgrade pip
	$(SDK6_VENV)/bin/python -m pip install -q --pre '$(SDK6_SPEC)'
	@touch $@

$(JARS) &: build/pom.xml
	mvn -q -B -f build/pom.xml dependency:copy-dependencies -DincludeGroupIds=io.delta -DoutputDirectory=$(CURDIR)/.jars
	@touch $(JARS)

$(AZURITE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: setup ## Run the unit tier, then the integration tier, then the Spark Connect tier, each in its own pytest process
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)
	$(PY) -m pytest tests/integration --ignore=tests/integration/connect $(PYTEST_ARGS)
	SPARK_TESTING=1 $(PY) -m pytest tests/integration/connect $(PYTEST_ARGS)

unit: setup ## Run the unit tier only (no JVM, no sockets)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: setup ## Run the integration tier (Spark local[2], Delta, emulator, Azurite; then Spark Connect)
	$(PY) -m pytest tests/integration --ignore=tests/integration/connect $(PYTEST_ARGS)
	SPARK_TESTING=1 $(PY) -m pytest tests/integration/connect $(PYTEST_ARGS)

lint: setup ## ruff, and mypy (strict) on the package and the benchmarks
	$(VENV)/bin/ruff check ctc_spark jobs tests bench
	$(VENV)/bin/ruff format --check ctc_spark jobs tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy bench/*.py bench/clients/*.py

format: setup ## Apply ruff's formatter and fixes
	$(VENV)/bin/ruff format ctc_spark jobs tests bench
	$(VENV)/bin/ruff check --fix ctc_spark jobs tests bench

demo: setup ## Train, evaluate, deploy and classify on the embedded default (no Azure account)
	$(PY) -m ctc_spark.local.demo

bench: setup ## Run the benchmarks in bench/ (about 15 minutes; record the figures in bench/RESULTS.md)
	$(PY) bench/emulator_capacity.py
	$(PY) bench/classify_throughput.py --cpm 1000 6000 --docs 50000 \
	    --latency '{"queue_seconds": 2.0, "per_document_seconds": 0.04, "spread": 0.3}'

wheel: setup ## Build dist/ctc_spark-<version>-py3-none-any.whl (no Spark inside: install it with [spark] off Databricks)
	rm -f dist/ctc_spark-*.whl
	$(PIP) wheel -q --no-deps --wheel-dir dist .

clean: ## Remove local state (.local/, bench/out/), keeping the venv, jars and node_modules
	rm -rf .local bench/out spark-warehouse metastore_db derby.log

PEERS_PY := bench/.venv-peers/bin/python

bench-peers: setup ## Set up the peers' benchmark (Spark 3.5 + SynapseML 1.1.0 in bench/.venv-peers) and run it
	@test -x $(PEERS_PY) || ($(PYTHON) -m venv bench/.venv-peers && $(PEERS_PY) -m pip install -q 'pyspark==3.5.3' 'synapseml==1.1.0' pyarrow pandas)
	@test -d bench/.jars-peers || mvn -q -B -f bench/clients/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/bench/.jars-peers
	$(PY) bench/peers.py --docs 10000 --cpm 1000

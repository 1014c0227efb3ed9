# The user's verbs. `make demo` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DBT := $(abspath $(VENV))/bin/dbt
ENV_STAMP := $(VENV)/.installed
JAR_STAMP := .cache/jars/.pom.sha256
ELT := $(PY) -m extract_load
export ELT_ENV ?= default

.DEFAULT_GOAL := help
.PHONY: help setup sandbox-up sandbox-down ingest build docs docs-serve demo test bench lint clean \
	cluster-jars cluster-up cluster-down cluster-test

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(ENV_STAMP) $(JAR_STAMP) .cache/pgbouncer.ok .cache/chromium.ok  ## virtualenv, pinned packages, Spark jars, pgbouncer, chromium (idempotent)

$(ENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[sandbox,test,airflow,cluster]"
	@touch $@

$(JAR_STAMP): jars/pom.xml $(ENV_STAMP)
	$(PY) -m extract_load.jars

.cache/pgbouncer.ok: sandbox/redshift/install.sh
	sh sandbox/redshift/install.sh
	@mkdir -p .cache && touch $@

.cache/chromium.ok: scripts/install-browser.sh
	sh scripts/install-browser.sh
	@mkdir -p .cache && touch $@

sandbox-up: setup  ## start the local Redshift and HubSpot stand-ins
	$(PY) -m sandbox up

sandbox-down:  ## stop the stand-ins
	@test -x $(PY) && $(PY) -m sandbox down || true

ingest: setup  ## land every configured source table in bronze (sandbox started on the default env)
	@if [ "$(ELT_ENV)" = "default" ]; then $(PY) -m sandbox up; fi
	$(ELT) ingest $(ARGS)

build: setup  ## dbt build: silver and gold models and the data-quality tests
	$(ELT) dbt build $(ARGS)

docs: setup  ## generate the dbt docs site and serve it on http://localhost:8080
	$(ELT) dbt docs generate
	cd dbt_project && $(DBT) docs serve --port $${DOCS_PORT:-8080} --no-browser --profiles-dir .

demo: setup  ## the main job on the local default: sandbox, ingest, dbt build, docs generated
	$(PY) -m sandbox demo

test: setup cluster-jars  ## the test suite (starts its own sandbox, Spark and a local cluster)
	$(PY) -m pytest -q $(ARGS)

# Production mode on loopback: Spark standalone, S3 (moto), a PostgreSQL metastore, a Thrift Server.
CLUSTER_JARS := .cache/jars/s3/.pom.sha256 .cache/jars/azure/.pom.sha256 .cache/jars/postgres/.pom.sha256
CLUSTER := $(PY) -m sandbox cluster

cluster-jars: $(CLUSTER_JARS)  ## S3A + ABFS connectors and the PostgreSQL JDBC driver (~700 MB, once)

.cache/jars/%/.pom.sha256: jars/pom.xml $(JAR_STAMP)
	$(PY) -m extract_load.jars $*

cluster-up: setup cluster-jars  ## start the local cluster and its sandbox (config/cluster.yaml); ELT_ENV=cluster then runs on it
	$(PY) -m sandbox up --env cluster
	$(CLUSTER) up

cluster-down:  ## stop the local cluster and its sandbox
	@test -x $(PY) && $(CLUSTER) down || true
	@test -x $(PY) && $(PY) -m sandbox down --env cluster || true

cluster-test: setup cluster-jars  ## the cluster integration tests alone (ingest + dbt build on the local cluster)
	$(PY) -m pytest -q tests/cluster $(ARGS)

bench: setup $(VENV)/.bench-installed  ## benchmarks: throughput, memory, incremental cost (minutes)
	$(PY) -m bench $(ARGS)

$(VENV)/.bench-installed: pyproject.toml
	$(PY) -m pip install -q -e ".[bench]"
	@touch $@

lint:  ## byte-compile everything, check the import contracts (pyproject.toml), parse the dbt project
	$(PY) -m compileall -q extract_load sandbox orchestration tests
	$(VENV)/bin/lint-imports
	$(ELT) dbt parse

clean: sandbox-down  ## remove local data (lakehouse, metastore, sandbox); keeps the venv and jar cache
	rm -rf data dbt_project/target dbt_project/logs

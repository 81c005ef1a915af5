# otayori: two commands on a fresh machine — `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
STAMP  := $(VENV)/.synced
SYSTEM_PACKAGES := dovecot-imapd postfix
BENCH_PACKAGES  := libsisimai-perl

.PHONY: help venv system-deps run test test-unit test-integration test-e2e lint format \
        contracts bench k8s-validate clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml uv.lock
	@command -v python3 >/dev/null || { echo "python3 (>= 3.11) is required"; exit 1; }
	@# A venv whose python does not run (half-made, or its python gone) is made again; a
	@# failed `python3 -m venv` leaves no half-made .venv behind.
	@$(PY) -c '' 2>/dev/null || { rm -rf $(VENV); python3 -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not create $(VENV): install python3-venv (apt-get install python3-venv)"; exit 1; }; }
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --upgrade >/dev/null || { \
	  echo "$(VENV) has no pip and ensurepip is missing: install python3-venv, then make again"; exit 1; }
	@$(PY) -m pip install --quiet --disable-pip-version-check uv
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --inexact --quiet
	@touch $@

venv: $(STAMP) ## create .venv with the locked dependencies

system-deps: ## apt-install Dovecot and Postfix (smtp-sink) when missing and root
	@missing=""; \
	command -v dovecot >/dev/null || test -x /usr/sbin/dovecot || missing="$$missing dovecot-imapd"; \
	command -v smtp-sink >/dev/null || test -x /usr/sbin/smtp-sink || missing="$$missing postfix"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing (install them, e.g. sudo apt-get install$$missing)"; \
	    echo "tests that need them skip locally and fail under CI=true"; \
	  fi; \
	fi

run: venv ## run the whole cluster locally (NATS, SMTP outbox, 3 services, ILS simulator)
	@$(PY) -m tools.cluster

test: venv system-deps ## run every test tier
	@$(PY) -m pytest tests/unit tests/integration tests/e2e

test-unit: venv ## pure tests, no sockets
	@$(PY) -m pytest tests/unit

test-integration: venv system-deps ## real NATS, SMTP and Dovecot started by fixtures
	@$(PY) -m pytest tests/integration

test-e2e: venv system-deps ## services as processes
	@$(PY) -m pytest tests/e2e

lint: venv ## ruff (lint + format check) and mypy --strict
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

format: venv ## apply ruff's fixes and formatting
	@$(VENV)/bin/ruff check --fix .
	@$(VENV)/bin/ruff format .

contracts: venv ## regenerate JSON Schema and docs/asyncapi.yaml from shared/contracts
	@$(PY) -m shared.contracts.generate

bench: venv system-deps ## run the benchmarks (figures go to docs/benchmarks.md by hand)
	@if [ "$$(id -u)" = 0 ] && ! dpkg -s $(BENCH_PACKAGES) >/dev/null 2>&1; then \
	  apt-get update -qq && apt-get install -y -qq $(BENCH_PACKAGES) >/dev/null; fi
	@$(PY) bench/bounce_throughput.py
	@$(PY) bench/mailer_throughput.py

k8s-validate: venv ## validate deploy/k8s manifests offline
	@$(UV) pip install --quiet --python $(PY) kubernetes-validate
	@$(VENV)/bin/kubernetes-validate --strict -k 1.37.0 deploy/k8s/*.yaml deploy/k8s/examples/*.yaml

clean: ## remove the venv and local cluster data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

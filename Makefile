# Tally's index: `make help` lists every target. Two commands matter on a fresh machine:
# `make run` (the whole system, with demo data) and `make test` (every test tier).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST := .venv/bin/pytest
# Tests use external Kafka/PostgreSQL when KAFKA_BOOTSTRAP is set, else the local ones.
INFRA_ENV := if [ -z "$${KAFKA_BOOTSTRAP:-}" ]; then eval "$$(bash scripts/infra.sh env)"; fi
INFRA_UP := if [ -z "$${KAFKA_BOOTSTRAP:-}" ]; then bash scripts/infra.sh up; fi

.PHONY: help setup up down run test test-unit test-integration test-e2e lint format bench

help: ## list every target
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

setup: ## install everything (idempotent): Python deps, Kafka jars, PostgreSQL server
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install -q --user uv || python3 -m pip install -q --user --break-system-packages uv
	$(UV) sync --locked --python python3.11
	bash scripts/infra.sh setup

up: ## start Kafka, PostgreSQL and every service in the background (.run/logs, .run/pids)
	bash scripts/infra.sh up
	$(INFRA_ENV) && bash scripts/services.sh start

down: ## stop exactly what `make up` started
	bash scripts/services.sh stop
	bash scripts/infra.sh down

run: setup up ## setup + up + demo data; prints the gateway URL and demo credentials
	.venv/bin/python scripts/demo.py

test: setup ## every tier against the real Kafka broker and PostgreSQL
	$(INFRA_UP)
	$(MAKE) --no-print-directory test-unit test-integration test-e2e

test-unit: ## unit tests: pure, no I/O
	$(PYTEST) $(wildcard tests/unit libs/*/tests/unit services/*/tests/unit)

test-integration: ## integration tests: real Kafka + PostgreSQL (`bash scripts/infra.sh up` first)
	$(INFRA_ENV) && $(PYTEST) $(wildcard libs/*/tests/integration services/*/tests/integration)

test-e2e: ## end-to-end: every service as its own process, through Kafka and HTTP
	$(INFRA_ENV) && $(PYTEST) tests/e2e

lint: ## ruff, ruff format --check, mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs/contracts/src libs/runtime/src libs/testkit/src services/*/src

format: ## apply ruff's fixes and formatting
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: ## benchmarks (none defined yet; later issues add them), report in .run/bench/report.json
	@mkdir -p .run/bench
	@echo '{"benchmarks": [], "note": "no benchmark is defined yet"}' > .run/bench/report.json
	@echo "no benchmark is defined yet; wrote .run/bench/report.json"

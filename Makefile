# Tally's index: `make help` lists every target. Two commands matter on a fresh machine:
# `make run` (the whole system, with demo data) and `make test` (every test tier).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never

UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PYTEST := .venv/bin/pytest
# Two instances of Kafka + PostgreSQL, so tests never share topics with a running `make up`:
# - development (`make up`, `run`, `down`): .run/, ports TALLY_KAFKA_PORT (19092) and
#   TALLY_PG_PORT (15432);
# - the tests' own (`make test`, test-*): .run/test/, ports TALLY_TEST_KAFKA_PORT (19192) and
#   TALLY_TEST_PG_PORT (15532); started by the test targets, stopped by `make down-tests`.
# Either uses the servers KAFKA_BOOTSTRAP / DATABASE_URL name instead, when they are set.
INFRA_UP := bash scripts/infra.sh up
INFRA_ENV := eval "$$(bash scripts/infra.sh env)"
TEST_INFRA := bash scripts/test-infra.sh
TEST_ENV := $(TEST_INFRA) up && eval "$$($(TEST_INFRA) env)"
# A tier runs pytest on its folders; one that collects no test fails (pytest's exit 5).
TIER := PYTEST=$(PYTEST) bash scripts/test-tier.sh

.PHONY: help setup up down down-tests run test test-unit test-integration test-e2e chaos soak fuzz lint format bench

help: ## list every target
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-17s %s\n", $$1, $$2}'

setup: ## install everything (idempotent): Python deps, Kafka jars, PostgreSQL server
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install -q --user uv || python3 -m pip install -q --user --break-system-packages uv
	$(UV) sync --locked --python python3.11
	bash scripts/infra.sh setup

up: ## start Kafka, PostgreSQL, the mail server (mail in .run/mail), Zipkin and every service
	$(INFRA_UP)
	bash scripts/zipkin.sh start || echo "zipkin: not started; the services' spans are dropped" >&2
	$(INFRA_ENV) && bash scripts/services.sh start
	@echo "tracing dashboard (Zipkin): $$(bash scripts/zipkin.sh url)"

down: ## stop exactly what `make up` started
	bash scripts/services.sh stop
	bash scripts/zipkin.sh stop
	bash scripts/infra.sh down

down-tests: ## stop the tests' own Kafka, PostgreSQL and mail server (.run/test)
	$(TEST_INFRA) down

run: setup up ## setup + up + demo data; prints the gateway, tracing and metrics URLs, credentials
	.venv/bin/python scripts/demo.py
	@echo "tracing dashboard (Zipkin): $$(bash scripts/zipkin.sh url)"
	@echo "metrics: /metrics on each service (the gateway's with the ops key; README, Observability)"

test: setup ## every tier against the tests' own Kafka and PostgreSQL (never `make up`'s)
	$(MAKE) --no-print-directory test-unit test-integration test-e2e

test-unit: ## unit tests: pure, no I/O
	$(TIER) unit $(wildcard tests/unit libs/*/tests/unit services/*/tests/unit)

test-integration: ## integration tests: real Kafka + PostgreSQL (the tests' own, started here)
	$(TEST_ENV) && $(TIER) integration $(wildcard libs/*/tests/integration services/*/tests/integration)

test-e2e: ## end-to-end: every service as its own process, through Kafka and HTTP
	$(TEST_ENV) && $(TIER) e2e tests/e2e

# The chaos suite's own Kafka, PostgreSQL and mail server (chaos/infra.py has the same
# defaults): scenarios kill brokers and databases, so never the tests' or `make up`'s.
CHAOS_INFRA := env -u KAFKA_BOOTSTRAP -u DATABASE_URL TALLY_TEST_RUN_DIR=$(CURDIR)/.run/chaos-infra \
	TALLY_TEST_KAFKA_PORT=19392 TALLY_TEST_KAFKA_CONTROLLER_PORT=19393 TALLY_TEST_PG_PORT=15732 \
	TALLY_TEST_MAIL_PORT=11325 bash scripts/test-infra.sh

chaos: setup ## QUALITY.md's reliability table, full forms (SHORT=1: short; SCENARIOS="a b"); chaos/report.{json,md}
	$(CHAOS_INFRA) reset >/dev/null && $(CHAOS_INFRA) up \
		&& env -u KAFKA_BOOTSTRAP -u DATABASE_URL .venv/bin/python -m chaos $(if $(SHORT),--short) $(SCENARIOS); \
		status=$$?; $(CHAOS_INFRA) down >/dev/null; exit $$status

soak: ## the billing-mode race soak on the whole system: 10,000 accounts (TALLY_SOAK_ACCOUNTS)
	$(TEST_ENV) && TALLY_SOAK_ACCOUNTS=$${TALLY_SOAK_ACCOUNTS:-10000} $(PYTEST) -q -s --timeout 0 \
		tests/e2e/test_billing_mode_soak.py

fuzz: ## Schemathesis on every API operation, 200 examples each (TALLY_FUZZ_EXAMPLES; make test runs 6)
	$(TEST_ENV) && TALLY_FUZZ_EXAMPLES=$${TALLY_FUZZ_EXAMPLES:-200} $(PYTEST) -q -s --timeout 0 \
		tests/e2e/test_api_fuzzing.py

lint: ## ruff, ruff format --check, mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy libs/sdk/src libs/contracts/src libs/runtime/src libs/testkit/src services/*/src bench chaos

format: ## apply ruff's fixes and formatting
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# The bench's own Kafka and PostgreSQL, wiped before each bench: other work on the machine never
# writes to its topics, and the millions of events it loads never stay in anyone else's.
BENCH_INFRA := TALLY_TEST_RUN_DIR=$(CURDIR)/.run/bench-infra TALLY_TEST_KAFKA_PORT=19292 \
	TALLY_TEST_KAFKA_CONTROLLER_PORT=19293 TALLY_TEST_PG_PORT=15632 TALLY_TEST_MAIL_PORT=11225 \
	bash scripts/test-infra.sh

bench: setup ## throughput, freshness, ingest, memory (QUICK=1: ~1 min); bench/report.{json,md,png}
	@if [ -n "$${KAFKA_BOOTSTRAP:-}" ]; then .venv/bin/python -m bench.run $(if $(QUICK),--quick); \
	else $(BENCH_INFRA) reset >/dev/null && $(BENCH_INFRA) up \
		&& eval "$$($(BENCH_INFRA) env)" && .venv/bin/python -m bench.run $(if $(QUICK),--quick); \
		status=$$?; $(BENCH_INFRA) down >/dev/null; exit $$status; fi

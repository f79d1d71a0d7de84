# Two commands do everything on a fresh machine: `make dev` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# The venv's python3.13 first on PATH: `sam build` looks for the template's runtime there
# (aws-sam-cli#2634).
export PATH := $(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup setup-browser test test-faults test-browser test-unit test-sam lint validate build deploy clean reset sam-local
.DEFAULT_GOAL := help

help:  ## this list
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):[^#]*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{ printf "  make %-16s %s\n", $$1, $$2 }'

setup:  ## venv + locked packages + redis-server (idempotent)
	@bash scripts/setup.sh

setup-browser:  ## setup, and chromium from the system's packages (the browser test, make screenshot)
	@bash scripts/setup.sh --browser

test: setup  ## the suite, on real redis-server processes and moto (more tiers: test-faults, test-browser, test-sam)
	$(BIN)/python -m pytest -m 'not samlocal and not e2e and not faults and not hostile and not browser' $(PYTEST_ARGS)

test-faults: setup  ## faults injected into real Redis topologies (kill -9, lost replies, failovers) and hostile input, fuzzing included
	$(BIN)/python -m pytest -m 'faults or hostile' $(or $(PYTEST_ARGS),tests)

test-browser: setup-browser  ## the dashboard, count.js and badges in a real headless Chromium (installed if missing)
	$(BIN)/python -m pytest -m browser $(or $(PYTEST_ARGS),tests)

test-unit: setup  ## the unit tier: no server, no socket, seconds (run it on every save)
	$(BIN)/python -m pytest -q -m unit tests/unit $(PYTEST_ARGS)

test-sam: setup  ## the HTTP contract through the real `sam local start-api` and `sam local invoke` (Docker; minutes)
	$(BIN)/python -m pytest -m samlocal tests/samlocal $(PYTEST_ARGS)

lint: setup  ## ruff, mypy, the layer's import contracts, cfn-lint with the serverless rules, sam validate --lint, the workflows (zizmor, actionlint)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=layers/shared/python $(BIN)/lint-imports  # the layer's contracts (pyproject.toml): arrows one way, no circle
	$(BIN)/cfn-lint  # .cfnlintrc: template.yaml, with cfn-lint-serverless's rules appended
	$(BIN)/sam validate --lint
	$(BIN)/zizmor --offline --config .github/zizmor.yml .github/workflows
	@# actionlint has no PyPI wheel or Debian package to install offline; the pull-request
	@# workflow installs it (go install) and this runs it wherever it is on PATH.
	@if command -v actionlint >/dev/null; then actionlint; else echo "actionlint: not on PATH, skipped here (the ci workflow runs it)"; fi

validate: setup  ## sam validate --lint (cfn-lint's rules on the template)
	$(BIN)/sam validate --lint

build: setup  ## sam build (deployment artifacts in .aws-sam/)
	$(BIN)/sam build

deploy: build  ## sam deploy (ENV=dev|prod picks a samconfig.toml section; default: [default]; DEPLOY_ARGS=…)
	$(BIN)/sam deploy $(if $(ENV),--config-env $(ENV),) $(DEPLOY_ARGS)

.PHONY: e2e
e2e: setup  ## the HTTP contract against a deployed stack: AWS_SAM_STACK_NAME=hit-counter-dev make e2e
	$(BIN)/python -m pytest -m e2e tests/e2e $(E2E_ARGS)

sam-local: setup  ## `sam local start-api` on http://127.0.0.1:3000 in Docker, on a Redis it starts (docs/local-development.md)
	$(BIN)/python -m devtools.samlocal

reset: ## forget make dev's local data (its Redis snapshot, logs); the next `make dev` starts empty
	rm -rf .dev/redis .dev/*.log

clean:  ## remove build and tool caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

.PHONY: dev
dev: setup  ## the API on http://127.0.0.1:3000 (PORT=…), on a Redis it starts (unless REDIS_URL is set)
	$(BIN)/python -m localapi $(DEV_ARGS)

.PHONY: bench
bench: setup  ## speed as ratios to floors measured in the same run → .bench/ (BENCH_WRITE=1: the committed BENCHMARKS.md)
	BENCH_WRITE=$(BENCH_WRITE) $(BIN)/python -m bench.bench

.PHONY: screenshot
screenshot: setup-browser  ## docs/dashboard.png: the dashboard after some hits and an import, in headless Chromium
	$(BIN)/python -m devtools.screenshot

.PHONY: docs-tables
docs-tables: setup  ## rewrite the docs' key tables (docs/keys.md, pages.md, history.md) from hitcounter/model/keyspace.py
	PYTHONPATH=layers/shared/python $(BIN)/python -m devtools.keytable

.PHONY: openapi
openapi: setup  ## regenerate layers/shared/python/hitcounter/web/openapi.json from the route code
	$(BIN)/python -m devtools.openapi

.PHONY: test-under-load
test-under-load: setup  ## the suite RUNS times (default 3) with every core kept busy: finds tests that wait on time
	$(BIN)/python scripts/under_load.py --runs $(or $(RUNS),3) $(PYTEST_ARGS)

.PHONY: lock
lock: setup  ## resolve requirements-dev.in and layers/deps/requirements.in into the hashed locks
	$(BIN)/uv pip compile --quiet --universal --python-version 3.13 --generate-hashes \
	  --output-file requirements-dev.txt requirements-dev.in
	$(BIN)/uv pip compile --quiet --universal --python-version 3.13 \
	  --generate-hashes --output-file layers/deps/requirements.txt layers/deps/requirements.in

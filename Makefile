# Yrkesresan: one target per workflow. `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup lock run test test-unit test-integration test-faults test-e2e lint bench contract clean postgres

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

# Every dependency at the version and hash of requirements-dev.lock (`make lock` writes it);
# then the project itself, without resolving anything more.
$(STAMP): pyproject.toml requirements-dev.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-find-links --no-emit-index-url pyproject.toml

lock: ## pin every dependency with hashes: requirements.lock (the image), requirements-dev.lock
	$(BIN)/pip install --quiet pip-tools
	$(LOCK) -o requirements.lock
	$(LOCK) --extra dev --extra local -o requirements-dev.lock

setup: $(STAMP) ## create the virtualenv and install everything (idempotent)
	@command -v docker-compose >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing docker-compose (Debian package; validates deploy/ without an engine)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; \
	  else echo "warning: docker-compose missing; deploy tests will fail" >&2; fi; }
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (Debian package; the dashboard's browser test drives it)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "warning: chromium missing; the dashboard's browser test will fail" >&2; fi; }
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fonts-dejavu-core (the PDFs embed DejaVu: names outside Latin-1)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; \
	  else echo "warning: DejaVu fonts missing; PDFs fall back to Helvetica" >&2; fi; }

postgres: ## make sure the local PostgreSQL answers (tests need it)
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

run: setup ## start the whole system on embedded defaults (SQLite, local broker) with demo data
	$(BIN)/yrkesresan run

test: setup postgres ## the whole suite: unit, integration (PostgreSQL, broker) and end-to-end
	$(BIN)/pytest -q

test-unit: setup postgres ## fast tests, no broker; needs PostgreSQL: a test written once runs on SQLite and on PostgreSQL
	$(BIN)/pytest -q tests/unit

test-integration: setup postgres ## tests on real PostgreSQL and the real broker
	$(BIN)/pytest -q tests/integration

test-faults: setup ## fault drills: kill -9 of relay, consumer, API worker, broker; PostgreSQL restarted (a cluster of their own)
	$(BIN)/pytest -q tests/faults

test-e2e: setup postgres ## processes started as a user starts them
	$(BIN)/pytest -q tests/e2e

lint: setup ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy shared services yrkesresan examples

bench: setup postgres ## benchmarks: figures and ratios to a baseline measured in the same run
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

contract: setup ## regenerate docs/contract from the models
	$(BIN)/yrkesresan contract export

clean: ## remove local state (SQLite files, logs); keeps the virtualenv
	rm -rf var

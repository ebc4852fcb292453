# `make run` starts the whole system with demo data; `make test` runs every test. Both install what is missing.
.PHONY: run test lint infra assets clean chaos lock
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Only from the lock file: every version and hash is in requirements-dev.txt, so pip installs exactly those
# (hashes make it refuse anything else) and nothing it would resolve by itself.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

services/portal/static/dist/.built: node_modules/.installed $(shell find services/portal/assets -type f 2>/dev/null)
	npm run --silent build:portal
	touch $@

assets: services/portal/static/dist/.built

infra:
	bash deploy/local/ensure-infra.sh

run: infra $(VENV)/.installed assets
	$(PY) -m deploy.local.run

# pytest exits 5 when it collects no tests; that is not a pass here, so it stays a failure. Lint first: it takes
# seconds, and CI (.ci/run) is `make test`, so a lint or type error fails the build like a failing test.
test: lint assets
	bash deploy/local/ensure-infra.sh --browser
	$(VENV)/bin/pytest

# Not part of `make test`: PEP cycles under eight kinds of injected fault on a three-node RabbitMQ cluster and a
# Postgres primary and standby of its own (root: network namespaces), writing var/chaos/report.json;
# CHAOS_ARGS="--cycles 10 --faults 1" for a short run.
chaos: $(VENV)/.installed
	$(PY) -m tests.chaos $(CHAOS_ARGS)

# Not part of `make test`: does all of England fit on this machine? Generates BENCH_CHILDREN (100,000) children
# with three terms of PEPs, starts the system on a database of its own, drives PEP cycles through the gateway for
# BENCH_SECONDS (120) and measures the machine's ceilings; writes var/bench/report.json (docs/performance.md).
.PHONY: bench
bench: infra $(VENV)/.installed assets
	$(PY) -m tests.bench.run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check shared services tests deploy
	$(VENV)/bin/mypy shared services/identity/domain services/delegation/domain

# The lock files, from the direct requirements in requirements.in and requirements-dev.in (pip-tools in a venv of
# its own). `make lock` keeps every pinned version that still satisfies the .in files; `make lock UPGRADE=1`
# moves everything to the newest release allowed. Commit the .in and .txt files together.
PIP_COMPILE := .venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-find-links --no-emit-index-url $(if $(UPGRADE),--upgrade)
lock:
	test -x .venv-lock/bin/pip-compile || ($(PYTHON) -m venv .venv-lock && \
		.venv-lock/bin/pip install -q --disable-pip-version-check pip-tools==7.7.0)
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) --output-file=requirements.txt requirements.in
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) --output-file=requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) node_modules services/portal/static/dist var/log var/traces

# Known vulnerabilities in the pinned runtime dependencies, from PyPI's advisory data (pip-audit in a venv of its
# own). Not part of `make test`: it needs PyPI's JSON API, and the build machines here reach only a PyPI mirror
# without it (every package comes back "not found"); --strict turns that into a failure, not a silent pass.
.PHONY: audit
audit:
	test -x .venv-audit/bin/pip-audit || ($(PYTHON) -m venv .venv-audit && \
		.venv-audit/bin/pip install -q --disable-pip-version-check pip-audit==2.10.1)
	.venv-audit/bin/pip-audit --strict --vulnerability-service pypi -r requirements.txt

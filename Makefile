# The platform on one machine. `make up` starts everything; `make test` runs every test tier.
SHELL := /bin/bash
# The interpreter .venv is made from (`make setup PYTHON=...` picks another; remove .venv first):
# Debian's python3.11 where it can make a venv, else the first python3 on the PATH. Debian builds
# its interpreter with profile-guided and link-time optimisation, as the python:3.11-slim image
# the services ship in is built (deploy/Dockerfile); an interpreter built without them (pyenv's
# default) costs the services about a fifth more CPU (README, "Billing runs at scale").
PYTHON ?= $(or $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11),python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup up down status test test-fast bench contracts clean browser-deps faults

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/.installed

up: setup
	deploy/local/infra.sh up
	deploy/local/services.sh up
	$(BIN)/billing demo

down:
	-deploy/local/services.sh down
	deploy/local/infra.sh down

status:
	@deploy/local/infra.sh status
	@deploy/local/services.sh status

# the portal's browser tests and PDF checks: Debian's chromium and chromedriver, pdftotext, and
# WeasyPrint's libraries, installed with apt-get only when missing
BROWSER_DEPS := chromium chromium-driver poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
browser-deps:
	@missing=$$(for p in $(BROWSER_DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# every tier: unit, contract, integration and end-to-end on the real Kafka and PostgreSQL
# three workers (pytest-xdist), a test module per worker: the end-to-end tests mostly wait on
# Kafka and PostgreSQL, so three share two cores well; TEST_WORKERS=0 runs them in one process
TEST_WORKERS ?= 3
test: setup browser-deps
	deploy/local/infra.sh up
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=15 --tb=short tests

# the pure tiers only (no Kafka, no PostgreSQL)
test-fast: setup
	$(BIN)/pytest -q -p no:cacheprovider tests/unit tests/contract

# the seeded fault suite (docs/faults.md) on a Kafka and PostgreSQL of its own (var/faults, ports
# 19092/19093/56432: `make up` and the tests are not disturbed), stopped at the end.
# SEED=n replays a schedule; FAULTS=name,kind,... runs some faults only.
faults: setup
	$(BIN)/billing faults --down $(if $(SEED),--seed $(SEED)) $(if $(FAULTS),--scenario $(FAULTS))

bench: setup
	$(BIN)/billing bench rating

contracts: setup
	$(BIN)/python -m contracts.generate

clean: down
	rm -rf var

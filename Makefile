# pgdock.postgres — one entry point for the test bed, the tests and the demo.
#   make demo        set up this machine and deploy the demo (see README)
#   make test        everything CI runs: unit, sanity, build, integration, molecule
#   make unit        unit tests alone (no Docker)
#   make module-MOD  one module's integration tests alone (pytest + ansible-test target), e.g. module-container
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= $(shell bash testbed/find-python.sh)
PYTEST_ARGS ?=
COLLECTION_LINK := .collections/ansible_collections/pgdock/postgres
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(BIN):$(PATH)

.PHONY: help deps testbed images unit integration pytest-integration targets sanity build molecule test demo demo-clean clean
help:
	@sed -n '1,7p' Makefile

deps: $(VENV)/.deps-installed $(COLLECTION_LINK)

$(VENV)/.deps-installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "no Python >= 3.12 found"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

## The real parts: Docker engine (installed and started when missing) and the offline images
testbed: deps
	bash testbed/ensure-docker.sh
	bash testbed/build-images.sh

unit: deps
	$(BIN)/pytest tests/unit -q $(PYTEST_ARGS)

pytest-integration: testbed
	$(BIN)/pytest tests/integration -q $(PYTEST_ARGS)

targets: testbed
	bash tests/ansible-test.sh integration --local --python 3.12 -v

integration: pytest-integration targets

module-%: testbed
	$(BIN)/pytest tests/integration/test_$*.py -q $(PYTEST_ARGS)
	if [ -d tests/integration/targets/$* ]; then bash tests/ansible-test.sh integration --local --python 3.12 $*; fi

sanity: deps
	bash tests/ansible-test.sh sanity --local --python 3.12 --requirements

build: deps
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

molecule: testbed
	$(BIN)/molecule test --all

test: unit sanity integration molecule

## Demo: a primary on the local test image, reachable on 127.0.0.1:15432
demo: testbed
	$(BIN)/ansible-playbook -i demo/inventory.yml playbooks/deploy.yml -e @demo/vars.yml
	@echo
	@echo "PostgreSQL 18 is running in container pgdock-demo-primary (network pgdock-demo, alias primary)."
	@echo "Connect from this host:"
	@echo "  PGPASSWORD=\$$(cat .demo/superuser_password) psql 'host=127.0.0.1 port=15432 user=postgres dbname=app'"
	@echo "Remove it: make demo-clean"

demo-clean: deps
	$(BIN)/ansible localhost -i demo/inventory.yml -m pgdock.postgres.container -a 'name=pgdock-demo-primary state=absent remove_volume=true secrets_dir=/var/lib/pgdock/pgdock-demo-primary/secrets'
	$(BIN)/ansible localhost -i demo/inventory.yml -m pgdock.postgres.network -a 'name=pgdock-demo state=absent force=true'
	rm -rf .demo

clean:
	rm -rf build .collections tests/output

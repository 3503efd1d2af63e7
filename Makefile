# pgdock.postgres — one entry point for the test bed, the tests and the demo.
#   make demo        set up this machine and deploy the demo (see README)
#   make test        everything CI runs: unit, sanity, build, integration, molecule
#   make unit        unit tests alone (no Docker)
#   make module-MOD  one module's integration tests alone (pytest + ansible-test target), e.g. module-container
#   make lint        ansible-lint (production profile) on roles, playbooks and molecule
#   make test-multihost   the multi-host family on a test bed of Docker hosts (testbed/hosts.mk)
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
	@sed -n '1,9p' Makefile

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
	$(BIN)/python tests/sanity/extra/layers.py
	$(BIN)/python tests/sanity/extra/action_group.py

build: deps
	mkdir -p build
	$(BIN)/ansible-galaxy collection build --force --output-path build .

molecule: testbed
	$(BIN)/molecule test --all

test: unit sanity lint integration molecule test-multihost

## Demo: primary + replica + PgBouncer on the local test images, then a switchover to the replica
## and back (clients of the pooler on 127.0.0.1:16432 see a short pause, no error)
DEMO_PLAY := $(BIN)/ansible-playbook -i demo/inventory.yml -e @demo/vars.yml
demo: testbed
	$(DEMO_PLAY) playbooks/deploy.yml
	$(DEMO_PLAY) playbooks/switchover.yml -e pgdock_switchover_target=pgdock-demo-replica
	$(DEMO_PLAY) playbooks/switchover.yml -e pgdock_switchover_target=pgdock-demo-primary
	@echo
	@echo "PostgreSQL 18 primary pgdock-demo-primary (127.0.0.1:15432), its streaming replica"
	@echo "pgdock-demo-replica (127.0.0.1:15433) and PgBouncer pgdock-demo-pooler (127.0.0.1:16432) run on"
	@echo "network pgdock-demo; the primary switched over to the replica and back."
	@echo "Connect through the pooler (transaction pooling):"
	@echo "  PGPASSWORD=\$$(cat .demo/app_password) psql 'host=127.0.0.1 port=16432 user=app dbname=app'"
	@echo "Or to the primary as the superuser (TLS):"
	@echo "  PGPASSWORD=\$$(cat .demo/superuser_password) psql 'host=127.0.0.1 port=15432 user=postgres dbname=app'"
	@echo "Switch over again: $(DEMO_PLAY) playbooks/switchover.yml -e pgdock_switchover_target=pgdock-demo-replica"
	@echo "Remove it all: make demo-clean"

demo-clean: deps
	$(BIN)/ansible localhost -i demo/inventory.yml -m pgdock.postgres.pooler -a 'name=pgdock-demo-pooler state=absent remove_config=true'
	for name in pgdock-demo-replica pgdock-demo-primary; do \
	  $(BIN)/ansible localhost -i demo/inventory.yml -m pgdock.postgres.container -a "name=$$name state=absent remove_volume=true secrets_dir=/var/lib/pgdock/$$name/secrets"; \
	done
	$(BIN)/ansible localhost -i demo/inventory.yml -m pgdock.postgres.network -a 'name=pgdock-demo state=absent force=true'
	rm -rf .demo

clean:
	rm -rf build .collections tests/output

# after the targets above: `help` stays the default goal
include lint.mk testbed/hosts.mk

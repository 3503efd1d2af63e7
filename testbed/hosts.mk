# The multi-host test bed (docs/testbed.md); the main Makefile includes this file.
#   make testbed-hosts        start (or reuse) TESTBED_HOSTS Docker hosts (default 3) and write
#                             .testbed/inventory.yml
#   make testbed-hosts-down   remove them (containers, volumes, network, cgroup folders)
#   make test-multihost       the multihost pytest family on the test bed (tests/multihost)
TESTBED_HOSTS ?= 3

.PHONY: testbed-hosts testbed-hosts-down test-multihost

# hosts.sh builds the host image (cached by recipe) and any test image that is missing;
# `make testbed` is what keeps the test images current
testbed-hosts: deps
	bash testbed/ensure-docker.sh
	bash testbed/hosts.sh up $(TESTBED_HOSTS)

testbed-hosts-down:
	bash testbed/hosts.sh down

# the session fixture runs `hosts.sh up 3` itself (a reuse when testbed-hosts ran); one process
# (-p no:xdist, whatever PYTEST_ARGS says): the tests share the three hosts and their fixed names
MULTIHOST_PYTEST_ARGS ?= $(filter-out -n 2 -n2 --numprocesses=2,$(PYTEST_ARGS))
test-multihost: testbed-hosts
	$(BIN)/pytest tests/multihost -q -p no:xdist $(MULTIHOST_PYTEST_ARGS)

# make lint: ansible-lint (production profile, .ansible-lint) on the roles, playbooks and molecule
# scenarios. The main Makefile includes this file (it brings BIN, the deps target and the
# ANSIBLE_COLLECTIONS_PATH/ANSIBLE_CONFIG exports); alone: make -f Makefile -f lint.mk lint
LINT_PATHS ?= roles playbooks molecule

.PHONY: lint
lint: deps
	$(BIN)/ansible-lint $(LINT_PATHS)

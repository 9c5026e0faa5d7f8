# aurora.kerberos: every entry point a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# The collection tree ansible-test needs (the repo root is the collection).
SANITY_TREE := build/ansible_collections/aurora/kerberos
LAB_ENV := . .lab/env

.PHONY: help setup lab-up lab-down lab-status demo test sanity units lint integration integration-lab integration-chain build ee-context molecule docs role-docs clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: ## install Debian packages, the pinned .venv and the ansible-test bootstrap
	bash scripts/setup.sh

lab-up: setup ## start the lab (AWS endpoint, Samba AD DC, PostgreSQL); idempotent
	$(PY) lab/lab.py up

lab-down: ## stop every lab process by pid and remove its network namespace (also make integration's second lab)
	$(PY) lab/lab.py down
	if [ -d .lab-chain ]; then $(CHAIN_LAB) $(PY) lab/lab.py down; fi

lab-status: ## print each lab component's health
	$(PY) lab/lab.py status

demo: lab-up ## run site.yml against the lab, then prove the Kerberos logins with verify.yml
	$(LAB_ENV) && $(BIN)/ansible-playbook -i inventories/lab site.yml
	$(LAB_ENV) && $(BIN)/ansible-playbook -i inventories/lab playbooks/verify.yml

test: setup sanity units lint integration ## everything CI runs: setup first, then sanity, unit, lint, integration

sanity: setup ## ansible-test sanity in a private virtualenv (--venv)
	rm -rf build/ansible_collections && mkdir -p $(SANITY_TREE)
	# What galaxy.yml ships, plus tests/; the lab and the setup script are not collection content.
	tar -c --exclude=./.venv --exclude=./.lab --exclude='./.lab-*' --exclude=./.git --exclude=./build --exclude=./collections \
	  --exclude=./lab --exclude=./scripts --exclude=./bench --exclude=./tests/output --exclude=__pycache__ . | tar -x -C $(SANITY_TREE)
	# ansible-test finds dependencies beside the collection: link the ones the ansible package bundles.
	for dep in amazon/aws community/postgresql; do mkdir -p build/ansible_collections/$${dep%/*}; \
	  ln -sfn $(CURDIR)/$$(ls -d $(VENV)/lib/python3*/site-packages/ansible_collections/$$dep) build/ansible_collections/$$dep; done
	# ansible-test lists files with git; build/ is ignored by the outer repo, so give the copy its own.
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --color no

units: setup ## pytest unit tests (no servers); module_utils line coverage must stay at 90% or more
	$(BIN)/pytest tests/unit --cov=plugins/module_utils --cov-report=term --cov-fail-under=90

lint: setup ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

# The integration suite runs as two streams side by side, each against a lab of its own: most of its
# time is the lab's AWS timings, not CPU. Every tests/integration/test_*.py is in exactly one stream
# (tests/unit/test_makefile.py checks it).
INTEGRATION_LAB := tests/lab tests/integration/test_lab.py tests/integration/test_lab_lifecycle.py \
  tests/integration/test_targets.py tests/integration/test_directory_role.py \
  tests/integration/test_network_peering.py tests/integration/test_execution_environment.py \
  tests/integration/test_ownership.py tests/integration/test_trust_login.py
INTEGRATION_CHAIN := tests/integration/test_site.py tests/integration/test_reliability.py \
  tests/integration/test_bad_input.py tests/integration/test_awx.py tests/integration/test_molecule.py \
  tests/integration/test_doctor.py tests/integration/test_iam_policy.py
# The chain stream's lab: its own state folder, namespace, ports and addresses (lab/CONTRACT.md).
CHAIN_LAB := LAB_STATE_DIR=$(CURDIR)/.lab-chain LAB_NETNS=aurkrb-chain LAB_AWS_PORT=15031 LAB_PG_PORT=15433 \
  LAB_HOST_IP=198.18.0.1 LAB_DC_IP=198.18.0.2

integration: setup ## the lab suite (tests/lab) and integration tests, two streams on two labs; each lab is left as found
	$(MAKE) --no-print-directory -j2 --output-sync=target integration-lab integration-chain

integration-lab: ## integration stream 1: the lab suite, module targets, role tests (lab in .lab)
	$(BIN)/pytest -p no:cacheprovider $(INTEGRATION_LAB)

integration-chain: ## integration stream 2: site.yml end to end, reliability, bad input, AWX, Molecule (lab in .lab-chain)
	$(CHAIN_LAB) $(BIN)/pytest -p no:cacheprovider $(INTEGRATION_CHAIN)

build: setup ## ansible-galaxy collection build into build/
	mkdir -p build && $(BIN)/ansible-galaxy collection build --force --output-path build .

molecule: lab-up ## molecule test: the roles on the lab (converge, idempotence, verify with a Kerberos login)
	# molecule finds ansible-playbook on PATH; the lab's env is the one lab.py acts on (LAB_STATE_DIR).
	. $${LAB_STATE_DIR:-.lab}/env && PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/molecule test

docs: setup ## the HTML site of every module and role in build/docs/html (the built collection: antsibull-docs lint, sphinx-init, sphinx-build)
	$(PY) scripts/docs.py lint
	$(PY) scripts/docs.py site build/docs

role-docs: setup ## write the variables table of each roles/*/README.md from its meta/argument_specs.yml
	$(PY) scripts/docs.py role-docs

ee-context: setup ## the execution environment's build context in build/ee (ansible-builder create; build it with podman or docker)
	rm -rf build/ee build/ee-collection
	$(BIN)/ansible-galaxy collection build --output-path build/ee-collection .
	$(BIN)/ansible-builder create -f execution-environment.yml -c build/ee --output-filename Containerfile

.PHONY: bench bench-logins bench-group-logins bench-ad-users bench-chain
bench: setup ## benchmarks on the lab; every one runs, and a missed goal in any fails the target
	status=0; for target in bench-logins bench-group-logins bench-ad-users bench-chain; do $(MAKE) --no-print-directory $$target || status=1; done; exit $$status

bench-logins: lab-up ## P1: kerberos_logins for 1,000 and 10,000 logins against a psql floor, fails on a missed goal (BENCH_NS, BENCH_REPEAT, BENCH_SAMPLE)
	$(PY) bench/logins.py

bench-group-logins: lab-up ## P6: kerberos_logins syncing a 1,000-member AD group (create, no-op, churn), at most 3 s of module time each (BENCH_GROUP_*)
	$(PY) bench/group_logins.py

bench-ad-users: lab-up ## P5: ad_users, 500 users over ds-data with the TPS fault against writes/TPS, 1,000 over LDAPS against an ad_user loop (BENCH_AD_*)
	$(PY) bench/ad_users.py

bench-chain: setup ## site.yml figures with goals: P2 converged rerun, P3 critical path, P4 fan-out (tears the chain down; BENCH_FANOUT, BENCH_FORKS)
	# The script starts the lab (LAB_STATE_DIR) if it is down, and stops it again afterwards.
	$(PY) bench/chain.py

clean: ## remove build output (not the lab, not the venv)
	rm -rf build tests/output .pytest_cache

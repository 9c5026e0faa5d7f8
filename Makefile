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

.PHONY: help setup lab-up lab-down lab-status demo test sanity units lint integration build ee-context molecule docs clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: ## install Debian packages, the pinned .venv and the ansible-test bootstrap
	bash scripts/setup.sh

lab-up: ## start the lab (AWS endpoint, Samba AD DC, PostgreSQL); idempotent
	$(PY) lab/lab.py up

lab-down: ## stop every lab process by pid and remove its network namespace
	$(PY) lab/lab.py down

lab-status: ## print each lab component's health
	$(PY) lab/lab.py status

demo: lab-up ## run site.yml against the lab, then prove the Kerberos logins with verify.yml
	$(LAB_ENV) && $(BIN)/ansible-playbook -i inventories/lab site.yml
	$(LAB_ENV) && $(BIN)/ansible-playbook -i inventories/lab playbooks/verify.yml

test: sanity units lint integration ## everything CI runs: sanity, unit, lint, integration

sanity: ## ansible-test sanity in a private virtualenv (--venv)
	rm -rf build/ansible_collections && mkdir -p $(SANITY_TREE)
	# What galaxy.yml ships, plus tests/; the lab and the setup script are not collection content.
	tar -c --exclude=./.venv --exclude=./.lab --exclude=./.git --exclude=./build --exclude=./collections \
	  --exclude=./lab --exclude=./scripts --exclude=./bench --exclude=./tests/output --exclude=__pycache__ . | tar -x -C $(SANITY_TREE)
	# ansible-test finds dependencies beside the collection: link the ones the ansible package bundles.
	for dep in amazon/aws community/postgresql; do mkdir -p build/ansible_collections/$${dep%/*}; \
	  ln -sfn $(CURDIR)/$$(ls -d $(VENV)/lib/python3*/site-packages/ansible_collections/$$dep) build/ansible_collections/$$dep; done
	# ansible-test lists files with git; build/ is ignored by the outer repo, so give the copy its own.
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --venv --python 3.11 --color no

units: ## pytest unit tests (no servers); module_utils line coverage must stay at 90% or more
	$(BIN)/pytest tests/unit --cov=plugins/module_utils --cov-report=term --cov-fail-under=90

lint: ## ansible-lint, production profile
	$(BIN)/ansible-lint --profile production

integration: ## the lab suite (tests/lab) and integration tests; starts the lab if down, leaves it as found
	$(BIN)/pytest tests/lab tests/integration

build: ## ansible-galaxy collection build into build/
	mkdir -p build && $(BIN)/ansible-galaxy collection build --force --output-path build .

molecule: lab-up ## molecule test: the roles on the lab (converge, idempotence, verify with a Kerberos login)
	# molecule finds ansible-playbook on PATH; the lab's env is the one lab.py acts on (LAB_STATE_DIR).
	. $${LAB_STATE_DIR:-.lab}/env && PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/molecule test

ee-context: ## the execution environment's build context in build/ee (ansible-builder create; build it with podman or docker)
	rm -rf build/ee build/ee-collection
	$(BIN)/ansible-galaxy collection build --output-path build/ee-collection .
	$(BIN)/ansible-builder create -f execution-environment.yml -c build/ee --output-filename Containerfile

.PHONY: bench bench-logins bench-chain
bench: bench-logins bench-chain ## benchmarks on the lab: bench-logins prints its ratios, bench-chain fails on a missed goal

bench-logins: lab-up ## 1,000 Kerberos logins: kerberos_logins vs a community.postgresql loop (BENCH_N, BENCH_SAMPLE)
	$(PY) bench/logins.py

bench-chain: ## site.yml figures with goals: P2 converged rerun, P3 critical path, P4 fan-out (tears the chain down; BENCH_FANOUT, BENCH_FORKS)
	# The script starts the lab (LAB_STATE_DIR) if it is down, and stops it again afterwards.
	$(PY) bench/chain.py

clean: ## remove build output (not the lab, not the venv)
	rm -rf build tests/output .pytest_cache

# One target per job. Every target installs what it needs from nothing: a virtualenv with
# the pinned Python packages (constraints.txt) and the pinned Node 22 + AWS CDK CLI
# (package-lock.json). node_modules/.bin comes first on PATH so jsii and the CLI use Node 22.
# The venv includes the `bench` extra (AWS Solutions Constructs, 1.3 MB; matplotlib for the
# benchmarks' figures, about 165 MB installed with numpy, Pillow and fontTools) so that the
# tests also run the SnsToSqs half of the synth benchmarks and draw the figures.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: help setup demo synth test lint typecheck unit docs diagrams dist bench clean

help:
	@echo "make demo   - install toolchain if missing, deploy the order fanout and push stacks to a local emulator, publish sample orders and push messages, print what each consumer and device got"
	@echo "make synth  - install toolchain if missing, cdk synth (every stack) into cdk.out"
	@echo "make test   - install toolchain if missing, then ruff, mypy and pytest"
	@echo "make docs   - install toolchain if missing, build the documentation site (mkdocs --strict) into site/"
	@echo "make diagrams - synthesize the app and redraw docs/diagrams/ (each reference stack, Mermaid and SVG)"
	@echo "make dist   - build the constructs_lib wheel into dist/"
	@echo "make bench  - install toolchain if missing, run every script in benchmarks/ (slow; redraws docs/images/benchmarks/)"
	@echo "make clean  - remove .venv, node_modules, cdk.out, dist and site"

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,docs]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

# The demo deploys the order fanout with `cdk bootstrap` and `cdk deploy` (the pinned CLI)
# to the local emulator (moto, in process, on 127.0.0.1) and stops it when done; nothing
# reaches AWS. Its code is constructs_lib.testing.
demo: setup
	python -W ignore::UserWarning -m constructs_lib.testing.demo --cdk .

synth: setup
	cdk synth --quiet --output cdk.out
	@echo "Templates written to cdk.out/"

lint: setup
	ruff check .
	ruff format --check .

typecheck: setup
	mypy

# Two workers (the machine's two cores), one test module per worker at a time, so that each
# module's synth and deploy fixtures still run once.
unit: setup
	pytest -n 2 --dist loadfile

test: lint typecheck unit

# The documentation site (docs/, mkdocs.yml) with MkDocs Material and mkdocstrings: --strict
# fails on a broken link, anchor, API reference or nav entry. `make test` builds it too
# (tests/test_docs.py).
docs: setup
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir site

# Each reference stack drawn from its synthesized template by the operator command; a test
# (tests/cli/test_diagram.py) fails when a committed diagram no longer matches the app.
REFERENCE_STACKS := OrderFanout PushNotifications ImageProcessing LedgerFanout OrdersPrimary OrdersRecovery
diagrams: synth
	mkdir -p docs/diagrams
	for stack in $(REFERENCE_STACKS); do \
	  fanout diagram cdk.out --stack $$stack --output-file docs/diagrams/$$stack.mmd && \
	  fanout diagram cdk.out --stack $$stack --format svg --output-file docs/diagrams/$$stack.svg || exit 1; \
	done
	FANOUT_UPDATE_DOCS=1 pytest tests/test_docs.py -p no:xdist -q -k construct_page

dist: setup
	$(VENV)/bin/python -m pip wheel --quiet --no-deps --wheel-dir dist .

bench: setup
	python benchmarks/synth_scale.py
	python benchmarks/fixed_cost.py
	python benchmarks/handler_throughput.py
	python benchmarks/scaling_sim.py
	python benchmarks/scaling_sim.py --scenario priority
	python benchmarks/lambda_invoke.py
	python benchmarks/emulator_deploy.py
	python benchmarks/operator_cli.py

clean:
	rm -rf $(VENV) node_modules cdk.out dist build site

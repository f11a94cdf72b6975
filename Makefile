# portafunc — two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
AZURITE_VERSION := 3.35.0

.PHONY: demo test install bench clean docs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip setuptools wheel

# Core + the four target adapters (editable) + what the tests use.
install: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e . -e adapters/aws -e adapters/azure -e adapters/gcp \
		-e adapters/container \
		-r requirements-test.txt

# Azurite (the Azure Storage emulator) from npm, pinned: newer versions need Node >= 22.
.tools/node_modules/.bin/azurite:
	npm install --silent --no-audit --no-fund --prefix .tools azurite@$(AZURITE_VERSION)

# Run the example locally (one request through each kind of trigger) and package it for every cloud.
demo: install
	$(BIN)/python examples/demo.py
	$(BIN)/portafunc package --target aws examples/shop
	$(BIN)/portafunc package --target azure examples/shop
	$(BIN)/portafunc package --target gcp examples/shop
	$(BIN)/portafunc package --target container examples/shop

# The Azure CLI in its own venv (it pins its own azure-* libraries): the deploy checks replay deploy.sh's az commands
# through its parser. About 7 minutes and 730 MB on a fresh machine.
AZURE_CLI_VERSION := 2.91.0
.tools/azcli/bin/az:
	$(PY) -m venv .tools/azcli
	.tools/azcli/bin/pip install -q --disable-pip-version-check azure-cli==$(AZURE_CLI_VERSION)

# The documentation site and its API reference from the docstrings (into .site/); --strict: a broken link, anchor
# or reference fails the build.
docs: install
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-docs.txt
	$(BIN)/mkdocs build --strict

# The linter and the type checker, configured in pyproject.toml (the tests: tests/mypy.ini). `make test` runs them
# first: a finding fails it.
.PHONY: lint
lint: install
	$(BIN)/ruff check portafunc adapters tests examples benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --config-file tests/mypy.ini

# A quick run of the benchmark suite (proves it still runs; no figures are judged), then the whole test suite
# (tests/typing type-checks a user's app with mypy and pyright), against the real local
# stand-ins (moto server, Pub/Sub emulator, Azurite, functions-framework).
test: install lint .tools/node_modules/.bin/azurite .tools/azcli/bin/az docs
	$(BIN)/python benchmarks/run.py --smoke
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .tools dist build .pytest_cache .hypothesis .site

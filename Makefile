# Everything a developer or CI runs goes through here. CI calls these same targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv run test lint lint-security pytest unit integration clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# The venv is rebuilt whenever a requirements file is newer than the last install.
$(STAMP): requirements-dev.txt chalice_app/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (set PYTHON=python3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP) ## create or refresh .venv from requirements-dev.txt

run: $(STAMP) ## serve the API on 127.0.0.1:$${PORT:-8000} on a real database
	$(PY) -m ops run

test: lint pytest ## every lint and every test

lint: $(STAMP) lint-security ## ruff, sqlfluff, cfn-lint, security gates
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint sql
	@templates=$$(ls cloudformation/*.yaml 2>/dev/null); \
	  if [ -n "$$templates" ]; then echo "cfn-lint $$templates"; $(VENV)/bin/cfn-lint $$templates; fi

# bandit: no medium or high finding in shipped code. detect-secrets: nothing that looks like a
# secret in any tracked file beyond the audited .secrets.baseline.
lint-security: $(STAMP) ## bandit and the secret scan
	$(VENV)/bin/bandit --quiet --recursive --severity-level medium chalice_app ops
	git ls-files -z | xargs -0 $(VENV)/bin/detect-secrets-hook --baseline .secrets.baseline

pytest: $(STAMP) ## all tests (unit and integration)
	$(PY) -m pytest

unit: $(STAMP) ## tests with no I/O
	$(PY) -m pytest tests/unit

integration: $(STAMP) ## tests against the real database and moto
	$(PY) -m pytest -m integration

clean: ## remove the venv, build output and the private database
	rm -rf $(VENV) build .localdb .pytest_cache .ruff_cache

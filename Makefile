# Retrainer: `make demo` sets everything up and runs the main job on the embedded local stack;
# `make test` runs the tests. Everything installs pinned into .venv and .venv-tools (and the local MLflow
# server into .venv-mlflow, apart: its dependencies must not move the app's pins).
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
CHECKOV := .venv-checkov
DEPLOY := .venv-deploy
MLFLOW := .venv-mlflow
BIN := $(VENV)/bin
ENV ?= dev
export SAM_CLI_TELEMETRY = 0

.PHONY: demo test unit integration lint build package-check bench deploy deploy-plan local-up local-down local-status lock lock-extras clean

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(TOOLS)/.installed: requirements-tools.lock
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --upgrade pip==25.3
	$(TOOLS)/bin/pip install -q -r requirements-tools.lock
	touch $@

$(CHECKOV)/.installed: requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install -q --upgrade pip==25.3
	$(CHECKOV)/bin/pip install -q -r requirements-checkov.lock
	touch $@

$(DEPLOY)/.installed: requirements-deploy.lock
	$(PYTHON) -m venv $(DEPLOY)
	$(DEPLOY)/bin/pip install -q --upgrade pip==25.3
	$(DEPLOY)/bin/pip install -q -r requirements-deploy.lock
	touch $@

$(MLFLOW)/.installed: requirements-mlflow.lock
	$(PYTHON) -m venv $(MLFLOW)
	$(MLFLOW)/bin/pip install -q --upgrade pip==25.3
	$(MLFLOW)/bin/pip install -q -r requirements-mlflow.lock
	touch $@

demo: $(VENV)/.installed $(MLFLOW)/.installed
	$(BIN)/retrainer demo

test: $(VENV)/.installed $(MLFLOW)/.installed
	$(BIN)/pytest -q

unit: $(VENV)/.installed
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.installed $(MLFLOW)/.installed
	$(BIN)/pytest -q tests/integration tests/e2e

# Offline checks (CI: .ci/run): code, template, state machine, security scan, and the built Lambda packages.
lint: $(VENV)/.installed $(TOOLS)/.installed $(CHECKOV)/.installed
	$(BIN)/ruff check functions retrainer tests bench training_containers
	$(TOOLS)/bin/sam validate --lint --template template.yaml --region us-east-1
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/statelint --ignore=FLOAT statemachine/retrain.asl.json statemachine/score.asl.json
	$(CHECKOV)/bin/checkov --config-file .checkov.yaml
	$(MAKE) --no-print-directory package-check

build: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build --template template.yaml

# sam build, then every function's package must be small and free of tensorflow, sagemaker and moto.
package-check: build $(VENV)/.installed
	$(BIN)/python -m retrainer.deploy_checks .aws-sam/build

# make deploy ENV=dev|prod: publish the training code, resolve the images, sam deploy (retrainer/deploy.py).
deploy: $(TOOLS)/.installed $(DEPLOY)/.installed build
	$(DEPLOY)/bin/python -m retrainer.deploy deploy --env $(ENV) --sam $(TOOLS)/bin/sam

deploy-plan: $(DEPLOY)/.installed
	$(DEPLOY)/bin/python -m retrainer.deploy deploy --env $(ENV) --sam $(TOOLS)/bin/sam --dry-run

bench: $(VENV)/.installed
	$(BIN)/python -m bench.bench_scarcegan
	$(BIN)/python -m bench.bench_triggers
	$(BIN)/python -m bench.bench_recovery
	$(BIN)/python -m bench.bench_models
	$(BIN)/python -m bench.bench_scoring
	$(BIN)/python -m bench.bench_overhead

local-up local-down local-status: $(VENV)/.installed $(MLFLOW)/.installed
	$(BIN)/retrainer local $(subst local-,,$@)

lock:
	rm -rf /tmp/retrainer-lock && $(PYTHON) -m venv /tmp/retrainer-lock
	/tmp/retrainer-lock/bin/pip install -q -r requirements.in
	{ echo "# Generated: pip freeze of a venv built from requirements.in (make lock). Install with make."; /tmp/retrainer-lock/bin/pip freeze; } > requirements.lock

# requirements-{checkov,deploy,mlflow}.lock, each a pip freeze of a fresh venv from its .in.
lock-extras:
	for name in checkov deploy mlflow; do \
	  rm -rf /tmp/retrainer-lock-$$name && $(PYTHON) -m venv /tmp/retrainer-lock-$$name && \
	  /tmp/retrainer-lock-$$name/bin/pip install -q -r requirements-$$name.in && \
	  { echo "# Generated: pip freeze of a venv built from requirements-$$name.in (make lock-extras)."; \
	    /tmp/retrainer-lock-$$name/bin/pip freeze; } > requirements-$$name.lock || exit 1; \
	done

clean:
	-$(BIN)/retrainer local down
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) $(DEPLOY) $(MLFLOW) .retrainer .aws-sam .pytest_cache

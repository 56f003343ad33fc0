# Retrainer: `make demo` sets everything up and runs the main job on the embedded local stack;
# `make test` runs the tests. Everything installs pinned into .venv and .venv-tools.
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
BIN := $(VENV)/bin

.PHONY: demo test unit integration lint build bench deploy local-up local-down local-status lock clean

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

demo: $(VENV)/.installed
	$(BIN)/retrainer demo

test: $(VENV)/.installed
	$(BIN)/pytest -q tests

unit: $(VENV)/.installed
	$(BIN)/pytest -q tests/unit

integration: $(VENV)/.installed
	$(BIN)/pytest -q tests/integration tests/e2e

lint: $(VENV)/.installed $(TOOLS)/.installed
	$(BIN)/ruff check functions retrainer tests bench training_containers
	$(TOOLS)/bin/sam validate --lint --template template.yaml --region us-east-1
	$(TOOLS)/bin/cfn-lint template.yaml
	$(TOOLS)/bin/statelint --ignore=FLOAT statemachine/retrain.asl.json

build: $(TOOLS)/.installed
	$(TOOLS)/bin/sam build --template template.yaml

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_scarcegan.py

local-up local-down local-status: $(VENV)/.installed
	$(BIN)/retrainer local $(subst local-,,$@)

lock:
	rm -rf /tmp/retrainer-lock && $(PYTHON) -m venv /tmp/retrainer-lock
	/tmp/retrainer-lock/bin/pip install -q -r requirements.in
	{ echo "# Generated: pip freeze of a venv built from requirements.in (make lock). Install with make."; /tmp/retrainer-lock/bin/pip freeze; } > requirements.lock

clean:
	-$(BIN)/retrainer local down
	rm -rf $(VENV) $(TOOLS) .retrainer .aws-sam .pytest_cache

# Two commands on a fresh machine (python3 and make): `make dev` and `make test`. `make` alone lists every target.
PYTHON ?= python3
VENV := .venv
MINISTACK_VENV := .venv-ministack
DEPLOY_VENV := .venv-deploy
SCHEMATHESIS_VENV := .venv-schemathesis
PY := $(VENV)/bin/python
# The AWS CLI v1 reads only AWS_DEFAULT_REGION and the profile's region: AWS_REGION, which the newer SDKs read
# first, is handed over as AWS_DEFAULT_REGION (as the tools that call AWS through scripts/aws_env.py read it).
AWS = $(if $(AWS_REGION),AWS_DEFAULT_REGION='$(AWS_REGION)' )$(DEPLOY_VENV)/bin/aws
# The API's port under `make dev`: the portal's frontend and Typing Tutor call 5000.
override PORT := $(or $(PORT),5000)
# The local DynamoDB server's port (ministack); LocalStack's default too, so it may need moving.
override DYNAMODB_PORT := $(or $(DYNAMODB_PORT),4566)
export DYNAMODB_PORT
# Deployment: the Chalice stage (dev or prod), its build folder and CloudFormation stack.
STAGE ?= dev
BUILD ?= build/$(STAGE)
STACK ?= study-portal-$(STAGE)
# What opens a deployed stack counts only when said on make's command line, never from the environment: ACCESS
# (iam, signed requests through `make proxy`; ip, ALLOWED_IPS=; or public), PUBLIC=true, ALLOW_RESET=true.
explicit = $(if $(filter command line,$(origin $(1))),$($(1)))
override ACCESS := $(or $(call explicit,ACCESS),iam)
PACKAGE = $(PY) -m scripts.deploy package --stage $(STAGE) --build $(BUILD) --access '$(ACCESS)'

.DEFAULT_GOAL := help
.PHONY: help install local dev seed seed-stack import reset check test e2e lint-template package deploy destroy proxy \
	loadtest costs bench clean clean-data

## list the targets (this page)
help:
	@awk '/^## /{text=substr($$0, 4); next} /^[a-z0-9-]+:/{if (text) {split($$0, t, ":"); \
		printf "  make %-14s %s\n", t[1], text}; text=""}' $(MAKEFILE_LIST)
	@echo "Variables: PORT=$(PORT) DYNAMODB_PORT=$(DYNAMODB_PORT) STAGE=$(STAGE) (e.g. PORT=8000 make dev)"

# The virtualenvs install side by side (downloads and unpacking overlap); silent once they exist.
## create the virtualenvs (.venv*), the first time only
install:
	@$(MAKE) --no-print-directory -s -j4 $(VENV)/.installed $(MINISTACK_VENV)/.installed $(DEPLOY_VENV)/.installed \
		$(SCHEMATHESIS_VENV)/.installed
## create only what make dev needs: .venv and .venv-ministack (not the AWS CLI)
local:
	@$(MAKE) --no-print-directory -s -j2 $(VENV)/.installed $(MINISTACK_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "installing the app's and tests' packages into $(VENV) (first run only)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(MINISTACK_VENV)/.installed: requirements-ministack.txt
	@echo "installing the local DynamoDB server (ministack) into $(MINISTACK_VENV) (first run only)"
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	touch $@

$(SCHEMATHESIS_VENV)/.installed: requirements-schemathesis.txt
	@echo "installing schemathesis into $(SCHEMATHESIS_VENV) (first run only)"
	$(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-schemathesis.txt
	touch $@

$(DEPLOY_VENV)/.installed: requirements-deploy.txt
	@echo "installing the AWS CLI and cfn-lint into $(DEPLOY_VENV) (first run only)"
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
	touch $@

## serve the API on http://127.0.0.1:5000 (PORT=) with seeded data in ministack (DYNAMODB_PORT=, DATA_DIR=.ministack)
dev: local
	@$(PY) -m scripts.dev --port $(PORT) $(if $(DATA_DIR),--data-dir '$(DATA_DIR)') $(ARGS)

## create the local table if missing and load the seed data (idempotent)
seed: local
	@$(PY) -m scripts.seed

## load the seed data into a deployed stack's table (needs AWS credentials)
seed-stack: install
	@$(PY) -m scripts.seed --stack $(STACK)

## import the Flask portal's DB=words.db (TIMEZONE=, default UTC) or its WORDS=seed.json into GROUP=; STACK= a stack's
import: local
	@test -n "$(DB)$(WORDS)" || { \
		echo 'usage: make import DB=words.db [TIMEZONE=Europe/Berlin] [STACK=study-portal-dev]'; \
		echo '       make import WORDS=verbs.json GROUP="Core Verbs" [STACK=study-portal-dev]'; exit 2; } >&2
	@$(PY) -m scripts.import_data $(if $(DB),--db '$(DB)') $(if $(WORDS),--words '$(WORDS)') \
		$(if $(GROUP),--group '$(GROUP)') $(if $(TIMEZONE),--timezone '$(TIMEZONE)') \
		$(if $(filter command line,$(origin STACK)),--stack '$(STACK)')

## empty make dev's table as the Settings page's reset does (DATA_DIR=); STACK= a stack's (prod: YES_PROD=true)
reset: local
	@$(PY) -m scripts.reset $(if $(filter command line,$(origin STACK)),--stack '$(STACK)') \
		$(if $(filter true,$(YES_PROD)),--yes-prod)

## lint, format check, types and the unit tests: the inner loop (under a minute)
check: local
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q tests/unit

## make check, then every test: moto, ministack, make dev, template lint, schemathesis, e2e deploy (under 12 minutes)
test: install
	@$(MAKE) --no-print-directory check lint-template  # after install, so a `make -j` never builds a venv twice
	$(PY) -m pytest -n 2 --dist loadfile --ignore=tests/unit  # both cores, a file per worker; make check ran tests/unit

## deploy the dev stage into ministack, run the HTTP contract on it and on make dev, tear down
e2e: install
	$(PY) -m pytest e2e

## cfn-lint, with the serverless rules, on the packaged template of each stage and access mode
lint-template: install
	@rm -rf build/lint
	@for stage in dev prod; do for access in iam ip public; do \
		$(MAKE) --no-print-directory package STAGE=$$stage ACCESS=$$access BUILD=build/lint/$$stage-$$access \
			>/dev/null || exit 1; done; done
	@# Ignored serverless rules: WS1000/WS2002 X-Ray tracing (the access logs and EMF metrics answer what a personal
	@# API asks, without X-Ray's cost and latency); WS1004 cannot see the function's log group, which the template
	@# names after the function (/aws/lambda/<stack>, with a retention); ES7000 a dead-letter queue for the alarm
	@# e-mail subscription (an undeliverable alarm e-mail has nowhere better to go than the alarm's own history).
	$(DEPLOY_VENV)/bin/cfn-lint build/lint/*/sam.yaml -a cfn_lint_serverless.rules \
		--ignore-checks WS1000 WS2002 WS1004 ES7000

## write build/STAGE/sam.yaml and its code zip (STAGE=dev|prod); needs only .venv
package: $(VENV)/.installed
	@$(PACKAGE)

## deploy STAGE (ACCESS=iam|ip|public, ALLOWED_IPS=, ALLOW_RESET=, THROTTLE_RATE=, ALARM_EMAIL=; docs/operations.md)
deploy: install
	@test -n "$(BUCKET)" || { echo "usage: make deploy STAGE=dev|prod BUCKET=<an S3 bucket for the code>" \
		"[ACCESS=iam|ip|public] [ALLOWED_IPS=...] [CORS_ORIGIN=https://...] [ALLOW_RESET=true]" \
		"[THROTTLE_RATE=10] [THROTTLE_BURST=20] [ALARM_EMAIL=...]"; exit 2; }
	@PARAMETERS=$$($(PY) -m scripts.deploy parameters --stage $(STAGE) --cors-origin "$(CORS_ORIGIN)" \
		--allow-reset "$(call explicit,ALLOW_RESET)" --access "$(ACCESS)" --allowed-ips "$(ALLOWED_IPS)" \
		--public "$(call explicit,PUBLIC)" \
		--throttle-rate "$(THROTTLE_RATE)" --throttle-burst "$(THROTTLE_BURST)" --alarm-email "$(ALARM_EMAIL)") && \
	$(AWS) sts get-caller-identity --query Account --output text >/dev/null && \
	{ case "$$($(AWS) apigateway get-account --query cloudwatchRoleArn --output text)" in ""|None) echo "make" \
		"deploy: the stage's access logs need the account's API Gateway CloudWatch role, which is not set in this" \
		"region: set it once (docs/operations.md, Access logs: a one-time account setting)" >&2; exit 2;; esac; } && \
	$(PACKAGE) && \
	$(AWS) cloudformation package --template-file $(BUILD)/sam.yaml --s3-bucket $(BUCKET) \
		--output-template-file $(BUILD)/packaged.yaml >/dev/null && \
	$(AWS) cloudformation deploy --template-file $(BUILD)/packaged.yaml --stack-name $(STACK) --s3-bucket $(BUCKET) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameter-overrides $$PARAMETERS \
		--no-fail-on-empty-changeset && \
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --output text \
		--query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue"

## serve a deployed STACK= to the unchanged clients on http://127.0.0.1:5000 (PORT=), signed with your AWS credentials
proxy: $(VENV)/.installed
	@$(PY) -m scripts.proxy --stack '$(STACK)' --port $(PORT) $(ARGS)

## delete a non-prod stack and wait until it is gone
destroy: install
	@test "$(STAGE)" != prod || { echo "make destroy refuses the prod stage"; exit 2; }
	$(AWS) cloudformation delete-stack --stack-name $(STACK)
	$(AWS) cloudformation wait stack-delete-complete --stack-name $(STACK)

## ~1,000 requests from 20 clients to an API and table of its own, then an audit of the table
loadtest: local
	@$(PY) -m scripts.loadtest $(ARGS)

## DynamoDB requests and capacity of each route (moto, ministack), and the reset of 1,000 sessions
costs: local
	@$(PY) -m bench.costs $(ARGS)

## benchmark each route (DynamoDB requests, capacity, latency vs raw calls), cold start, package, memory (ARGS=)
bench: local
	@$(PY) -m bench.run $(ARGS)

## remove the virtualenvs, build outputs and test scratch; keeps make dev's data (.ministack/: make clean-data)
clean:
	rm -rf $(VENV) $(MINISTACK_VENV) $(DEPLOY_VENV) $(SCHEMATHESIS_VENV) .tmp .pytest_cache .hypothesis .mypy_cache .ruff_cache build

## delete make dev's data (.ministack/: every local session and review, imported ones too)
clean-data:
	@echo "deleting .ministack/: make dev's local history (every session and review); the next make dev seeds afresh"
	rm -rf .ministack

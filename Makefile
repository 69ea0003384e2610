# Two commands on a fresh machine (python3 and make): `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
MINISTACK_VENV := .venv-ministack
DEPLOY_VENV := .venv-deploy
PY := $(VENV)/bin/python
AWS := $(DEPLOY_VENV)/bin/aws
PORT ?= 8000
# Deployment: the Chalice stage (dev or prod), its build folder and CloudFormation stack.
STAGE ?= dev
BUILD ?= build/$(STAGE)
STACK ?= study-portal-$(STAGE)

.PHONY: install dev seed seed-stack test e2e lint-template package deploy destroy loadtest clean

install: $(VENV)/.installed $(MINISTACK_VENV)/.installed $(DEPLOY_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(MINISTACK_VENV)/.installed: requirements-ministack.txt
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	touch $@

$(DEPLOY_VENV)/.installed: requirements-deploy.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
	touch $@

## ministack + seeded table + chalice local on http://127.0.0.1:$(PORT); Ctrl-C stops everything
dev: install
	$(PY) -m scripts.dev --port $(PORT)

## create the local table if missing and load the seed data (idempotent)
seed: install
	$(PY) -m scripts.seed

## load the seed data into a deployed stack's table (needs AWS credentials)
seed-stack: install
	$(PY) -m scripts.seed --stack $(STACK)

## unit tests on moto, the same tests again on a ministack server, the `make dev` smoke test, the template lint,
## and the e2e deploy (e2e/)
test: install lint-template
	$(PY) -m pytest

## package the dev stage, deploy it through CloudFormation into ministack, run the HTTP contract on it, tear down
e2e: install
	$(PY) -m pytest e2e

## cfn-lint on the packaged template of each stage
lint-template: install
	$(MAKE) --no-print-directory package STAGE=dev BUILD=build/lint/dev
	$(MAKE) --no-print-directory package STAGE=prod BUILD=build/lint/prod
	$(DEPLOY_VENV)/bin/cfn-lint build/lint/dev/sam.yaml build/lint/prod/sam.yaml

## one SAM template (the app's Lambda and REST API from Chalice, merged with infra/template.yaml) and its code zip
package: install
	rm -rf $(BUILD)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template infra/template.yaml $(BUILD)

## upload the code to BUCKET, create or update the stack, print the API URL (needs AWS credentials)
deploy: package
	@test -n "$(BUCKET)" || { echo "usage: make deploy STAGE=dev|prod BUCKET=<an S3 bucket for the code>"; exit 2; }
	$(AWS) cloudformation package --template-file $(BUILD)/sam.yaml --s3-bucket $(BUCKET) \
		--output-template-file $(BUILD)/packaged.yaml
	$(AWS) cloudformation deploy --template-file $(BUILD)/packaged.yaml --stack-name $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameter-overrides Stage=$(STAGE) \
		--no-fail-on-empty-changeset
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --output text \
		--query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue"

## delete a non-prod stack and wait until it is gone
destroy: install
	@test "$(STAGE)" != prod || { echo "make destroy refuses the prod stage"; exit 2; }
	$(AWS) cloudformation delete-stack --stack-name $(STACK)
	$(AWS) cloudformation wait stack-delete-complete --stack-name $(STACK)

## 400 creates (half resent with their Idempotency-Key) and 10 same-key bursts from 20 clients against `make dev`
## (started with throwaway state unless one is running on $(PORT)), then an audit of the table
loadtest: install
	$(PY) -m scripts.loadtest --port $(PORT) $(ARGS)

clean:
	rm -rf $(VENV) $(MINISTACK_VENV) $(DEPLOY_VENV) .ministack .pytest_cache .hypothesis build

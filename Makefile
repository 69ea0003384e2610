# Two commands on a fresh machine (python3 and make): `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
MINISTACK_VENV := .venv-ministack
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: install dev seed test loadtest clean

install: $(VENV)/.installed $(MINISTACK_VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(MINISTACK_VENV)/.installed: requirements-ministack.txt
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	touch $@

## ministack + seeded table + chalice local on http://127.0.0.1:$(PORT); Ctrl-C stops everything
dev: install
	$(PY) -m scripts.dev --port $(PORT)

## create the local table if missing and load the seed data (idempotent)
seed: install
	$(PY) -m scripts.seed

## 400 creates (half resent with their Idempotency-Key) and 10 same-key bursts from 20 clients against `make dev`
## (started with throwaway state unless one is running on $(PORT)), then an audit of the table
loadtest: install
	$(PY) -m scripts.loadtest --port $(PORT) $(ARGS)

## unit tests on moto, the same tests again on a ministack server, and the `make dev` smoke test
test: install
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(MINISTACK_VENV) .ministack .pytest_cache .hypothesis

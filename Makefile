# trafficlake: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
PYTEST_ARGS ?=

.PHONY: install npm-deps demo test test-fast bench lint format clean screenshots constraints

install: $(STAMP)

# constraints.txt: the exact versions of every dependency the suite last passed with, so a fresh
# machine installs what was tested (pyproject.toml keeps the ranges a user's install may take).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,postgres,spark,aws,web]'
	touch $(STAMP)

# Refresh constraints.txt from the venv (after `pip install -U ...` and a passing `make test`).
constraints: install
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

# The demo needs the package and the web extra (for the dashboard it suggests next), no more.
# For a fast first run the venv gets no pip of its own (the host's pip installs into it) and no
# bytecode is precompiled; `make install` adds pip and the extras later. Hosts whose pip lacks --python get the classic way.
$(DEMO_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet --no-compile -c constraints.txt -e '.[web]' 2>/dev/null \
	  || { $(BIN)/python -m ensurepip --upgrade >/dev/null && $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[web]' ; }
	touch $(DEMO_STAMP)

# Test-only npm packages (the asl-validator check of the shipped state machines), exactly as
# locked in tests/workflow/asl-validator/package-lock.json.
ASL_VALIDATOR := tests/workflow/asl-validator
# ... and the AWS SDK for JavaScript v3 of the part-4 shaped Lambda handlers (tests/aws).
PART4_APP := tests/aws/apps/part4
npm-deps: $(ASL_VALIDATOR)/node_modules/.package-lock.json $(PART4_APP)/node_modules/.package-lock.json

$(PART4_APP)/node_modules/.package-lock.json: $(PART4_APP)/package-lock.json
	npm ci --prefix $(PART4_APP) --no-audit --no-fund --silent

$(ASL_VALIDATOR)/node_modules/.package-lock.json: $(ASL_VALIDATOR)/package-lock.json
	npm ci --prefix $(ASL_VALIDATOR) --no-audit --no-fund --silent

demo: $(DEMO_STAMP)
	$(BIN)/trafficlake demo

test: install npm-deps
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-fast: install npm-deps
	$(BIN)/python -m pytest -n 2 -m "not spark and not cluster and not slow and not postgres" $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

# The README's dashboard screenshots (docs/img/*.png) from the demo lake: run `make demo` first
# (or CONFIG=path/to/trafficlake.toml); needs /usr/bin/chromium.
CONFIG ?= trafficlake-demo/trafficlake.toml
screenshots: install
	$(BIN)/python docs/img/screenshots.py --config $(CONFIG)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/trafficlake bench

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) lake catalog.db .trafficlake .pytest_cache .mypy_cache .ruff_cache

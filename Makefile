# The two commands: `make run` (try the product) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration e2e bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The dashboard's browser libraries (Leaflet, uPlot), exactly as package-lock.json says.
DASHBOARD := hub/dashboard/node_modules/.package-lock.json

$(DASHBOARD): hub/dashboard/package.json hub/dashboard/package-lock.json
	npm ci --prefix hub/dashboard --no-audit --no-fund
	touch $(DASHBOARD)

# The NGSI-LD client library that tests/integration/test_ngsi_client.py drives the hub with.
NGSI_CLIENT := tests/ngsi_client/node_modules/.package-lock.json

$(NGSI_CLIENT): tests/ngsi_client/package.json tests/ngsi_client/package-lock.json
	npm ci --prefix tests/ngsi_client --no-audit --no-fund
	touch $(NGSI_CLIENT)

run: $(STAMP) $(DASHBOARD)
	$(BIN)/hub dev

lint: $(STAMP)
	$(BIN)/ruff check hub simulators tests bench
	$(BIN)/ruff format --check hub simulators tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP) $(NGSI_CLIENT)
	$(BIN)/pytest tests/integration -q

e2e: $(STAMP) $(DASHBOARD)
	$(BIN)/pytest tests/e2e -q -rs

test: lint typecheck $(STAMP) $(DASHBOARD) $(NGSI_CLIENT)
	$(BIN)/pytest -q -rfEs

bench: $(STAMP)
	$(BIN)/python -m bench $(if $(BENCH_YEAR),--year)

clean:
	rm -rf $(VENV) .hub .pytest_cache .mypy_cache .ruff_cache

# Homeport: `make run` starts the server, `make test` runs every test. Both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_DIST := src/homeport/web_dist
WEB_DEPS := web/node_modules/.package-lock.json
WEB_SOURCES := $(shell find web/src web/public -type f) \
	web/index.html web/package.json web/tsconfig.json web/vite.config.ts
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast web web-schema chromium lint typecheck format check bench bench-gateway bench-stream bench-scheduler bench-retrieval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[local,test]'
	touch $@

run: $(STAMP) web
	$(BIN)/homeport serve

test: $(STAMP) web chromium
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) web chromium
	$(BIN)/python -m pytest -q -m "not integration and not slow"

# The web UI (web/: React + Vite), built into the package; rebuilt only when its sources change.
web: $(WEB_DIST)/index.html

$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEB_DIST)/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run build

# After changing the API: regenerate the UI's OpenAPI schema and its typed client.
web-schema: $(STAMP) $(WEB_DEPS)
	$(BIN)/python -m homeport.api.schema > web/src/api/openapi.json
	cd web && npm run gen:api

# Debian's chromium, which the browser tests drive (never `playwright install`).
chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

format: $(STAMP)
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: bench-gateway bench-stream bench-scheduler

bench-gateway: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/gateway.py

bench-stream: $(STAMP)
	$(BIN)/python bench/embedded_stream.py

bench-scheduler: $(STAMP)
	$(BIN)/python bench/scheduler.py

# Retrieval: quality on the Python docs (downloads python3.11-doc once), then scale.
bench-retrieval: $(STAMP)
	$(BIN)/python bench/retrieval_quality.py
	$(BIN)/python bench/retrieval.py scale

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -rf web/node_modules $(WEB_DIST)

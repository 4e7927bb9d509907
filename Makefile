# `make run` starts a local mock (SQLite, sandbox channels, no services); `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export GATEWAY_DATA_DIR ?= .gateway
export GATEWAY_ADMIN_TOKEN ?= dev-admin-token
# `make run PORT=8011` serves elsewhere; the public URL follows (gateway serve --port).
PORT ?= 8000
# A local mock's webhook receiver is usually on localhost.
export GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS ?= true

.PHONY: run test chromium openapi lint bench faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway migrate
	GATEWAY_PORT=$(PORT) $(BIN)/gateway demo
	$(BIN)/gateway serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP) chromium
	$(BIN)/ruff check gateway channels wire migrations tests bench faults
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests (tests/browser) drive Debian's chromium through Playwright, which can't download a browser
# of its own here: installed when missing and we can (root, or sudo without a password). Otherwise they are
# skipped with a reason, and fail with CI=true.
APT_CHROMIUM = sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null' \
	|| echo "could not install chromium: the browser tests will say so"
chromium:
	@command -v chromium >/dev/null || [ -n "$$TEST_CHROMIUM" ] || { \
		if ! command -v apt-get >/dev/null; then echo "chromium missing and no apt-get: the browser tests need it"; \
		elif [ "$$(id -u)" = 0 ]; then $(APT_CHROMIUM); \
		elif sudo -n true 2>/dev/null; then sudo $(APT_CHROMIUM); \
		else echo "chromium missing and no root or sudo to install it (apt-get install chromium)"; fi; }

openapi: $(STAMP)
	$(BIN)/gateway openapi > openapi/openapi.json
	$(BIN)/python -c 'from pathlib import Path; from gateway.readme import updated; \
		readme = Path("README.md"); readme.write_text(updated(readme.read_text()))'

# Load tests against this machine's Postgres and Redis (see BENCHMARKS.md); each is bounded in time.
bench: $(STAMP)
	$(BIN)/python -m bench.limits
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.bulk
	$(BIN)/python -m bench.failover_timers
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.export

# Fault injection on a production-shaped stack with private Postgres and Redis servers (see RELIABILITY.md);
# about 10 minutes. One experiment: .venv/bin/python -m faults --experiments worker-kills
faults: $(STAMP)
	$(BIN)/python -m faults

lint: $(STAMP)
	$(BIN)/ruff check gateway channels wire migrations tests bench faults

clean:
	rm -rf $(VENV) .gateway .pytest_cache

# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
E2E := tests/e2e
# PostgreSQL and Redis for the second test pass (the machine's services in CI).
SERVICES_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
SERVICES_REDIS_URL ?= redis://127.0.0.1:6379/0
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM := /usr/bin/chromium

# `make production`: the production topology on this machine, against its PostgreSQL and Redis
# (database 1, apart from the test suite's 0).
PRODUCTION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/motia
PRODUCTION_REDIS_URL ?= redis://127.0.0.1:6379/1
SERVERS ?= 2

.PHONY: run production test lint format install install-test chromium test-embedded \
	test-services clean

run: $(BIN)/.installed
	@echo "==> migrating the database"
	$(BIN)/python manage.py migrate --noinput
	@echo "==> serving on http://127.0.0.1:$(PORT) (Ctrl-C stops)"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# Two servers (PORT, PORT+1), a Celery worker and beat, from the Procfile, run by honcho. DEBUG
# is off, on plain HTTP for 127.0.0.1; a secret key is made once for this machine
# (var/secret-key) unless DJANGO_SECRET_KEY is set. Every variable can be overridden.
production: $(BIN)/.installed
	@mkdir -p var && test -s var/secret-key || (umask 077 && \
		$(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret-key)
	@export PATH="$(abspath $(BIN)):$$PATH" \
		DATABASE_URL="$${DATABASE_URL:-$(PRODUCTION_DATABASE_URL)}" \
		REDIS_URL="$${REDIS_URL:-$(PRODUCTION_REDIS_URL)}" \
		DJANGO_DEBUG="$${DJANGO_DEBUG:-0}" \
		DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat var/secret-key)}" \
		DJANGO_ALLOWED_HOSTS="$${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}" \
		DJANGO_HTTPS="$${DJANGO_HTTPS:-0}" && \
	python -m motia_site.createdb && \
	python manage.py migrate --noinput && \
	exec honcho start -p $(PORT) -c web=$(SERVERS)

# The two passes run side by side, one per core (most of their time is spent waiting on the
# servers they start); each pass's output is printed whole when it ends.
test: $(BIN)/.installed-test $(E2E)/node_modules/.installed chromium lint
	$(MAKE) --no-print-directory --output-sync=target -j2 test-embedded test-services

# What serving needs (the package and its dependencies: `make run`, `make production`), and
# the test tools on top (the [test] extra: pytest, Playwright, mypy, ruff ...: `make test`),
# each installed again when pyproject.toml changes. uv, installed from PyPI into the venv,
# takes seconds where pip takes a minute; pip does it where uv cannot be installed. The
# checkout is put on the venv's path (editable_mode=compat), as manage.py has it.
install: $(BIN)/.installed
install-test: $(BIN)/.installed-test

define pip_install
	if [ -x $(BIN)/uv ]; then \
		$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode \
			-C editable_mode=compat -e $(1); \
	else \
		$(BIN)/python -m pip install -q -C editable_mode=compat -e $(1); \
	fi
endef

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@test -x $(BIN)/uv || { echo "==> installing uv (the installer) into $(VENV)"; \
		$(BIN)/python -m pip install -q uv || echo "no uv: pip installs instead (slower)"; }
	@echo "==> installing what serving needs"
	@$(call pip_install,.)
	@touch $@

$(BIN)/.installed-test: pyproject.toml $(BIN)/.installed
	@echo "==> installing the test tools (the [test] extra)"
	@$(call pip_install,'.[test]')
	@touch $@

# Debian's chromium package, installed only when missing (as root, or through sudo).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends chromium; \
	fi

$(E2E)/node_modules/.installed: $(E2E)/package.json $(E2E)/package-lock.json
	npm ci --prefix $(E2E) --no-audit --no-fund
	touch $@

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole suite on the embedded default: SQLite and the in-memory channel layer.
test-embedded: $(BIN)/.installed-test
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest

# The whole suite again on PostgreSQL and Redis. In CI a missing service fails the run;
# elsewhere the pass is skipped with a notice.
test-services: $(BIN)/.installed-test
	@if $(BIN)/python tests/services.py "$(SERVICES_DATABASE_URL)" "$(SERVICES_REDIS_URL)"; then \
		DATABASE_URL="$(SERVICES_DATABASE_URL)" REDIS_URL="$(SERVICES_REDIS_URL)" $(BIN)/pytest; \
	elif [ -n "$$CI" ]; then \
		echo "CI is set but PostgreSQL or Redis is not reachable" >&2; exit 1; \
	else \
		echo "PostgreSQL or Redis not reachable: skipping the services pass (CI runs it)"; \
	fi

clean:
	rm -rf $(VENV) $(E2E)/node_modules var .pytest_cache .ruff_cache .mypy_cache

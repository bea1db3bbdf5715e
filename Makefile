# ioportal: `make run` starts the whole portal, `make test` runs the tests.
# Both set up what they need first and can be run again at any time.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
# bootstrap-italia's stylesheet without embedded fonts, which the CSP refuses (see the script).
CSP_CSS := node_modules/bootstrap-italia/dist/css/bootstrap-italia.csp.min.css
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
FAKEIO_PORT ?= 8001

.PHONY: run test test-fast setup setup-test lint typecheck messages clean

run: setup
	$(PY) manage.py migrate --noinput
	HOST=$(HOST) PORT=$(PORT) FAKEIO_PORT=$(FAKEIO_PORT) $(PY) manage.py seed_demo
	$(PY) manage.py schedule_tasks
	HOST=$(HOST) PORT=$(PORT) FAKEIO_PORT=$(FAKEIO_PORT) scripts/run-portal

test: setup-test
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The unit tier: no browser, no real processes (IO simulator over HTTP, qcluster, gunicorn),
# no PostgreSQL or Redis; the IO boundary is mocked.
UNIT_TIER := not integration and not browser and not postgres and not redis

test-fast: setup
	$(VENV)/bin/pytest -m "$(UNIT_TIER)" $(PYTEST_ARGS)

setup: $(VENV)/.installed node_modules/.installed $(CSP_CSS) .env messages var

var:
	mkdir -p var

setup-test: setup
	scripts/ensure-chromium

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CSP_CSS): node_modules/.installed scripts/csp-safe-css
	$(PYTHON) scripts/csp-safe-css

.env:
	cp .env.example .env

messages: $(VENV)/.installed
	@command -v msgfmt >/dev/null || scripts/apt-install gettext
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v 0

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy ioportal benchmarks

clean:
	rm -rf $(VENV) node_modules staticfiles

# bungeo: the two commands of the README, and a few helpers.
SHELL := /bin/bash
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_ENV := DATABASE_URL=postgres://bungeo:bungeo@127.0.0.1:5432/bungeo \
            REDIS_URL=redis://127.0.0.1:6379/15 BUNGEO_SANDBOX_PREFIX=bungeotest

.PHONY: run test setup test-only lint images clean-sandboxes

## run: set up this host and run bungeo on http://127.0.0.1:8000 (SQLite, local Docker engine)
run:
	scripts/host-setup.sh run
	scripts/run.sh $(HOST) $(PORT)

## test: set up this host and run every test (real engine, Redis, PostgreSQL, Celery, Chromium)
test:
	scripts/host-setup.sh test
	$(MAKE) test-only

test-only:
	$(TEST_ENV) $(PY) -m pytest -p no:cacheprovider

lint:
	.venv/bin/ruff check .

images:
	$(PY) manage.py images build

## clean-sandboxes: remove every sandbox the tests created (label org.bungeo.prefix=bungeotest);
##   those of `make run` go with `manage.py sandbox-engine purge --yes`
clean-sandboxes:
	BUNGEO_SANDBOX_PREFIX=bungeotest $(PY) -c "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','webapp.settings');django.setup();from webapp.sandboxes.docker_backend import DockerSandboxBackend as B;print(B().purge())"

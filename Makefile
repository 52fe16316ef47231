# pgpool: build, test, demo. The two commands (README):
#
#   make demo    build, start a throwaway PostgreSQL (unless DATABASE_URL is set) and
#                PgBouncer, run the drop-in smoke tests
#   make test    build, start throwaway PostgreSQL + PgBouncer, run every suite
#
# Everything builds in the release profile, so the Rust tests, the C library and the
# Python module share one build. scripts/test-env provides the servers (see its header
# for the variables it exports); set DATABASE_URL (and PGBOUNCER_URL) to use your own.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# The steps run in order; cargo parallelises the compiling itself.
.NOTPARALLEL:

CARGO        ?= cargo
VENV         := .venv
PYTHON       := $(VENV)/bin/python
CBINDGEN     := .tools/bin/cbindgen
# cbindgen reads only the C glue (src/ffi and the modules it declares): parsing the whole
# crate makes cbindgen 0.29 panic on core types ("Pool is not generic": our Pool next
# to deadpool's Pool<M>), and the header must hold nothing but the C API anyway.
CBINDGEN_RUN := $(CBINDGEN) --quiet --config cbindgen.toml src/ffi/mod.rs
TEST_ENV     := scripts/test-env
# Integration tests share one server (and some restart it): keep parallelism modest.
TEST_THREADS ?= 2
PYTEST_ARGS  ?=

.PHONY: all bootstrap build build-rust build-python test test-suites test-rust \
        test-python test-psycopg2-suite test-sqlalchemy-suite test-django-suite test-frameworks test-c test-wheels wheels check-header check-generated header demo demo-run lint clean distclean

all: build

bootstrap:
	scripts/bootstrap

# ---- build ---------------------------------------------------------------------------

build: build-rust build-python

build-rust:
	$(CARGO) build --release

# The Python module, installed into .venv.
build-python:
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	    $(VENV)/bin/maturin develop --release --quiet

# ---- test ----------------------------------------------------------------------------

test: bootstrap build
	$(TEST_ENV) $(MAKE) --no-print-directory test-suites

# Runs inside scripts/test-env (DATABASE_URL, PGBOUNCER_URL, PGPOOL_TEST_* are set).
test-suites: test-rust test-c test-python test-psycopg2-suite test-sqlalchemy-suite test-django-suite test-frameworks test-wheels check-header check-generated

test-rust:
	$(CARGO) test --release --workspace --exclude pgpool-python -- --test-threads=$(TEST_THREADS)

# --- test-python: pytest on tests/python (needs build-python) ---
test-python:
	$(PYTHON) -m pytest -q tests/python $(PYTEST_ARGS)

# --- test-psycopg2-suite: psycopg2 2.9.10's own tests, with psycopg2 and with pgpool ---
# (fetched with pip into .cache/psycopg2-suite; the gate compares against
# tests/psycopg2_suite/known-failures.txt and exclusions.txt: see suite.py)
test-psycopg2-suite:
	tests/psycopg2_suite/run

# --- test-sqlalchemy-suite: SQLAlchemy's own PostgreSQL and dialect-compliance tests with
# postgresql+psycopg2, postgresql+pgpool and its asyncio variant (sdist fetched into
# .tools/cache; the gate compares against tests/sqlalchemy/known-failures.txt)
test-sqlalchemy-suite:
	$(PYTHON) tests/sqlalchemy/run_suites.py --drivers psycopg2,pgpool,pgpool_async

# --- test-django-suite: Django's own backend tests (backends, postgres_tests, queries, ...)
# with the stock backend on psycopg2 and with pgpool.django, for Django 5.2 and the 4.2 LTS
# of requirements-frameworks.txt (sdists fetched into .tools/cache; the gate compares
# against tests/django/known-failures.txt)
test-django-suite:
	$(PYTHON) tests/django/run_suite.py
	@for dir in .tools/py/django-*/; do \
	    [ -d "$$dir" ] || continue; \
	    echo "Django's own tests with $$(basename $$dir)"; \
	    PYTHONPATH="$$dir" $(PYTHON) tests/django/run_suite.py || exit 1; \
	done

# --- test-frameworks: the SQLAlchemy/Django integration tests again with the frameworks'
# other supported series (requirements-frameworks.txt, installed by bootstrap in .tools/py)
test-frameworks:
	@for dir in .tools/py/*/; do \
	    name=$$(basename "$$dir"); \
	    case "$$name" in \
	        sqlalchemy-*) tests="tests/python/test_sqlalchemy*.py" ;; \
	        django-*) tests="tests/python/test_django*.py" ;; \
	        *) continue ;; \
	    esac; \
	    if ! compgen -G "$$tests" >/dev/null; then continue; fi; \
	    echo "pytest $$tests with $$name"; \
	    PYTHONPATH="$$dir" $(PYTHON) -m pytest -q $$tests $(PYTEST_ARGS); \
	done

# --- wheels: one manylinux2014 wheel per CPython 3.9-3.13 (target/wheels), each installed
# from the wheel alone into a fresh venv and tested there (scripts/wheels)
wheels: bootstrap
	$(TEST_ENV) scripts/wheels

test-wheels:
	scripts/wheels

# --- test-c: the C tests' own Makefile (warnings as errors, sanitizers, valgrind) ---
test-c:
	$(MAKE) --no-print-directory -C tests/c

# --- check-generated: the SQLSTATE tables of python/pgpool/errors.py and errorcodes.py
# must be what scripts/gen-errors makes of the installed PostgreSQL's errcodes.txt
check-generated:
	$(PYTHON) scripts/gen-errors --check

# --- check-header: include/pgpool.h must be what the pinned cbindgen generates ---
check-header:
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	$(CBINDGEN_RUN) --output "$$tmp"; \
	if ! diff -u include/pgpool.h "$$tmp"; then \
	    echo "include/pgpool.h is stale: run 'make header' and commit it" >&2; \
	    exit 1; \
	fi; \
	echo "check-header: include/pgpool.h is current"

# Regenerate the committed header.
header:
	$(CBINDGEN_RUN) --output include/pgpool.h

# ---- demo ----------------------------------------------------------------------------

demo: bootstrap build
	$(TEST_ENV) $(MAKE) --no-print-directory demo-run

# Runs inside scripts/test-env. The Python smoke test is seed 000's script: it reads
# POSTGRES_HOST/PORT/..., so scripts/with-pg-env derives those from the URLs, once for
# PostgreSQL directly and once through PgBouncer.
demo-run:
	@echo "== Rust smoke example"
	@$(CARGO) run --quiet --release --example smoke
	@echo "== Python drop-in smoke test, direct to PostgreSQL"
	@scripts/with-pg-env "$$DATABASE_URL" $(PYTHON) examples/python/test_pg_pool.py
	@if [ -n "$${PGBOUNCER_URL:-}" ]; then \
	    echo "== Python drop-in smoke test, through PgBouncer"; \
	    scripts/with-pg-env "$$PGBOUNCER_URL" $(PYTHON) examples/python/test_pg_pool.py; \
	fi
	@echo "== Django project (ENGINE pgpool.django), direct to PostgreSQL"
	@cd examples/django_app && $(CURDIR)/$(PYTHON) run_demo.py
	@echo "== FastAPI + SQLAlchemy asyncio (postgresql+pgpool://), direct to PostgreSQL"
	@cd examples/fastapi_sqlalchemy && $(CURDIR)/$(PYTHON) -W ignore::DeprecationWarning demo.py
	@if [ -n "$${PGBOUNCER_URL:-}" ]; then \
	    echo "== Django project and FastAPI app, through PgBouncer"; \
	    (cd examples/django_app && DATABASE_URL="$$PGBOUNCER_URL" $(CURDIR)/$(PYTHON) run_demo.py) && \
	    (cd examples/fastapi_sqlalchemy && DATABASE_URL="$$PGBOUNCER_URL" $(CURDIR)/$(PYTHON) -W ignore::DeprecationWarning demo.py); \
	fi
	@echo "== C smoke example, direct to PostgreSQL"
	@$(MAKE) --no-print-directory -C examples/c run-smoke
	@if [ -n "$${PGBOUNCER_URL:-}" ]; then \
	    echo "== C smoke example, through PgBouncer"; \
	    DATABASE_URL="$$PGBOUNCER_URL" $(MAKE) --no-print-directory -C examples/c run-smoke; \
	fi

# ---- bench ---------------------------------------------------------------------------

# Issue 5's benchmark: pgpool beside psycopg2, psycopg_pool and SQLAlchemy (and the C
# baseline against libpq) on a throwaway server (or DATABASE_URL), printing the table.
# bench-quick takes a minute or two; bench about ten. BENCH_ARGS: see bench/poolbench.py -h.
.PHONY: bench bench-quick
BENCH_ARGS ?=

bench: bootstrap build
	bench/run $(BENCH_ARGS)

bench-quick: bootstrap build
	bench/run --quick $(BENCH_ARGS)

# ---- soak -----------------------------------------------------------------------------

# Issue 6's soak: SOAK_CYCLES get_cursor() cycles (default 1M, ~2-3 min) on a throwaway
# server (or DATABASE_URL), failing if RSS grows by 10 MB or more; then the C fuzz
# (tests/c/fuzz.c) under ASan with 20000 iterations per case. `make test` runs a 50k-cycle
# soak and the 2000-iteration fuzz.
.PHONY: soak
SOAK_CYCLES ?= 1000000

soak: bootstrap build
	$(TEST_ENV) $(PYTHON) tests/soak/soak.py --cycles $(SOAK_CYCLES) --max-growth-mb 10
	PGPOOL_FUZZ_ITERS=20000 $(MAKE) --no-print-directory -C tests/c fuzz

# ---- housekeeping --------------------------------------------------------------------

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --release --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf .pytest_cache .mypy_cache python/pgpool/*.so
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

# Also the tools bootstrap installed.
distclean: clean
	rm -rf $(VENV) .tools

# make install / uninstall for the C library (PREFIX, LIBDIR, DESTDIR ...)
include mk/install.mk

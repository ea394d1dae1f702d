# Two commands do all set-up on a fresh machine with Python 3.11+ and pip:
#   make up    — the whole system with a demo connection in test mode (embedded Redis + SQLite)
#   make test  — lint, type check and the test suite (needs PostgreSQL and Redis on loopback)
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: up test lint bench uv sync sync-run

uv:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# Everything, development tools included (tests, lint, benchmarks).
sync: uv
	$(UV) sync --frozen

# Only what running needs; --inexact leaves development tools installed by `make sync` alone.
sync-run: uv
	$(UV) sync --frozen --no-dev --inexact

# `uv run --no-sync`: a plain `uv run` would install the development group first.
up: sync-run
	$(UV) run --no-sync spocc up

lint: sync
	$(UV) run ruff check .
	$(UV) run mypy .

# Two test processes (pytest-xdist): most tests wait on workers, sandboxes and leases, not the
# CPU, so two at a time halve the suite's time on a 2-core machine (58 min to 30).
test: lint
	$(UV) run pytest -q -n 2 --dist worksteal

bench: sync
	$(UV) run python -m bench

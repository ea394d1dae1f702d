# Two commands do all set-up on a fresh machine with Python 3.11+ and pip:
#   make up    — the whole system with a demo connection in test mode (embedded Redis + SQLite)
#   make test  — lint, type check and the test suite (needs PostgreSQL and Redis on loopback)
PYTHON ?= python3
UV := $(PYTHON) -m uv

.PHONY: up test lint bench uv sync

uv:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

sync: uv
	$(UV) sync --frozen

up: sync
	$(UV) run spocc up

lint: sync
	$(UV) run ruff check .
	$(UV) run mypy .

test: lint
	$(UV) run pytest -q

bench: sync
	$(UV) run python -m bench

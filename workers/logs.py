"""Logs every process writes the same way: plain text, or one JSON object a line with
`SPOCC_LOG_FORMAT=json`, each record carrying the correlation ids of the work it belongs to.

The ids live in a context variable: the receiver binds the connection, order and delivery of
a request; a task binds its own id, its connection and the rows it was handed (delivery,
run, unit), and the order engine adds the order. Whatever logs meanwhile (the task, the
HTTP clients, Celery's own "succeeded" line) carries them, so one order can be followed from
the receiver through its task to the SPoCC call with one filter (`order=4711`).
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("connection", "delivery", "order", "run", "unit", "task", "task_name")
# Task parameters that name the row a task works on, and the id field each one fills.
PARAMETERS = {"connection_id": "connection", "delivery_id": "delivery", "run_id": "run",
              "unit_id": "unit"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_ids: ContextVar[dict[str, Any] | None] = ContextVar("spocc_correlation_ids", default=None)


def current() -> dict[str, Any]:
    return dict(_ids.get() or {})


def bind(**ids: Any) -> Token[dict[str, Any] | None]:
    """Add ids to the current context (until the returned token is reset)."""
    merged = {**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}}
    return _ids.set(merged)


def reset(token: Token[dict[str, Any] | None]) -> None:
    _ids.reset(token)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    token = bind(**ids)
    try:
        yield
    finally:
        reset(token)


class CorrelationFilter(logging.Filter):
    """Puts the context's ids on each record (as attributes: JSON fields, or `%(order)s`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _ids.get() or {}
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, ids.get(name))
        return True


def json_enabled() -> bool:
    return os.environ.get("SPOCC_LOG_FORMAT", "").strip().lower() == "json"


class _Json(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # An id that is not bound is left out, not written as null on every line.
        return {k: v for k, v in log_data.items() if not (k in FIELDS and v is None)}


def formatter() -> logging.Formatter:
    if json_enabled():
        return _Json(
            "%(asctime)s %(levelname)s %(name)s %(message)s " + " ".join(
                f"%({f})s" for f in FIELDS),
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def install(logger: logging.Logger | None = None) -> None:
    """Our filter on every handler of `logger` (the root logger), and the JSON formatter
    when it is asked for (plain text keeps the format the handler has)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, CorrelationFilter) for f in handler.filters):
            handler.addFilter(CorrelationFilter())
        if json_enabled() or handler.formatter is None:
            handler.setFormatter(formatter())


def configure(level: int = logging.INFO) -> None:
    """For processes whose logging nobody else sets up (the receiver, the exporter)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    install(root)


def task_ids(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ids a task's arguments name, by parameter name (positional or by keyword)."""
    try:
        named = inspect.signature(task.run).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        named = dict(kwargs)
    return {PARAMETERS[k]: v for k, v in named.items() if k in PARAMETERS}


def connect_celery() -> None:
    """Celery sets up its loggers itself: ours go on top, and each task binds its ids."""
    from celery import signals

    def setup(logger: logging.Logger, **_: Any) -> None:
        install(logger)

    def prerun(task_id: str, task: Any, args: Any = (), kwargs: Any = None, **_: Any) -> None:
        ids = task_ids(task, tuple(args or ()), dict(kwargs or {}))
        task.request.spocc_log_token = bind(task=task_id, task_name=task.name, **ids)

    def postrun(task: Any, **_: Any) -> None:
        token = getattr(task.request, "spocc_log_token", None)
        if token is not None:
            try:
                reset(token)
            except ValueError:  # set in another context (a retry in eager mode): just clear
                _ids.set(None)

    signals.after_setup_logger.connect(setup, weak=False)
    signals.after_setup_task_logger.connect(setup, weak=False)
    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)

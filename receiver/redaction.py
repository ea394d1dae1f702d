"""Webhook tokens never reach a log: a filter for every handler, and gunicorn's access log.

A token can arrive as `?token=…` (PlentyONE's *Open URL*) or `Authorization: Bearer …`;
both patterns are masked in every formatted record, whatever logger wrote it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

from workers import logs

_PATTERNS = (
    (re.compile(r"(?i)(token=)[^&\s\"']+"), r"\1***"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1***"),
    (re.compile(r"(?i)(whsec_)[A-Za-z0-9+/=]+"), r"\1***"),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Formats the record once, masks secrets, and keeps the masked text as its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with every access-log atom (request line, query, headers) masked."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            install(log)
        app_log = logging.getLogger("spocc.receiver")
        app_log.handlers = list(self.error_log.handlers)
        app_log.setLevel(self.error_log.level)
        app_log.propagate = False
        for log in (self.error_log, self.access_log):  # correlation ids; JSON if asked for
            logs.install(log)

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}

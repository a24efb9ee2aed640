"""JSON log lines on stdout, one object per line, as Logs Insights likes: both functions log this way.

Each line has ``level``, ``location``, ``message``, ``timestamp`` (RFC 3339, UTC),
``service`` and the call's ``extra`` fields at the top level (and ``exception``,
``exception_name`` for ``logger.exception``): the keys Powertools' Logger writes, so
queries written for it work; during a request also ``requestId`` (as Lambda's own JSON
lines have it), which tells apart the interleaved lines of the worker processes of one
Lambda Managed Instances environment. With the function's log format set to JSON (template.yaml),
Lambda reads ``level`` to filter by ApplicationLogLevel.

Written on the standard library's ``logging`` rather than Powertools' Logger: importing
``aws_lambda_powertools`` costs ~30 ms of init that holds the GIL, and the inference init's
own log line is on the cold start's critical path. Each logger is still created on first
use. The level comes from AWS_LAMBDA_LOG_LEVEL (the function's ApplicationLogLevel), else
POWERTOOLS_LOG_LEVEL, else INFO; the service name from POWERTOOLS_SERVICE_NAME.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from .env import AWS_LAMBDA_LOG_LEVEL, LOG_LEVEL, SERVICE_NAME

# The attributes every LogRecord has; anything else on a record came from ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

_loggers: dict[str, logging.Logger] = {}
# The invocation being served (one at a time per process, on every Lambda runtime this serves).
_request_id: str | None = None


def set_request_id(request_id: str | None) -> None:
    """The request the next log lines belong to (the handler sets it; None between requests)."""
    global _request_id
    _request_id = request_id


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: the standard keys, then the call's ``extra`` fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": _rfc3339(record.created),
            "service": self.service,
        }
        if _request_id:
            entry["requestId"] = _request_id
        entry.update((key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception_name"] = record.exc_info[0].__name__
            entry["exception"] = self.formatException(record.exc_info)
        # default=str: a value json cannot write (a Path, an exception) is logged as its text, never raised.
        try:
            return json.dumps(entry, default=str, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            # A key json cannot write, or NaN (not JSON): the line still goes out, the odd part as text.
            standard = {key: entry[key] for key in ("level", "location", "message", "timestamp", "service",
                                                     "requestId") if key in entry}
            extras = {key: value for key, value in entry.items() if key not in standard}
            return json.dumps({**standard, "extra": repr(extras)}, separators=(",", ":"))


def _rfc3339(created: float) -> str:
    seconds = int(created)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{int((created - seconds) * 1000):03d}Z"


def _level() -> int:
    name = (os.environ.get(AWS_LAMBDA_LOG_LEVEL) or os.environ.get(LOG_LEVEL) or "INFO").strip().upper()
    # Lambda's TRACE and FATAL have no stdlib twin: the nearest level.
    name = {"TRACE": "DEBUG", "FATAL": "CRITICAL", "WARN": "WARNING"}.get(name, name)
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


class _StdoutHandler(logging.Handler):
    """Writes each line to whatever ``sys.stdout`` is now (pytest and the Lambda runtime swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # a log line must never fail the request that logs it
            self.handleError(record)


def get_logger(name: str, *, default_service: str) -> logging.Logger:
    """The JSON logger called ``name``, set up on first use from the environment at that time."""
    logger = _loggers.get(name)
    if logger is None:
        logger = logging.getLogger(name)
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter(os.environ.get(SERVICE_NAME) or default_service))
        logger.handlers[:] = [handler]
        logger.setLevel(_level())
        # Not through the root logger: the Lambda runtime formats that one again.
        logger.propagate = False
        _loggers[name] = logger
    return logger


def reset() -> None:
    """Forget the loggers set up so far: the next use reads the level and service again (tests)."""
    _loggers.clear()


class LazyLogger:
    """``logger.info(...)`` and friends, setting the logger up on the first call."""

    def __init__(self, name: str, *, default_service: str) -> None:
        self._name = name
        self._default_service = default_service

    def __getattr__(self, attribute: str) -> Any:
        return getattr(get_logger(self._name, default_service=self._default_service), attribute)

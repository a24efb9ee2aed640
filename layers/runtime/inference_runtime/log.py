"""The runtime's structured logger: one JSON object per line, as CloudWatch Logs Insights likes.

Powertools' Logger is created on first use, not at import: importing it costs about
50 ms, and the first log line of an init comes after the model load has started, so
the import overlaps the load instead of delaying it. POWERTOOLS_SERVICE_NAME and
POWERTOOLS_LOG_LEVEL (set in template.yaml) configure it.
"""

from __future__ import annotations

from typing import Any

_logger: Any = None


def get_logger() -> Any:
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger

        _logger = Logger(service="inference", use_rfc3339=True)
    return _logger


class _LazyLogger:
    """``logger.info(...)`` and friends, creating the Powertools Logger on the first call."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_logger(), name)


logger = _LazyLogger()

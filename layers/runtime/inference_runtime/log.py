"""The inference runtime's logger: JSON lines on stdout, as ``lambda_shared.log`` writes them.

``logger`` is created on first use (its level and service read from the environment then);
``set_request_id`` names the invocation being served, so every line logged while serving
it carries its ``requestId``. The formatter is shared with keep-warm: both functions' lines
have the same keys, so one Logs Insights query reads either.
"""

from __future__ import annotations

import logging

from lambda_shared import log as _shared
from lambda_shared.log import JsonFormatter, LazyLogger, set_request_id

#: The logger's name, and the service its lines carry when POWERTOOLS_SERVICE_NAME is unset.
LOGGER_NAME, DEFAULT_SERVICE = "inference_runtime", "inference"

__all__ = ["JsonFormatter", "get_logger", "logger", "set_request_id"]


def get_logger() -> logging.Logger:
    return _shared.get_logger(LOGGER_NAME, default_service=DEFAULT_SERVICE)


logger = LazyLogger(LOGGER_NAME, default_service=DEFAULT_SERVICE)

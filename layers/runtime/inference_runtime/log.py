"""The runtime's structured logger: one JSON object per line, as CloudWatch Logs Insights likes.

Powertools' Logger adds the cold-start flag, function name and request id when the
handler is wrapped with ``inject_lambda_context``; POWERTOOLS_SERVICE_NAME and
POWERTOOLS_LOG_LEVEL (set in template.yaml) configure it.
"""

from aws_lambda_powertools import Logger

logger = Logger(service="inference", use_rfc3339=True)

"""Structured logs: one JSON object per line on stdout, each stamped with the request being handled."""

import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _RequestIdFilter(logging.Filter):
    """Stamp every record, Chalice's own tracebacks included, with the id of the request being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: level, logger, request id, message, the record's `fields`, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


METRICS_NAMESPACE = "StudyPortal"


def access_metrics(*, route: str, status: int) -> dict[str, Any]:
    """The keys that make CloudWatch read the access line (its latency_ms and dynamodb_requests) as metrics
    (Embedded Metric Format), by stack, route and status class (2xx, 4xx, 5xx): a few dozen series at most, and a
    metric's sample count is the number of requests."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["stack", "route", "status_class"]],
                    "Metrics": [
                        {"Name": "latency_ms", "Unit": "Milliseconds"},
                        {"Name": "dynamodb_requests", "Unit": "Count"},
                    ],
                }
            ],
        },
        # The function is named after its stack (infra/template.yaml).
        "stack": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        "route": route,
        "status_class": f"{status // 100}xx",
    }


def log_json_to_stdout(logger: logging.Logger) -> None:
    """Send the logger's INFO and above to stdout as JSON lines (Lambda ships stdout to CloudWatch Logs)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.addFilter(_RequestIdFilter())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # chalice local and the Lambda runtime give the root logger handlers of their own

"""Structured logs: one JSON object per line on stdout, each stamped with the request being handled."""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

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


def log_json_to_stdout(logger: logging.Logger) -> None:
    """Send the logger's INFO and above to stdout as JSON lines (Lambda ships stdout to CloudWatch Logs)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.addFilter(_RequestIdFilter())
    logger.setLevel(logging.INFO)
    logger.propagate = False  # chalice local and the Lambda runtime give the root logger handlers of their own

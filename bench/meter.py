"""Counting what calls cost: a client's DynamoDB requests and capacity, the app's access-log lines, and the
arithmetic of the figures (percentiles, means, rounding)."""

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class DynamoDBMeter:
    """A client's DynamoDB HTTP requests (retries included) and reported capacity, as read and write units."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the reset sends from threads
        self.sent: list[str] = []
        self.rcu = 0.0
        self.wcu = 0.0
        self.without_capacity: set[str] = set()
        self.with_capacity: set[str] = set()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self._on_send)
        client.meta.events.register("after-call.dynamodb", self._on_call)

    def _on_send(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.sent.append(event_name.rsplit(".", 1)[1])

    def _on_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(entry.get("CapacityUnits", 0) for entry in entries)
        with self._lock:
            if model.name in READ_OPERATIONS | WRITE_OPERATIONS:
                (self.with_capacity if entries else self.without_capacity).add(model.name)
            if model.name in READ_OPERATIONS:
                self.rcu += units
            elif model.name in WRITE_OPERATIONS:
                self.wcu += units

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return len(self.sent), self.rcu, self.wcu


class AccessLog(logging.Handler):
    """Formats each record as the app's stdout handler would, drops the line, keeps the last access line's fields."""

    def __init__(self, formatter: logging.Formatter | None = None) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.last: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        if record.getMessage() == "request":
            self.last = getattr(record, "fields", {})


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile, interpolated between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def as_number(value: float | None) -> float | int | None:
    """A mean as an int when it is one (request counts), else rounded."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(value, 3)

"""Counting what calls cost: a client's DynamoDB requests and capacity, the app's access-log lines, and the
arithmetic of the figures (percentiles, means, rounding)."""

import logging
import math
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class Reading(NamedTuple):
    """A meter's totals at one moment: subtract two for what happened in between."""

    requests: int
    items: int
    bytes: int
    rcu: float


def items_in(operation: str, parsed: dict[str, Any]) -> int:
    """The items a read answer says it read: a Query's or Scan's ScannedCount (before any filter; Count if absent),
    GetItem's item, BatchGetItem's items; 0 for writes."""
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "GetItem":
        return 1 if "Item" in parsed else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    return 0


class DynamoDBMeter:
    """A client's DynamoDB HTTP requests (retries included) and reported capacity, as read and write units; the
    items its read answers held and the bytes of every answer's body."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the reset sends from threads
        self.sent: list[str] = []
        self.rcu = 0.0
        self.wcu = 0.0
        self.items_read = 0
        self.bytes_read = 0
        self.without_capacity: set[str] = set()
        self.with_capacity: set[str] = set()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb", self._on_send)
        client.meta.events.register("after-call.dynamodb", self._on_call)

    def _on_send(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.sent.append(event_name.rsplit(".", 1)[1])

    def _on_call(self, parsed: dict[str, Any], model: Any, http_response: Any = None, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(entry.get("CapacityUnits", 0) for entry in entries)
        items = items_in(model.name, parsed)
        size = len(http_response.content or b"") if http_response is not None else 0
        with self._lock:
            self.items_read += items
            self.bytes_read += size
            if model.name in READ_OPERATIONS | WRITE_OPERATIONS:
                (self.with_capacity if entries else self.without_capacity).add(model.name)
            if model.name in READ_OPERATIONS:
                self.rcu += units
            elif model.name in WRITE_OPERATIONS:
                self.wcu += units

    def snapshot(self) -> tuple[int, float, float]:
        with self._lock:
            return len(self.sent), self.rcu, self.wcu

    def reading(self) -> Reading:
        with self._lock:
            return Reading(len(self.sent), self.items_read, self.bytes_read, self.rcu)


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

"""What lives as long as the Lambda process: the DynamoDB client's settings, the one repository (built on first
use, so importing the app touches no AWS), and the hooks that count each request's DynamoDB calls and capacity."""

import os
import threading
from contextvars import ContextVar
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.store import StudyRepository

# Worst case of one DynamoDB call: 3 attempts x (1 s connect + 1 s read) + at most 1 + 2 s of throttling backoff
# = 9 s; a write makes two calls, so 18 s, under the 28 s Lambda timeout and API Gateway's 29 s.
# (total_max_attempts counts the first attempt; botocore's max_attempts would count only the retries.)
BOTO_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 3})
# The operations that report ConsumedCapacity when asked.
RETURNS_CAPACITY = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem", "TransactWriteItems"}
)

_repository: StudyRepository | None = None
_repository_lock = threading.Lock()  # chalice local serves requests on threads
# A mutable record, not numbers, so threads a request starts (in a copy of its context) add to the same one.
dynamodb_usage: ContextVar[dict[str, float]] = ContextVar("dynamodb_usage")
_usage_lock = threading.Lock()  # the reset's threads add to one request's record


def count_dynamodb_request(**_: Any) -> None:
    """before-send: one more HTTP request (retries included) for the current request's access line."""
    usage = dynamodb_usage.get(None)
    if usage is not None:
        with _usage_lock:
            usage["requests"] += 1


def ask_for_consumed_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    """before-parameter-build: ask every call that can report its capacity to report it."""
    if model.name in RETURNS_CAPACITY:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def add_consumed_capacity(parsed: dict[str, Any], **_: Any) -> None:
    """after-call: the capacity DynamoDB reported, for the current request's access line."""
    usage = dynamodb_usage.get(None)
    consumed = parsed.get("ConsumedCapacity") or []
    if usage is not None:
        with _usage_lock:
            usage["capacity"] += sum(
                entry.get("CapacityUnits", 0) for entry in (consumed if isinstance(consumed, list) else [consumed])
            )


def get_repository() -> StudyRepository:
    """The process's repository, built on first use, once, over the table TABLE_NAME names."""
    global _repository
    if _repository is None:
        with _repository_lock:
            if _repository is None:
                client = boto3.client("dynamodb", config=BOTO_CONFIG)
                # Every HTTP request sent, retries included, counts towards the access log's dynamodb_requests,
                # and the capacity DynamoDB reports for each call towards its dynamodb_capacity.
                client.meta.events.register("before-send.dynamodb", count_dynamodb_request)
                client.meta.events.register("before-parameter-build.dynamodb", ask_for_consumed_capacity)
                client.meta.events.register("after-call.dynamodb", add_consumed_capacity)
                _repository = StudyRepository(client=client, table_name=os.environ["TABLE_NAME"])
    return _repository


def reset_repository() -> None:
    """Forget the process's repository, so the next request builds one against the DynamoDB and table configured
    then (tests and tools that switch backends within a process)."""
    global _repository
    with _repository_lock:
        _repository = None

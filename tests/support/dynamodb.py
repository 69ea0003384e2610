"""Reading DynamoDB straight, and answering the app's calls in DynamoDB's place (faults injected at the botocore
layer, never by patching our own code)."""

import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore.loaders
from boto3.dynamodb.types import TypeDeserializer
from botocore.awsrequest import AWSResponse

_deserializer = TypeDeserializer()
_LOADER = botocore.loaders.create_loader()


def new_session(**kwargs: Any) -> boto3.session.Session:
    """A fresh boto3 session reading the service models through the run's one loader: each new loader parses
    them again, which made every client cost 50-100 ms, most of the setup time of a test."""
    session = boto3.session.Session(**kwargs)
    session._session.register_component("data_loader", _LOADER)
    return session


def scan_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item in the table as DynamoDB hands it back (numbers as Decimal), sorted by key (a Scan: tests only)."""
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        items += [{name: _deserializer.deserialize(value) for name, value in item.items()} for item in page["Items"]]
    return sorted(items, key=lambda item: (item["PK"], item["SK"]))


def items_by_key(dynamodb: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every item in the table by (PK, SK) (a Scan: tests only)."""
    return {(item["PK"], item["SK"]): item for item in scan_items(dynamodb, table)}


def resend_once_after_success(botocore_events: Any, operation: str) -> list[int]:
    """Make botocore resend the first successful request once, as it does when the answer is lost in a timeout."""
    resent = []

    def resend(response: Any, attempts: int, **_: Any) -> int | None:
        if response is not None and response[0].status_code == 200 and not resent:
            resent.append(attempts)
            return 0  # retry now
        return None

    botocore_events.register_first(f"needs-retry.dynamodb.{operation}", resend)
    return resent


def fake_response(parsed: dict[str, Any], status_code: int = 200) -> tuple[AWSResponse, dict[str, Any]]:
    """What a before-call handler returns to answer a call in DynamoDB's place."""
    return AWSResponse(url="https://dynamodb.invalid", status_code=status_code, headers={}, raw=None), parsed


def fake_error(code: str, status_code: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """DynamoDB's answer with an error code, as botocore sees it once its own retries are spent."""
    return fake_response({"Error": {"Code": code, "Message": f"injected {code}"}}, status_code)


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def http_error(code: str, status_code: int = 400, **members: Any) -> AWSResponse:
    """DynamoDB's HTTP answer with an error code, for a before-send handler: botocore parses it and retries as usual."""
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": f"injected {code}", **members}
    return AWSResponse(
        url="https://dynamodb.invalid",
        status_code=status_code,
        headers={"Content-Type": "application/x-amz-json-1.0"},
        raw=_RawBody(json.dumps(body).encode()),
    )


def intercept_sends(
    botocore_events: Any, operation: str, answer: Callable[[], AWSResponse], times: int | None = None
) -> list[str]:
    """Answer the app's next `times` HTTP requests for a DynamoDB operation (all if None) with answer(), which may
    also raise (a timeout, say). botocore handles the answer as it would DynamoDB's, retries included.
    Returns the list of intercepted requests, which grows as they happen."""
    intercepted: list[str] = []

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        if times is not None and len(intercepted) >= times:
            return None
        intercepted.append(operation)
        # moto's own before-send handler runs even when an earlier one answered; it ignores unknown URLs.
        request.url = "https://fault-injected.invalid/"
        return answer()

    botocore_events.register_first(f"before-send.dynamodb.{operation}", handler)
    return intercepted


def transaction_cancelled(*reason_codes: str) -> AWSResponse:
    """TransactWriteItems' answer when DynamoDB cancels the transaction, with one reason per item."""
    return http_error(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": code, "Message": f"injected {code}"} for code in reason_codes],
    )

"""Writing a new study session: the read that checks its group, activity and idempotency key, and the write."""

from datetime import datetime
from typing import Any

from chalicelib.store import idempotency
from chalicelib.store.dynamo import Table
from chalicelib.store.errors import (
    BUSY_ERROR_CODES,
    DatabaseBusyError,
    IdempotencyKeyInFlightError,
    SessionIdCollisionError,
    database_errors,
)
from chalicelib.store.items import activity_key, group_key, idempotency_key
from chalicelib.store.mapping import Session, from_attributes, to_attributes


def read_before_create(
    table: Table, *, group_id: int, study_activity_id: int, key: str | None, now: datetime
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]:
    """The group, the activity and the live record of the idempotency key (None for each one missing): one
    consistent BatchGetItem, which must answer whole."""
    the_group, the_activity = group_key(group_id), activity_key(study_activity_id)
    record_key = idempotency_key(key) if key is not None else None
    keys = [the_group, the_activity] + ([record_key] if record_key else [])
    with database_errors():
        response = table.client.batch_get_item(
            RequestItems={table.name: {"Keys": [to_attributes(each) for each in keys], "ConsistentRead": True}}
        )
    if response.get("UnprocessedKeys"):
        raise DatabaseBusyError("BatchGetItem left keys unprocessed")
    found: dict[str, dict[str, Any]] = {}
    for attributes in response["Responses"].get(table.name, []):
        item = from_attributes(attributes)
        found[item["PK"]] = item  # the three keys have distinct partition keys
    record = found.get(record_key["PK"]) if record_key else None
    return (
        found.get(the_group["PK"]),
        found.get(the_activity["PK"]),
        record if idempotency.is_live(record, now=now) else None,
    )


def put_session(table: Table, *, item: dict[str, Any]) -> None:
    """Write a new session; overwrite nothing."""
    # A plain conditional put, not a transaction that re-checks the group and activity: every session would
    # then lock the same few hot items (ACTIVITY#1 above all) and concurrent creates would cancel each other.
    try:
        table.put(item, ConditionExpression="attribute_not_exists(PK)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except table.client.exceptions.ConditionalCheckFailedException as exc:
        # boto3 resends a put whose answer was lost (a read timeout); the resend then finds our own item.
        if exc.response.get("Item") == to_attributes(item):
            return
        raise SessionIdCollisionError(item["id"]) from exc


def put_session_and_key(table: Table, *, item: dict[str, Any], record: dict[str, Any], now: datetime) -> Session:
    """Write the session and the idempotency key's record together, or neither; return the key's session."""
    try:
        table.transact(
            [
                {
                    "Put": {
                        "TableName": table.name,
                        "Item": to_attributes(item),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                idempotency.record_put(table_name=table.name, record=record, now=now),
            ]
        )
    except table.client.exceptions.TransactionCanceledException as exc:
        session_reason, record_reason = exc.response.get("CancellationReasons", [{}, {}])
        codes = {session_reason.get("Code"), record_reason.get("Code")}
        if record_reason.get("Code") == "ConditionalCheckFailed" and "Item" in record_reason:
            # The key was taken first: by a concurrent repeat, or by our own put that boto3 resent.
            return idempotency.replay_session(
                from_attributes(record_reason["Item"]), request_hash=record["request_hash"]
            )
        if "TransactionConflict" in codes:
            raise IdempotencyKeyInFlightError() from exc
        if session_reason.get("Code") == "ConditionalCheckFailed":
            raise SessionIdCollisionError(item["id"]) from exc
        busy = codes & BUSY_ERROR_CODES
        if busy:
            raise DatabaseBusyError(busy.pop()) from exc
        raise
    session: Session = record["session"]  # as the repository built it: session_from_item's
    return session

"""Idempotency-Key records: written in the same transaction as what they stand for, and what a repeat answers."""

from datetime import datetime, timedelta
from typing import Any, TypeGuard

from chalicelib.store.errors import IdempotencyKeyReusedError
from chalicelib.store.items import epoch_seconds
from chalicelib.store.mapping import Session, plain, session_from_item, to_attributes
from chalicelib.store.table import TTL_ATTRIBUTE

IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


def expires_at(now: datetime) -> int:
    """The TTL attribute's value for a record written now."""
    return epoch_seconds(now + IDEMPOTENCY_KEY_LIFETIME)


def is_live(record: dict[str, Any] | None, *, now: datetime) -> TypeGuard[dict[str, Any]]:
    """Whether a stored record still counts: DynamoDB's TTL deletes expired items within a day or two, not at once,
    and until then they are ignored."""
    return record is not None and record[TTL_ATTRIBUTE] > epoch_seconds(now)


def record_put(*, table_name: str, record: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The transaction's Put of a key's record: refused (with the record held) while a live one exists."""
    return {
        "Put": {
            "TableName": table_name,
            "Item": to_attributes(record),
            # An expired record that TTL has not deleted yet may be taken over.
            "ConditionExpression": "attribute_not_exists(PK) OR #expires <= :now",
            "ExpressionAttributeNames": {"#expires": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":now": {"N": str(epoch_seconds(now))}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def replay_session(record: dict[str, Any], *, request_hash: str | None) -> Session:
    """The session an idempotency key's first request created, if this request is the same one."""
    if record["request_hash"] != request_hash:
        raise IdempotencyKeyReusedError()
    return session_from_item(record["session"])


def replay_reviews(record: dict[str, Any], *, session_id: int, request_hash: str | None) -> list[dict[str, Any]]:
    """The reviews an idempotency key's first request logged, if this request is the same one."""
    if record["request_hash"] != request_hash or record.get("study_session_id") != session_id:
        raise IdempotencyKeyReusedError()
    return [
        {"word_id": plain(review["word_id"]), "correct": review["correct"], "created_at": review["created_at"]}
        for review in record["reviews"]
    ]

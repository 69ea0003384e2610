"""The data layer: one repository over the portal's DynamoDB table."""
import hashlib
import secrets
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from chalicelib.table import TTL_ATTRIBUTE

MAX_ID = 2**53 - 1  # the largest integer a JavaScript client reads exactly
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class GroupNotFoundError(Exception):
    """The referenced group does not exist."""


class StudyActivityNotFoundError(Exception):
    """The referenced study activity does not exist."""


class DatabaseBusyError(Exception):
    """DynamoDB throttled the request or left part of it unprocessed; the caller may retry later."""


class DatabaseUnavailableError(Exception):
    """DynamoDB did not answer in time or could not be reached; a write may or may not have happened."""


class SessionIdCollisionError(Exception):
    """The freshly drawn session id was taken: nothing was written (odds about 1 in 2^53 / sessions stored)."""


class IdempotencyKeyReusedError(Exception):
    """The idempotency key was first used with a different request."""


class IdempotencyKeyInFlightError(Exception):
    """Another request with the same idempotency key is being written right now; nothing was written by this one."""


# DynamoDB's answers for "slow down" or "try again", once boto3's own retries are spent; the last two are the
# spellings of the same reasons inside a cancelled transaction.
_BUSY_ERROR_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                               "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
                               "ThrottlingError", "ProvisionedThroughputExceeded"})


@contextmanager
def _database_errors() -> Iterator[None]:
    """Turn DynamoDB's throttling, availability and timeout errors into our named errors; re-raise the rest."""
    try:
        yield
    except ClientError as exc:
        if _error_code(exc) in _BUSY_ERROR_CODES:
            raise DatabaseBusyError(_error_code(exc)) from exc
        raise
    except (BotocoreConnectionError, HTTPClientError) as exc:  # timeouts, refused and dropped connections
        raise DatabaseUnavailableError(type(exc).__name__) from exc


def _error_code(exc: ClientError) -> str | None:
    return exc.response.get("Error", {}).get("Code")


def new_session_id() -> int:
    """Draw a random id in 1..2^53-1: unique without a counter item, exact in JavaScript."""
    return secrets.randbelow(MAX_ID) + 1


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with an explicit offset and fixed width, so strings sort by time."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _group_key(group_id: int) -> dict[str, str]:
    return {"PK": f"GROUP#{group_id}", "SK": "META"}


def _activity_key(study_activity_id: int) -> dict[str, str]:
    return {"PK": f"ACTIVITY#{study_activity_id}", "SK": "META"}


def _session_key(session_id: int) -> dict[str, str]:
    return {"PK": f"SESSION#{session_id}", "SK": "META"}


def _idempotency_key(key: str) -> dict[str, str]:
    # Hashed: a fixed-size key, and the client's string is never stored.
    return {"PK": f"IDEMPOTENCY#{hashlib.sha256(key.encode()).hexdigest()}", "SK": "CREATE_SESSION"}


def _to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in attributes.items()}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


def _epoch_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _replay(record: dict[str, Any], *, request_hash: str | None) -> dict[str, Any]:
    """The session an idempotency key's first request created, if this request is the same one."""
    if record["request_hash"] != request_hash:
        raise IdempotencyKeyReusedError()
    return session_from_item(record["session"])


def session_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The one mapping from a stored session item to a plain dict: no storage keys, no Decimals."""
    fields = ("id", "group_id", "group_name", "study_activity_id", "activity_name",
              "created_at", "end_time", "review_items_count")
    return {name: _plain(item[name]) for name in fields}


class StudyRepository:
    """Reads and writes groups, study activities and study sessions in one table."""

    def __init__(self, *, client: Any, table_name: str,
                 new_id: Callable[[], int] = new_session_id,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.client = client
        self.table_name = table_name
        self._new_id = new_id
        self._now = now

    def create_session(self, *, group_id: int, study_activity_id: int,
                       idempotency_key: str | None = None, request_hash: str | None = None) -> dict[str, Any]:
        """Start a study session for an existing group and activity: one consistent read, one conditional write.

        With an idempotency key, a repeat of the same request (same request_hash) within 24 hours returns the
        session the first one created, and the key is written in the same transaction as the session.
        """
        now = self._now()
        group, activity, previous = self._read_before_create(
            group_id=group_id, study_activity_id=study_activity_id, idempotency_key=idempotency_key, now=now)
        if previous is not None:
            return _replay(previous, request_hash=request_hash)
        if group is None:
            raise GroupNotFoundError(group_id)
        if activity is None:
            raise StudyActivityNotFoundError(study_activity_id)
        created_at = format_timestamp(now)
        session_id = self._new_id()
        item = {
            **_session_key(session_id),
            "GSI1PK": f"GROUP#{group_id}",
            "GSI1SK": f"SESSION#{created_at}",
            "GSI2PK": "SESSION",
            "GSI2SK": created_at,
            "item_type": "session",
            "id": session_id,
            "group_id": group_id,
            "group_name": group["name"],
            "study_activity_id": study_activity_id,
            "activity_name": activity["name"],
            "created_at": created_at,
            "end_time": created_at,
            "review_items_count": 0,
        }
        session = session_from_item(item)
        if idempotency_key is None:
            self._put_session(item=item)
            return session
        record = {**_idempotency_key(idempotency_key), "item_type": "idempotency_key", "request_hash": request_hash,
                  "session": session, TTL_ATTRIBUTE: _epoch_seconds(now + IDEMPOTENCY_KEY_LIFETIME)}
        return self._put_session_and_key(item=item, record=record, now=now)

    def _read_before_create(self, *, group_id: int, study_activity_id: int, idempotency_key: str | None,
                            now: datetime) -> tuple[dict[str, Any] | None, ...]:
        """The group, the activity and the live record of the idempotency key (None for each one missing)."""
        group_key, activity_key = _group_key(group_id), _activity_key(study_activity_id)
        record_key = _idempotency_key(idempotency_key) if idempotency_key is not None else None
        keys = [group_key, activity_key] + ([record_key] if record_key else [])
        with _database_errors():
            response = self.client.batch_get_item(RequestItems={self.table_name: {
                "Keys": [_to_attributes(key) for key in keys],
                "ConsistentRead": True,
            }})
        if response.get("UnprocessedKeys"):
            raise DatabaseBusyError("BatchGetItem left keys unprocessed")
        found = {}
        for attributes in response["Responses"].get(self.table_name, []):
            item = _from_attributes(attributes)
            found[item["PK"]] = item  # the three keys have distinct partition keys
        record = found.get(record_key["PK"]) if record_key else None
        # DynamoDB's TTL deletes expired items within a day or two, not at once: until then they are ignored.
        if record is not None and record[TTL_ATTRIBUTE] <= _epoch_seconds(now):
            record = None
        return found.get(group_key["PK"]), found.get(activity_key["PK"]), record

    def _put_session(self, *, item: dict[str, Any]) -> None:
        """Write a new session; overwrite nothing."""
        # A plain conditional put, not a transaction that re-checks the group and activity: every session would
        # then lock the same few hot items (ACTIVITY#1 above all) and concurrent creates would cancel each other.
        attributes = _to_attributes(item)
        with _database_errors():
            try:
                self.client.put_item(TableName=self.table_name, Item=attributes,
                                     ConditionExpression="attribute_not_exists(PK)",
                                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
            except self.client.exceptions.ConditionalCheckFailedException as exc:
                # boto3 resends a put whose answer was lost (a read timeout); the resend then finds our own item.
                if exc.response.get("Item") == attributes:
                    return
                raise SessionIdCollisionError(item["id"]) from exc

    def _put_session_and_key(self, *, item: dict[str, Any], record: dict[str, Any],
                             now: datetime) -> dict[str, Any]:
        """Write the session and the idempotency key's record together, or neither; return the key's session."""
        with _database_errors():
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Put": {"TableName": self.table_name, "Item": _to_attributes(item),
                             "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Put": {"TableName": self.table_name, "Item": _to_attributes(record),
                             # An expired record that TTL has not deleted yet may be taken over.
                             "ConditionExpression": "attribute_not_exists(PK) OR #expires <= :now",
                             "ExpressionAttributeNames": {"#expires": TTL_ATTRIBUTE},
                             "ExpressionAttributeValues": {":now": {"N": str(_epoch_seconds(now))}},
                             "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                ])
            except self.client.exceptions.TransactionCanceledException as exc:
                session_reason, record_reason = exc.response.get("CancellationReasons", [{}, {}])
                codes = {session_reason.get("Code"), record_reason.get("Code")}
                if record_reason.get("Code") == "ConditionalCheckFailed" and "Item" in record_reason:
                    # The key was taken first: by a concurrent repeat, or by our own put that boto3 resent.
                    return _replay(_from_attributes(record_reason["Item"]), request_hash=record["request_hash"])
                if "TransactionConflict" in codes:
                    raise IdempotencyKeyInFlightError() from exc
                if session_reason.get("Code") == "ConditionalCheckFailed":
                    raise SessionIdCollisionError(item["id"]) from exc
                busy = codes & _BUSY_ERROR_CODES
                if busy:
                    raise DatabaseBusyError(busy.pop()) from exc
                raise
        return record["session"]

    def put_group(self, *, group_id: int, name: str, words: list[dict[str, Any]]) -> None:
        """Store a group and its words (overwriting), keeping words_count equal to the words stored."""
        self._put(item={**_group_key(group_id), "item_type": "group", "id": group_id,
                        "name": name, "words_count": len(words)})
        for word in words:
            self._put(item={"PK": f"GROUP#{group_id}", "SK": f"WORD#{word['id']:010d}",
                            "item_type": "word", **word})

    def put_study_activity(self, *, study_activity_id: int, name: str, url: str, preview_url: str) -> None:
        """Store a study activity (overwriting)."""
        self._put(item={**_activity_key(study_activity_id), "item_type": "study_activity",
                        "id": study_activity_id, "name": name, "url": url, "preview_url": preview_url})

    def _put(self, *, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table_name, Item=_to_attributes(item))

"""The data layer: one repository over the portal's DynamoDB table."""
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

MAX_ID = 2**53 - 1  # the largest integer a JavaScript client reads exactly

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class GroupNotFoundError(Exception):
    """The referenced group does not exist."""


class StudyActivityNotFoundError(Exception):
    """The referenced study activity does not exist."""


class DatabaseBusyError(Exception):
    """DynamoDB throttled the request or left part of it unprocessed; the caller may retry later."""


class SessionIdCollisionError(Exception):
    """The freshly drawn session id was taken: nothing was written (odds about 1 in 2^53 / sessions stored)."""


# DynamoDB's answers for "slow down" or "try again", once boto3's own retries are spent.
_BUSY_ERROR_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                               "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable"})


@contextmanager
def _busy_database() -> Iterator[None]:
    """Raise DatabaseBusyError for DynamoDB's throttling and availability errors; re-raise the rest."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _BUSY_ERROR_CODES:
            raise DatabaseBusyError(exc.response["Error"]["Code"]) from exc
        raise


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


def _to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in attributes.items()}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


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

    def create_session(self, *, group_id: int, study_activity_id: int) -> dict[str, Any]:
        """Start a study session for an existing group and activity: one consistent read, one conditional put."""
        group, activity = self._get_group_and_activity(group_id=group_id, study_activity_id=study_activity_id)
        if group is None:
            raise GroupNotFoundError(group_id)
        if activity is None:
            raise StudyActivityNotFoundError(study_activity_id)
        created_at = format_timestamp(self._now())
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
        # A plain conditional put, not a transaction that re-checks the group and activity: every session would
        # then lock the same few hot items (ACTIVITY#1 above all) and concurrent creates would cancel each other.
        with _busy_database():
            try:
                self.client.put_item(TableName=self.table_name, Item=_to_attributes(item),
                                     ConditionExpression="attribute_not_exists(PK)")
            except self.client.exceptions.ConditionalCheckFailedException as exc:
                raise SessionIdCollisionError(session_id) from exc
        return session_from_item(item)

    def _get_group_and_activity(self, *, group_id: int, study_activity_id: int
                                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        group_key, activity_key = _group_key(group_id), _activity_key(study_activity_id)
        with _busy_database():
            response = self.client.batch_get_item(RequestItems={self.table_name: {
                "Keys": [_to_attributes(group_key), _to_attributes(activity_key)],
                "ConsistentRead": True,
            }})
        if response.get("UnprocessedKeys"):
            raise DatabaseBusyError("BatchGetItem left keys unprocessed")
        found = {}
        for attributes in response["Responses"].get(self.table_name, []):
            item = _from_attributes(attributes)
            found[item["PK"]] = item
        return found.get(group_key["PK"]), found.get(activity_key["PK"])

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

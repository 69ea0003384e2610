"""The data layer: one repository over the portal's DynamoDB table."""
import secrets
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

MAX_ID = 2**53 - 1  # the largest integer a JavaScript client reads exactly
_ID_ATTEMPTS = 3

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class GroupNotFoundError(Exception):
    """The referenced group does not exist."""


class StudyActivityNotFoundError(Exception):
    """The referenced study activity does not exist."""


class DatabaseBusyError(Exception):
    """DynamoDB left part of a request unprocessed; the caller may retry later."""


class SessionIdCollisionError(Exception):
    """Every freshly drawn session id was already taken (never expected in practice)."""


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
        """Start a study session for an existing group and activity, in two DynamoDB requests."""
        group, activity = self._get_group_and_activity(group_id=group_id, study_activity_id=study_activity_id)
        if group is None:
            raise GroupNotFoundError(group_id)
        if activity is None:
            raise StudyActivityNotFoundError(study_activity_id)
        created_at = format_timestamp(self._now())
        for _ in range(_ID_ATTEMPTS):
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
            if self._put_session(item):
                return session_from_item(item)
        raise SessionIdCollisionError(f"{_ID_ATTEMPTS} drawn session ids were all taken")

    def _get_group_and_activity(self, *, group_id: int, study_activity_id: int
                                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        group_key, activity_key = _group_key(group_id), _activity_key(study_activity_id)
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

    def _put_session(self, item: dict[str, Any]) -> bool:
        """Write the session only if its group and activity still exist and its id is new."""
        exists = "attribute_exists(PK)"
        try:
            self.client.transact_write_items(TransactItems=[
                {"ConditionCheck": {"TableName": self.table_name, "ConditionExpression": exists,
                                    "Key": _to_attributes(_group_key(item["group_id"]))}},
                {"ConditionCheck": {"TableName": self.table_name, "ConditionExpression": exists,
                                    "Key": _to_attributes(_activity_key(item["study_activity_id"]))}},
                {"Put": {"TableName": self.table_name, "ConditionExpression": "attribute_not_exists(PK)",
                         "Item": _to_attributes(item)}},
            ])
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if len(reasons) != 3:
                raise
            group_reason, activity_reason, session_reason = reasons
            # A group or activity deleted since the read above: answer as if the read had missed it.
            if group_reason == "ConditionalCheckFailed":
                raise GroupNotFoundError(item["group_id"]) from exc
            if activity_reason == "ConditionalCheckFailed":
                raise StudyActivityNotFoundError(item["study_activity_id"]) from exc
            if session_reason == "ConditionalCheckFailed":
                return False
            raise
        return True

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

"""The data layer: one repository over the portal's DynamoDB table."""
import base64
import binascii
import contextvars
import hashlib
import json
import random
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from chalicelib.cache import ReferenceCache
from chalicelib.items import (
    activity_item,
    activity_key,
    group_item,
    group_key,
    member_item,
    review_item,
    session_item,
    session_key,
    word_item,
    word_key,
    word_text,
)
from chalicelib.table import ACTIVITY_SESSIONS_INDEX, GROUP_SESSIONS_INDEX, LISTS_INDEX, TTL_ATTRIBUTE

MAX_ID = 2**53 - 1  # the largest integer a JavaScript client reads exactly
COUNT_COLUMNS = ("correct_count", "wrong_count")
ACTIVE_GROUP_DAYS = 30  # the dashboard's active_groups: groups with a session on this many past days or today
MASTERED_REVIEWS = 5  # a mastered word: reviewed at least 5 times, at least 4 in 5 (80%) correctly
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
# One request's reviews are one transaction: the session, each distinct word, the review item and the idempotency
# key's record. moto allows 25 items in a transaction (DynamoDB 100), so 20 distinct words fit everywhere.
MAX_REVIEWS_PER_REQUEST = 20
_TRANSACTION_ATTEMPTS = 3  # our own retries of a transaction another one on the same session cancelled
_RESET_WORKERS = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class NotFoundError(Exception):
    """Something the request names does not exist; the message says what."""


class GroupNotFoundError(NotFoundError):
    """The referenced group does not exist."""


class StudyActivityNotFoundError(NotFoundError):
    """The referenced study activity does not exist."""


class SessionNotFoundError(NotFoundError):
    """The referenced study session does not exist."""


class WordNotFoundError(NotFoundError):
    """The referenced word does not exist."""


class WordNotInGroupError(Exception):
    """The word exists but is not in the group the study session practises."""


class InvalidCursorError(Exception):
    """A list cursor this service did not hand out."""


class TransactionConflictError(Exception):
    """Concurrent writes to the same items kept cancelling this one; nothing was written, a retry is safe."""


class TransactionFailedError(Exception):
    """DynamoDB cancelled a transaction for a reason no retry changes (a bug, or an item grown too large)."""


class _TryAgain(Exception):
    """A transaction another one cancelled: nothing was written, so it may be sent again."""


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


def _idempotency_key(key: str, purpose: str = "CREATE_SESSION") -> dict[str, str]:
    # Hashed: a fixed-size key, and the client's string is never stored.
    return {"PK": f"IDEMPOTENCY#{hashlib.sha256(key.encode()).hexdigest()}", "SK": purpose}


def _session_word_counts(item: dict[str, Any]) -> dict[int, dict[str, int]]:
    """The per-word counts a session item carries, as {word id: {"correct_count": c, "wrong_count": w}}."""
    counts: dict[int, dict[str, int]] = {}
    for name, value in item.items():
        kind, _, word_id = name.partition("#")
        if kind in ("correct", "wrong") and word_id.isdigit():
            counts.setdefault(int(word_id), {"correct_count": 0, "wrong_count": 0})[f"{kind}_count"] = int(value)
    return counts


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
    counts = {name: _plain(item.get(name, 0)) for name in ("correct_count", "wrong_count")}
    return {**{name: _plain(item[name]) for name in fields}, **counts}


def word_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The one mapping from a stored word (or a group's copy of one) to a plain dict."""
    word = {"id": _plain(item.get("id", item.get("word_id"))), "kanji": item["kanji"], "romaji": item["romaji"],
            "english": item["english"]}
    if "parts" in item:
        word["parts"] = [{"kanji": part["kanji"], "romaji": list(part["romaji"])} for part in item["parts"]]
    return word


def group_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The one mapping from a stored group to a plain dict."""
    return {"id": _plain(item["id"]), "name": item["name"], "words_count": _plain(item["words_count"])}


def activity_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The one mapping from a stored study activity to a plain dict."""
    return {"id": _plain(item["id"]), "name": item["name"], "url": item["url"], "preview_url": item["preview_url"],
            "description": item.get("description", "")}


def counted_word_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored word as the pages show it: its text and all-time counts (0 for a word never reviewed)."""
    word = word_from_item(item)
    word.pop("parts", None)
    return {**word, **{name: _plain(item.get(name, 0)) for name in COUNT_COLUMNS}}


def sorted_by(items: list[dict[str, Any]], *, key: str, descending: bool) -> list[dict[str, Any]]:
    """Items in the order SQL's ORDER BY key would give, ties by id ascending; text compares by code point, as
    SQLite's default collation does."""
    return sorted(sorted(items, key=lambda item: item["id"]), key=lambda item: item[key], reverse=descending)


_CURSOR_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00")


def encode_cursor(session: dict[str, Any]) -> str:
    """An opaque cursor naming the last session of a page."""
    raw = json.dumps([session["created_at"], session["id"]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor stands for; a cursor we did not hand out raises InvalidCursorError."""
    if len(cursor) > 200:  # ours are about 60 characters; a long one is not worth decoding
        raise InvalidCursorError()
    try:
        created_at, session_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise InvalidCursorError() from exc
    if not (isinstance(created_at, str) and _CURSOR_TIME.fullmatch(created_at)
            and type(session_id) is int and 1 <= session_id <= MAX_ID):
        raise InvalidCursorError()
    return _to_attributes({**session_key(session_id), "GSI2PK": "SESSION", "GSI2SK": created_at})


class StudyRepository:
    """Reads and writes groups, study activities and study sessions in one table."""

    def __init__(self, *, client: Any, table_name: str,
                 new_id: Callable[[], int] = new_session_id,
                 now: Callable[[], datetime] = utc_now,
                 cache: ReferenceCache | None = None) -> None:
        self.client = client
        self.table_name = table_name
        self._new_id = new_id
        self._now = now
        # Groups, activities and words as last read, and each recent session's group (which never changes):
        # what lets a warm create or review be one request (docs/design.md, "The reference cache").
        self._cache = ReferenceCache() if cache is None else cache

    def create_session(self, *, group_id: int, study_activity_id: int,
                       idempotency_key: str | None = None, request_hash: str | None = None) -> dict[str, Any]:
        """Start a study session for an existing group and activity: one conditional write, after one consistent
        read of the group and activity unless the reference cache holds both.

        With an idempotency key, a repeat of the same request (same request_hash) within 24 hours returns the
        session the first one created, and the key is written in the same transaction as the session.
        """
        now = self._now()
        group = self._cache.get(("group", group_id))
        activity = self._cache.get(("activity", study_activity_id))
        if group is None or activity is None:
            stored_group, stored_activity, previous = self._read_before_create(
                group_id=group_id, study_activity_id=study_activity_id, idempotency_key=idempotency_key, now=now)
            if previous is not None:
                return self._remember_session(_replay(previous, request_hash=request_hash))
            if stored_group is None:
                raise GroupNotFoundError(f"Group {group_id} not found")
            if stored_activity is None:
                raise StudyActivityNotFoundError(f"Study activity {study_activity_id} not found")
            group = self._remember("group", group_from_item(stored_group))
            activity = self._remember("activity", activity_from_item(stored_activity))
        created_at = format_timestamp(now)
        session_id = self._new_id()
        item = session_item(session_id=session_id, group_id=group_id, group_name=group["name"],
                            study_activity_id=study_activity_id, activity_name=activity["name"], created_at=created_at)
        session = session_from_item(item)
        if idempotency_key is None:
            self._put_session(item=item)
            return self._remember_session(session)
        record = {**_idempotency_key(idempotency_key), "item_type": "idempotency_key", "request_hash": request_hash,
                  "session": session, TTL_ATTRIBUTE: _epoch_seconds(now + IDEMPOTENCY_KEY_LIFETIME)}
        # A repeat is answered by the transaction's own condition on the key (it returns the key's record).
        return self._remember_session(self._put_session_and_key(item=item, record=record, now=now))

    def _read_before_create(self, *, group_id: int, study_activity_id: int, idempotency_key: str | None,
                            now: datetime) -> tuple[dict[str, Any] | None, ...]:
        """The group, the activity and the live record of the idempotency key (None for each one missing)."""
        the_group, the_activity = group_key(group_id), activity_key(study_activity_id)
        record_key = _idempotency_key(idempotency_key) if idempotency_key is not None else None
        keys = [the_group, the_activity] + ([record_key] if record_key else [])
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
        return found.get(the_group["PK"]), found.get(the_activity["PK"]), record

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
                    self._idempotency_put(record=record, now=now),
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

    # --- sessions ----------------------------------------------------------------------------------------------

    def get_session(self, *, session_id: int) -> dict[str, Any]:
        """One session, as stored now: one consistent GetItem."""
        item = self._get(key=session_key(session_id), consistent=True)
        if item is None:
            raise SessionNotFoundError(f"Study session {session_id} not found")
        return self._remember_session(session_from_item(item))

    def get_session_words(self, *, session_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A session and the words reviewed in it, sorted by kanji, with their counts in this session: one
        consistent GetItem, and one BatchGetItem of the words' text the reference cache lacks."""
        item = self._get(key=session_key(session_id), consistent=True)
        if item is None:
            raise SessionNotFoundError(f"Study session {session_id} not found")
        counts = _session_word_counts(item)
        words = self._word_texts(word_ids=sorted(counts))
        reviewed = [{**word, **counts[word["id"]]} for word in words]
        reviewed.sort(key=lambda word: (word["kanji"], word["id"]))
        return self._remember_session(session_from_item(item)), reviewed

    def list_sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first: a Query of the all-sessions index, one request per MB."""
        items = self._query_all(IndexName=LISTS_INDEX, ScanIndexForward=False,
                                KeyConditionExpression="GSI2PK = :kind",
                                ExpressionAttributeValues={":kind": {"S": "SESSION"}})
        return [session_from_item(item) for item in items]

    def list_sessions_page(self, *, limit: int, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of sessions, newest first, after the cursor; and the cursor of the next page (None at the end)."""
        query: dict[str, Any] = {"IndexName": LISTS_INDEX, "ScanIndexForward": False,
                                 "KeyConditionExpression": "GSI2PK = :kind",
                                 "ExpressionAttributeValues": {":kind": {"S": "SESSION"}}}
        if cursor is not None:
            query["ExclusiveStartKey"] = _decode_cursor(cursor)
        # One item more than the page shows whether another page follows, the same on every DynamoDB (which may
        # or may not return a LastEvaluatedKey when the page ends exactly at the last item).
        items = self._query_all(**query, limit=limit + 1)
        sessions = [session_from_item(item) for item in items[:limit]]
        return sessions, encode_cursor(sessions[-1]) if len(items) > limit else None

    def list_activity_sessions(self, *, study_activity_id: int) -> list[dict[str, Any]]:
        """An activity's sessions, newest first; raises StudyActivityNotFoundError for an unknown activity."""
        items = self._query_all(IndexName=ACTIVITY_SESSIONS_INDEX, ScanIndexForward=False,
                                KeyConditionExpression="GSI3PK = :activity",
                                ExpressionAttributeValues={":activity": {"S": f"ACTIVITY#{study_activity_id}"}})
        if not items:
            self.get_study_activity(study_activity_id=study_activity_id)  # 404 if it does not exist
        return [session_from_item(item) for item in items]

    # --- activities, groups and words --------------------------------------------------------------------------

    def list_study_activities(self) -> list[dict[str, Any]]:
        """Every study activity, by id."""
        return [self._remember("activity", activity_from_item(item)) for item in self._list_kind("ACTIVITY")]

    def get_study_activity(self, *, study_activity_id: int, cached: bool = False) -> dict[str, Any]:
        """One study activity; cached: a copy read in the reference cache's lifetime will do."""
        activity = self._cache.get(("activity", study_activity_id)) if cached else None
        if activity is not None:
            return activity
        item = self._get(key=activity_key(study_activity_id))
        if item is None:
            raise StudyActivityNotFoundError(f"Study activity {study_activity_id} not found")
        return self._remember("activity", activity_from_item(item))

    def list_groups(self) -> list[dict[str, Any]]:
        """Every group as {id, name, words_count}, by id."""
        return [self._remember("group", group_from_item(item)) for item in self._list_kind("GROUP")]

    def get_group(self, *, group_id: int) -> dict[str, Any]:
        """One group as {id, name, words_count}."""
        item = self._get(key=group_key(group_id))
        if item is None:
            raise GroupNotFoundError(f"Group {group_id} not found")
        return self._remember("group", group_from_item(item))

    def get_group_words(self, *, group_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A group and its words with their parts, by word id: one Query of the group's partition."""
        items = self._query_all(KeyConditionExpression="PK = :group",
                                ExpressionAttributeValues={":group": {"S": f"GROUP#{group_id}"}})
        group = next((item for item in items if item["SK"] == "META"), None)
        if group is None:
            raise GroupNotFoundError(f"Group {group_id} not found")
        words = [word_from_item(item) for item in items if item["SK"].startswith("WORD#")]
        for word in words:
            self._remember_text(word)
        return self._remember("group", group_from_item(group)), words

    def list_group_words(self, *, group_id: int, sort_by: str, descending: bool, page: int,
                         per_page: int) -> tuple[list[dict[str, Any]], int]:
        """A page of a group's words with their all-time counts, in order, and how many words the group has.

        One Query of the group's partition, then the counts of only the page's words. Sorted by a count, it needs
        the counts of all its words: up to 100 words, one BatchGetItem; more, one Query of the whole vocabulary's
        counts, as BatchGetItem charges at least half a read unit per word and a Query only for the bytes read."""
        _, words = self.get_group_words(group_id=group_id)
        start = (page - 1) * per_page
        if sort_by in COUNT_COLUMNS:
            if len(words) <= 100:
                counted = self._with_counts(words)
            else:
                vocabulary = {word["id"]: word for word in self.list_words()}
                counted = [vocabulary.get(word["id"]) or counted_word_from_item(word) for word in words]
            listed = sorted_by(counted, key=sort_by, descending=descending)[start:start + per_page]
        else:
            listed = self._with_counts(sorted_by(words, key=sort_by, descending=descending)[start:start + per_page])
        return listed, len(words)

    def _with_counts(self, words: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The words (from a group's copies) with each one's all-time counts from its own item, in the same order."""
        stored = {int(item["id"]): item for item in self._get_many(
            keys=[word_key(word["id"]) for word in words], projection="id, correct_count, wrong_count")}
        return [counted_word_from_item({**word, **stored.get(word["id"], {})}) for word in words]

    def list_group_sessions(self, *, group_id: int) -> list[dict[str, Any]]:
        """A group's sessions, newest first; raises GroupNotFoundError for an unknown group."""
        items = self._query_all(IndexName=GROUP_SESSIONS_INDEX, ScanIndexForward=False,
                                KeyConditionExpression="GSI1PK = :group AND begins_with(GSI1SK, :session)",
                                ExpressionAttributeValues={":group": {"S": f"GROUP#{group_id}"},
                                                           ":session": {"S": "SESSION#"}})
        if not items:
            self.get_group(group_id=group_id)  # 404 if it does not exist
        return [session_from_item(item) for item in items]

    def list_words(self) -> list[dict[str, Any]]:
        """The whole vocabulary with all-time counts, by id: one Query of the words' index, one request per MB."""
        items = self._query_all(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                                ExpressionAttributeValues={":kind": {"S": "WORD"}},
                                ProjectionExpression="id, kanji, romaji, english, correct_count, wrong_count")
        words = [counted_word_from_item(item) for item in items]
        for word in words:
            self._remember_text(word)
        return words

    def get_word(self, *, word_id: int) -> dict[str, Any]:
        """One word with its all-time counts and the groups it belongs to ({id, name}, by id)."""
        item = self._get(key=word_key(word_id))
        if item is None:
            raise WordNotFoundError(f"Word {word_id} not found")
        group_ids = sorted(int(group_id) for group_id in item.get("group_ids", ()))
        groups = {group_id: self._cache.get(("group", group_id)) for group_id in group_ids}
        missing = [group_id for group_id, group in groups.items() if group is None]
        for stored in self._get_many(keys=[group_key(group_id) for group_id in missing],
                                     projection="id, #name, words_count", names={"#name": "name"}):
            groups[int(stored["id"])] = self._remember("group", group_from_item(stored))
        return {**counted_word_from_item(item),
                "groups": [{"id": group_id, "name": group["name"]} for group_id, group in groups.items() if group]}

    # --- the dashboard -----------------------------------------------------------------------------------------

    def get_recent_session(self) -> dict[str, Any] | None:
        """The newest session, or None: one Query of the all-sessions index for one item."""
        items = self._query_all(IndexName=LISTS_INDEX, ScanIndexForward=False, limit=1,
                                KeyConditionExpression="GSI2PK = :kind",
                                ExpressionAttributeValues={":kind": {"S": "SESSION"}})
        return session_from_item(items[0]) if items else None

    def get_study_stats(self) -> dict[str, Any]:
        """The dashboard's figures, from the words' all-time counts and the sessions' times and groups: two Queries
        whose size grows with the vocabulary and the number of sessions, never with the reviews."""
        words = self._query_all(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                                ExpressionAttributeValues={":kind": {"S": "WORD"}},
                                ProjectionExpression="correct_count, wrong_count")
        sessions = self._query_all(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                                   ExpressionAttributeValues={":kind": {"S": "SESSION"}},
                                   ProjectionExpression="created_at, group_id")
        counts = [(int(word.get("correct_count", 0)), int(word.get("wrong_count", 0))) for word in words]
        correct, reviews = sum(c for c, _ in counts), sum(c + w for c, w in counts)
        today = self._now().astimezone(timezone.utc).date()
        days = {date.fromisoformat(session["created_at"][:10]) for session in sessions}  # stored in UTC
        first_active_day = today - timedelta(days=ACTIVE_GROUP_DAYS)
        return {
            "total_vocabulary": len(counts),
            "total_words_studied": sum(1 for c, w in counts if c + w),
            "mastered_words": sum(1 for c, w in counts if c + w >= MASTERED_REVIEWS and 5 * c >= 4 * (c + w)),
            "success_rate": correct / reviews if reviews else 0,
            "total_sessions": len(sessions),
            "active_groups": len({int(session["group_id"]) for session in sessions
                                  if date.fromisoformat(session["created_at"][:10]) >= first_active_day}),
            "current_streak": _streak(days, today=today),
        }

    # --- reviews -----------------------------------------------------------------------------------------------

    def log_reviews(self, *, session_id: int, reviews: list[tuple[int, bool]],
                    idempotency_key: str | None = None, request_hash: str | None = None) -> list[dict[str, Any]]:
        """Log reviews of words of the session's group, all or none: one transaction, after one consistent read of
        the session unless the reference cache knows its group.

        The transaction writes the review item, adds to the session's counts (in all, and per word) and sets its
        end_time, and adds to each word's all-time counts, so these can never disagree. Its conditions check that
        the session and each word exist and that each word is in the session's group."""
        if not 1 <= len(reviews) <= MAX_REVIEWS_PER_REQUEST:
            raise ValueError(f"1 to {MAX_REVIEWS_PER_REQUEST} reviews a request")
        now = self._now()
        record_key = _idempotency_key(idempotency_key, "REVIEW") if idempotency_key is not None else None
        word_ids = list(dict.fromkeys(word_id for word_id, _ in reviews))
        group_id = self._cache.get(("session-group", session_id))
        if group_id is None:
            found = self._get_many(keys=[session_key(session_id), *([record_key] if record_key else [])],
                                   consistent=True)
            by_key = {(item["PK"], item["SK"]): item for item in found}
            record = by_key.get((record_key["PK"], record_key["SK"])) if record_key else None
            if record is not None and record[TTL_ATTRIBUTE] > _epoch_seconds(now):
                return _replay_reviews(record, session_id=session_id, request_hash=request_hash)
            session = by_key.get(tuple(session_key(session_id).values()))
            if session is None:
                raise SessionNotFoundError(f"Study session {session_id} not found")
            group_id = self._remember_session(session_from_item(session))["group_id"]
        for attempt in range(1, _TRANSACTION_ATTEMPTS + 1):
            if attempt > 1:
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                now = self._now()  # a later attempt is a later review: end_time never moves back
            logged, items = self._review_transaction(session_id=session_id, group_id=group_id, reviews=reviews,
                                                     word_ids=word_ids, record_key=record_key,
                                                     request_hash=request_hash, now=now)
            try:
                self._transact(items=items)
                self._cache.put(("session-group", session_id), group_id)  # kept while the session is in use
                return logged
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                reasons = reasons + [{}] * (len(items) - len(reasons))
                try:
                    return self._review_cancelled(reasons=reasons, items=items, logged=logged, word_ids=word_ids,
                                                  session_id=session_id, group_id=group_id,
                                                  request_hash=request_hash, keyed=record_key is not None)
                except _TryAgain:
                    if attempt == _TRANSACTION_ATTEMPTS:
                        raise TransactionConflictError() from exc
        raise AssertionError("unreachable")

    def _review_transaction(self, *, session_id: int, group_id: int, reviews: list[tuple[int, bool]],
                            word_ids: list[int], record_key: dict[str, str] | None, request_hash: str | None,
                            now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The reviews as answered, and the transaction that logs them: session, each word, review, key record."""
        created_at = format_timestamp(now)
        logged = [{"word_id": word_id, "correct": correct, "created_at": created_at} for word_id, correct in reviews]
        review = review_item(session_id=session_id, created_at=created_at, reviews=reviews, suffix=secrets.token_hex(8))
        items = [self._session_review_update(session_id=session_id, reviews=reviews, now=created_at)]
        items += [self._word_review_update(word_id=word_id, group_id=group_id,
                                           reviews=[correct for word, correct in reviews if word == word_id])
                  for word_id in word_ids]
        items.append({"Put": {"TableName": self.table_name, "Item": _to_attributes(review),
                              "ConditionExpression": "attribute_not_exists(PK)",
                              "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        if record_key is not None:
            record = {**record_key, "item_type": "idempotency_key", "request_hash": request_hash,
                      "study_session_id": session_id, "reviews": logged,
                      TTL_ATTRIBUTE: _epoch_seconds(now + IDEMPOTENCY_KEY_LIFETIME)}
            items.append(self._idempotency_put(record=record, now=now))
        return logged, items

    def _session_review_update(self, *, session_id: int, reviews: list[tuple[int, bool]], now: str) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": now, ":n": len(reviews),
                                  ":correct": sum(correct for _, correct in reviews),
                                  ":wrong": sum(not correct for _, correct in reviews)}
        adds = ["review_items_count :n", "correct_count :correct", "wrong_count :wrong"]
        for word_id, correct in reviews:
            kind = "correct" if correct else "wrong"
            name, value = f"#{kind}{word_id}", f":{kind}{word_id}"
            if name not in names:
                names[name] = f"{kind}#{word_id}"
                values[value] = 0
                adds.append(f"{name} {value}")
            values[value] += 1
        return {"Update": {"TableName": self.table_name, "Key": _to_attributes(session_key(session_id)),
                           "UpdateExpression": f"SET end_time = :now ADD {', '.join(adds)}",
                           "ConditionExpression": "attribute_exists(PK)",
                           "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": _to_attributes(values)}}

    def _word_review_update(self, *, word_id: int, group_id: int, reviews: list[bool]) -> dict[str, Any]:
        return {"Update": {"TableName": self.table_name, "Key": _to_attributes(word_key(word_id)),
                           "UpdateExpression": "ADD correct_count :correct, wrong_count :wrong",
                           # The word is still in the session's group: checked in the write, not only before it.
                           "ConditionExpression": "attribute_exists(PK) AND contains(group_ids, :group)",
                           "ExpressionAttributeValues": _to_attributes({
                               ":correct": sum(reviews), ":wrong": len(reviews) - sum(reviews), ":group": group_id}),
                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}

    def _review_cancelled(self, *, reasons: list[dict[str, Any]], items: list[dict[str, Any]],
                          logged: list[dict[str, Any]], word_ids: list[int], session_id: int, group_id: int,
                          request_hash: str | None, keyed: bool) -> list[dict[str, Any]]:
        """The reviews to answer after DynamoDB cancelled the review transaction, or the error it means;
        _TryAgain when another transaction got in the way (nothing was written)."""
        codes = [reason.get("Code") for reason in reasons]
        review_index = 1 + len(word_ids)
        if keyed and codes[-1] == "ConditionalCheckFailed" and "Item" in reasons[-1]:
            # The key was taken first: by a concurrent repeat, or by our own transaction that boto3 resent.
            return _replay_reviews(_from_attributes(reasons[-1]["Item"]), session_id=session_id,
                                   request_hash=request_hash)
        if codes[review_index] == "ConditionalCheckFailed":
            if reasons[review_index].get("Item") == items[review_index]["Put"]["Item"]:
                return logged  # boto3 resent our transaction after its answer was lost: it was written once
            raise DatabaseBusyError("review key taken")  # 64 random bits drew a taken key; nothing was written
        if codes[0] == "ConditionalCheckFailed":
            raise SessionNotFoundError(f"Study session {session_id} not found")  # deleted since the read
        refused = {word_id: reason for word_id, reason in zip(word_ids, reasons[1:review_index])
                   if reason.get("Code") == "ConditionalCheckFailed"}
        if refused:
            # Missing, or not in the group? The reason holds the word when it exists (ALL_OLD); one without it is
            # confirmed by a consistent read, on this error path only, rather than taken for "no such word".
            unsure = [word_id for word_id, reason in refused.items() if "Item" not in reason]
            found = {int(item["id"]) for item in self._get_many(keys=[word_key(word_id) for word_id in unsure],
                                                                  consistent=True, projection="id")}
            missing = [word_id for word_id in unsure if word_id not in found]
            if missing:
                raise WordNotFoundError(f"Word {missing[0]} not found")
            word_id = next(iter(refused))
            raise WordNotInGroupError(f"Word {word_id} is not in group {group_id}, the study session's group")
        busy = set(codes) & _BUSY_ERROR_CODES
        if busy:
            raise DatabaseBusyError(busy.pop())
        if "TransactionConflict" in codes:
            raise _TryAgain()
        raise TransactionFailedError(f"review transaction cancelled: {codes}")

    # --- reset -------------------------------------------------------------------------------------------------

    def reset(self, *, deadline: float) -> dict[str, Any]:
        """Delete every session and review and zero every word's counts, until time.monotonic() reaches deadline.

        Every step can be repeated: a session goes only after its reviews, and only if no review came in meanwhile,
        so its index entry always finds what is left; a word is zeroed by setting, not subtracting. complete is
        False when the deadline stopped it."""
        summary = {"sessions_deleted": 0, "reviews_deleted": 0, "words_reset": 0, "complete": False}
        with ThreadPoolExecutor(max_workers=_RESET_WORKERS) as pool:
            def each(function: Callable[[Any], Any], arguments: list[Any]) -> list[Any]:
                # In the caller's context, so the access log counts the requests the threads send.
                context = contextvars.copy_context()
                return list(pool.map(lambda argument: context.copy().run(function, argument), arguments))

            for sessions in self._pages(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                                        ExpressionAttributeValues={":kind": {"S": "SESSION"}},
                                        ProjectionExpression="PK"):
                deleted = each(lambda session: self._delete_session(partition=session["PK"], deadline=deadline),
                               sessions)
                done = [counts for counts in deleted if counts is not None]
                summary["sessions_deleted"] += sum(sessions for sessions, _ in done)
                summary["reviews_deleted"] += sum(reviews for _, reviews in done)
                if len(done) < len(deleted):
                    return summary
            for words in self._pages(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                                     ExpressionAttributeValues={":kind": {"S": "WORD"}}, ProjectionExpression="PK, SK"):
                if time.monotonic() >= deadline:
                    return summary
                # The index may lag a review by a moment: the counts come from the table.
                current = self._get_many(keys=[{"PK": word["PK"], "SK": word["SK"]} for word in words],
                                         consistent=True, projection="PK, SK, correct_count, wrong_count")
                counted = [word for word in current if word.get("correct_count") or word.get("wrong_count")]
                each(self._zero_word_counts, counted)
                summary["words_reset"] += len(counted)
        return {**summary, "complete": True}

    def _delete_session(self, *, partition: str, deadline: float) -> tuple[int, int] | None:
        """Delete a session's reviews, then the session if no review came in meanwhile; return the sessions (1, or 0
        if it was gone) and reviews it deleted, or None if the deadline came first."""
        for _ in range(3):
            if time.monotonic() >= deadline:
                return None
            items = self._query_all(KeyConditionExpression="PK = :session",
                                    ExpressionAttributeValues={":session": {"S": partition}},
                                    ProjectionExpression="PK, SK, review_items_count", ConsistentRead=True)
            meta = next((item for item in items if item["SK"] == "META"), None)
            children = [item for item in items if item["SK"] != "META"]
            for start in range(0, len(children), 25):
                if time.monotonic() >= deadline:
                    return None  # the session stays, so a later reset finds what is left
                self._delete_batch(children[start:start + 25])
            if meta is None:
                return 0, 0  # another reset got there first (the index still listed it)
            seen = meta.get("review_items_count")
            condition = ({"ConditionExpression": "attribute_not_exists(review_items_count)"} if seen is None else
                         {"ConditionExpression": "review_items_count = :seen",
                          "ExpressionAttributeValues": _to_attributes({":seen": seen})})
            try:
                with _database_errors():
                    self.client.delete_item(TableName=self.table_name,
                                            Key=_to_attributes({"PK": partition, "SK": "META"}), **condition)
                return 1, int(seen or 0)
            except self.client.exceptions.ConditionalCheckFailedException:
                continue  # a review was logged since the Query: delete it too
        raise DatabaseBusyError(f"reviews kept arriving in {partition} during the reset")

    def _delete_batch(self, keys: list[dict[str, str]]) -> None:
        """Delete up to 25 items."""
        self._write_batch([{"DeleteRequest": {"Key": _to_attributes({"PK": key["PK"], "SK": key["SK"]})}}
                           for key in keys])

    def _write_batch(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem of up to 25 puts or deletes, retrying what DynamoDB leaves unprocessed."""
        for attempt in range(5):
            if not requests:
                return
            with _database_errors():
                response = self.client.batch_write_item(RequestItems={self.table_name: requests})
            requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
            time.sleep(0.05 * 2 ** attempt if requests else 0)
        raise DatabaseBusyError("BatchWriteItem left items unprocessed")

    def _zero_word_counts(self, word: dict[str, Any]) -> None:
        with _database_errors():
            self.client.update_item(TableName=self.table_name, Key=_to_attributes({"PK": word["PK"], "SK": word["SK"]}),
                                    UpdateExpression="SET correct_count = :zero, wrong_count = :zero",
                                    ConditionExpression="attribute_exists(PK)",
                                    ExpressionAttributeValues={":zero": {"N": "0"}})

    # --- seeding -----------------------------------------------------------------------------------------------

    def put_group(self, *, group_id: int, name: str, words: list[dict[str, Any]]) -> None:
        """Store a group and its words (overwriting their text, keeping the words' review counts and other groups;
        a word whose text changes gets it in its other groups' copies too)."""
        if len({word["id"] for word in words}) != len(words):
            raise ValueError(f"group {group_id} lists a word twice")
        items = [group_item(group_id=group_id, name=name, words_count=len(words))]
        stored = {item["PK"]: item for item in self._get_many(
            keys=[word_key(word["id"]) for word in words], consistent=True,
            projection="PK, group_ids, kanji, romaji, english, parts")}
        for word in words:
            items.append(member_item(group_id=group_id, word=word))
            previous = stored.get(word_key(word["id"])["PK"])
            if previous is None:
                # Only seeding creates words (reviews update existing ones), so a new word can be written whole.
                items.append(word_item(word=word, group_ids={group_id}))
                continue
            if "parts" not in previous or word_text(previous) != word_text(word):
                items += [member_item(group_id=int(other), word=word)
                          for other in previous.get("group_ids", ()) if int(other) != group_id]
            fields = word_text(word)
            names = {f"#f{index}": field for index, field in enumerate(fields)}
            values = {f":f{index}": value for index, value in enumerate(fields.values())}
            with _database_errors():
                self.client.update_item(
                    TableName=self.table_name, Key=_to_attributes(word_key(word["id"])),
                    UpdateExpression=(f"SET {', '.join(f'{name} = :{name[1:]}' for name in names)}, "
                                      "correct_count = if_not_exists(correct_count, :zero), "
                                      "wrong_count = if_not_exists(wrong_count, :zero) ADD group_ids :group"),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=_to_attributes({**values, ":zero": 0, ":group": {group_id}}))
        for start in range(0, len(items), 25):
            self._write_batch([{"PutRequest": {"Item": _to_attributes(item)}} for item in items[start:start + 25]])
        # This process sees its own change at once; others within the reference cache's lifetime.
        self._remember("group", {"id": group_id, "name": name, "words_count": len(words)})
        for word in words:
            self._remember_text(word)

    def has_any(self, *, kind: str) -> bool:
        """Whether the table holds an item of this kind (GROUP, WORD, ACTIVITY, SESSION): one Query for one key."""
        return bool(self._query_all(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind", limit=1,
                                    ExpressionAttributeValues={":kind": {"S": kind}}, ProjectionExpression="PK"))

    def put_study_activity(self, *, study_activity_id: int, name: str, url: str, preview_url: str,
                           description: str = "") -> None:
        """Store a study activity (overwriting)."""
        item = activity_item(study_activity_id=study_activity_id, name=name, url=url, preview_url=preview_url,
                             description=description)
        self._put(item=item)
        self._remember("activity", activity_from_item(item))

    # --- requests ----------------------------------------------------------------------------------------------

    def _put(self, *, item: dict[str, Any]) -> None:
        with _database_errors():
            self.client.put_item(TableName=self.table_name, Item=_to_attributes(item))

    def _get(self, *, key: dict[str, str], consistent: bool = False) -> dict[str, Any] | None:
        with _database_errors():
            response = self.client.get_item(TableName=self.table_name, Key=_to_attributes(key),
                                             ConsistentRead=consistent)
        return _from_attributes(response["Item"]) if "Item" in response else None

    def _get_many(self, *, keys: list[dict[str, str]], consistent: bool = False, projection: str | None = None,
                  names: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """BatchGetItem of any number of distinct keys, 100 a request, retrying what DynamoDB leaves unprocessed."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": [_to_attributes(key) for key in keys[start:start + 100]],
                                       "ConsistentRead": consistent}
            if projection is not None:
                request["ProjectionExpression"] = projection
            if names is not None:
                request["ExpressionAttributeNames"] = names
            for attempt in range(5):
                with _database_errors():
                    response = self.client.batch_get_item(RequestItems={self.table_name: request})
                found += [_from_attributes(item) for item in response["Responses"].get(self.table_name, [])]
                request = response.get("UnprocessedKeys", {}).get(self.table_name)
                if not request:
                    break
                time.sleep(0.05 * 2 ** attempt)
            else:
                raise DatabaseBusyError("BatchGetItem left keys unprocessed")
        return found

    def _pages(self, **query: Any) -> Iterator[list[dict[str, Any]]]:
        """The pages (up to 1 MB each) of a Query, deserialised."""
        while True:
            with _database_errors():
                response = self.client.query(TableName=self.table_name, **query)
            yield [_from_attributes(item) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _query_all(self, *, limit: int | None = None, **query: Any) -> list[dict[str, Any]]:
        """Every item of a Query (or the first `limit`), following its pages."""
        items: list[dict[str, Any]] = []
        for page in self._pages(**query, **({"Limit": limit} if limit else {})):
            items += page
            if limit is not None and len(items) >= limit:
                return items[:limit]
        return items

    def _list_kind(self, kind: str) -> list[dict[str, Any]]:
        return self._query_all(IndexName=LISTS_INDEX, KeyConditionExpression="GSI2PK = :kind",
                               ExpressionAttributeValues={":kind": {"S": kind}})

    def _remember(self, kind: str, value: dict[str, Any]) -> dict[str, Any]:
        """Keep a group, activity or word (as the mapping functions give it) in the reference cache; return it."""
        self._cache.put((kind, value["id"]), value)
        return value

    def _remember_session(self, session: dict[str, Any]) -> dict[str, Any]:
        """Keep a session's group (which never changes) in the reference cache, for its reviews; return it."""
        self._cache.put(("session-group", session["id"]), session["group_id"])
        return session

    def _remember_text(self, word: dict[str, Any]) -> dict[str, Any]:
        """Keep a word's text (no parts, no counts) in the reference cache; return that text."""
        return self._remember("word", {name: word[name] for name in ("id", "kanji", "romaji", "english")})

    def _word_texts(self, *, word_ids: list[int]) -> list[dict[str, Any]]:
        """The words' {id, kanji, romaji, english}, from the reference cache or one BatchGetItem per 100 missing;
        a word that no longer exists is left out."""
        texts = {word_id: self._cache.get(("word", word_id)) for word_id in word_ids}
        missing = [word_id for word_id, text in texts.items() if text is None]
        for item in self._get_many(keys=[word_key(word_id) for word_id in missing],
                                   projection="id, kanji, romaji, english"):
            texts[int(item["id"])] = self._remember_text(word_from_item(item))
        return [text for text in texts.values() if text is not None]

    def _idempotency_put(self, *, record: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {"Put": {"TableName": self.table_name, "Item": _to_attributes(record),
                        # An expired record that TTL has not deleted yet may be taken over.
                        "ConditionExpression": "attribute_not_exists(PK) OR #expires <= :now",
                        "ExpressionAttributeNames": {"#expires": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": {":now": {"N": str(_epoch_seconds(now))}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}

    def _transact(self, *, items: list[dict[str, Any]]) -> None:
        with _database_errors():
            self.client.transact_write_items(TransactItems=items)


def _streak(days: set[date], *, today: date) -> int:
    """Consecutive days with a session, ending today or yesterday (0 when neither has one)."""
    day = today if today in days else today - timedelta(days=1)
    streak = 0
    while day in days:
        streak, day = streak + 1, day - timedelta(days=1)
    return streak


def _replay_reviews(record: dict[str, Any], *, session_id: int, request_hash: str | None) -> list[dict[str, Any]]:
    """The reviews an idempotency key's first request logged, if this request is the same one."""
    if record["request_hash"] != request_hash or record.get("study_session_id") != session_id:
        raise IdempotencyKeyReusedError()
    return [{"word_id": _plain(review["word_id"]), "correct": review["correct"], "created_at": review["created_at"]}
            for review in record["reviews"]]

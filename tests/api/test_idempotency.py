"""Idempotency-Key on POST /study_sessions: a resent request creates nothing new, on moto and on ministack."""

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import runtime
from chalicelib.store import StudyRepository
from chalicelib.store.errors import IdempotencyKeyReusedError
from tests.support.dynamodb import intercept_sends, resend_once_after_success, scan_items, transaction_cancelled
from tests.support.portal import PORTAL_ORIGIN, VALID, headers_with_key

DAY = 24 * 60 * 60


@pytest.fixture
def stored_keys(dynamodb, table):
    """Reads every idempotency-key record in the table, straight from DynamoDB."""
    return lambda: [item for item in scan_items(dynamodb, table) if item["PK"].startswith("IDEMPOTENCY#")]


def test_a_repeat_with_the_same_key_and_body_returns_the_original_201_and_creates_nothing(
    post_session, stored_sessions, stored_keys
):
    first = post_session(VALID, headers=headers_with_key("order-7"))
    again = post_session(VALID, headers=headers_with_key("order-7"))
    assert first.status_code == again.status_code == 201
    assert again.body == first.body
    assert again.headers["Location"] == first.headers["Location"]
    [session] = stored_sessions()
    assert session["id"] == json.loads(first.body)["id"]
    [record] = stored_keys()
    assert record["session"]["id"] == session["id"]


def test_the_key_record_expires_24_hours_after_the_first_request_and_does_not_hold_the_key(post_session, stored_keys):
    before = int(time.time())
    post_session(VALID, headers=headers_with_key("order-8"))
    [record] = stored_keys()
    assert before + DAY <= record["expires_at"] <= int(time.time()) + DAY
    assert record["PK"] == "IDEMPOTENCY#" + hashlib.sha256(b"order-8").hexdigest()
    assert "order-8" not in json.dumps(record, default=str)


def test_the_table_expires_key_records_with_dynamodb_ttl(dynamodb, table):
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_a_repeat_whose_json_differs_only_in_key_order_and_spacing_is_the_same_request(post_session, stored_sessions):
    first = post_session(b'{"group_id": 1, "study_activity_id": 1}', headers=headers_with_key("k"))
    again = post_session(b'{\n  "study_activity_id":1,\n  "group_id":1\n}', headers=headers_with_key("k"))
    assert again.status_code == 201 and again.body == first.body
    assert len(stored_sessions()) == 1


@pytest.mark.parametrize(
    "second",
    [
        {"group_id": 2, "study_activity_id": 1},
        {"group_id": 1, "study_activity_id": 1, "note": "another request"},
        {"group_id": 999, "study_activity_id": 1},
    ],
)
def test_the_same_key_with_a_different_body_returns_422_and_writes_nothing(
    post_session, stored_sessions, stored_keys, second
):
    first = post_session(VALID, headers=headers_with_key("order-9"))
    sessions, keys = stored_sessions(), stored_keys()
    response = post_session(second, headers=headers_with_key("order-9"))
    assert response.status_code == 422
    assert json.loads(response.body) == {"error": "Idempotency-Key was already used with a different request body"}
    assert stored_sessions() == sessions and stored_keys() == keys
    # The key still answers its first request.
    assert post_session(VALID, headers=headers_with_key("order-9")).body == first.body


def test_different_keys_create_different_sessions(post_session, stored_sessions, stored_keys):
    ids = {json.loads(post_session(VALID, headers=headers_with_key(f"key-{n}")).body)["id"] for n in range(3)}
    assert len(ids) == 3
    assert {item["id"] for item in stored_sessions()} == ids
    assert len(stored_keys()) == 3


def test_without_a_key_every_post_creates_a_session_and_the_names_are_read_only_once(
    post_session, stored_sessions, stored_keys, dynamodb_calls
):
    assert post_session(VALID).status_code == post_session(VALID).status_code == 201
    assert len(stored_sessions()) == 2 and stored_keys() == []
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]


def test_a_cold_keyed_create_is_one_read_and_one_transaction_and_a_cold_repeat_only_one_read(
    post_session, dynamodb_calls, monkeypatch
):
    post_session(VALID, headers=headers_with_key("order-10"))
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems"]
    dynamodb_calls.clear()
    runtime.reset_repository()  # a repeat that reaches another Lambda, with a cold cache
    post_session(VALID, headers=headers_with_key("order-10"))
    assert dynamodb_calls == ["BatchGetItem"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there", "new\nline", "del\x7f", "\x00", "\u2603" * 3])
def test_a_malformed_key_returns_400_and_writes_nothing(post_session, stored_sessions, stored_keys, key):
    response = post_session(VALID, headers=headers_with_key(key))
    assert response.status_code == 400
    assert json.loads(response.body) == {"error": "Idempotency-Key must be 1 to 255 printable ASCII characters"}
    assert stored_sessions() == [] and stored_keys() == []


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "x" * 255,
        "9f1c2e7a-1b4d-4a53-b9b0-0c8f6f7c2d11",
        "with spaces inside",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    ],
)
def test_a_key_of_1_to_255_printable_ascii_characters_is_accepted(post_session, stored_keys, key):
    first = post_session(VALID, headers=headers_with_key(key))
    assert first.status_code == 201
    assert post_session(VALID, headers=headers_with_key(key)).body == first.body
    assert len(stored_keys()) == 1


def test_a_bad_body_with_a_key_returns_400_and_leaves_the_key_unused(post_session, stored_sessions, stored_keys):
    assert post_session({"group_id": True, "study_activity_id": 1}, headers=headers_with_key("k")).status_code == 400
    assert post_session({"group_id": 999, "study_activity_id": 1}, headers=headers_with_key("k")).status_code == 404
    assert stored_keys() == []
    assert post_session(VALID, headers=headers_with_key("k")).status_code == 201
    assert len(stored_sessions()) == 1


def test_an_expired_key_record_not_yet_deleted_by_ttl_is_ignored_and_replaced(
    post_session, dynamodb, table, stored_sessions, stored_keys
):
    key = {"PK": "IDEMPOTENCY#" + hashlib.sha256(b"old").hexdigest(), "SK": "CREATE_SESSION"}
    dynamodb.put_item(
        TableName=table,
        Item={
            "PK": {"S": key["PK"]},
            "SK": {"S": key["SK"]},
            "item_type": {"S": "idempotency_key"},
            "request_hash": {"S": "another request"},
            "expires_at": {"N": str(int(time.time()) - 1)},
            "session": {"M": {"id": {"N": "5"}}},
        },
    )
    response = post_session(VALID, headers=headers_with_key("old"))
    assert response.status_code == 201
    created = json.loads(response.body)
    [record] = stored_keys()
    assert record["session"]["id"] == created["id"] and record["expires_at"] > time.time() + DAY - 60
    assert [item["id"] for item in stored_sessions()] == [created["id"]]


def test_preflight_allows_the_idempotency_key_header(api):
    response = api.request(
        "OPTIONS",
        "/study_sessions",
        headers={
            "Origin": PORTAL_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "idempotency-key"} <= allowed


def test_a_retry_after_a_503_with_the_same_key_creates_exactly_one_session(
    post_session, stored_sessions, stored_keys, botocore_events
):
    intercept_sends(
        botocore_events, "TransactWriteItems", lambda: transaction_cancelled("None", "ThrottlingError"), times=1
    )
    response = post_session(VALID, headers=headers_with_key("order-11"))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert stored_sessions() == [] and stored_keys() == []
    first = post_session(VALID, headers=headers_with_key("order-11"))
    again = post_session(VALID, headers=headers_with_key("order-11"))
    assert first.status_code == again.status_code == 201 and again.body == first.body
    assert [item["id"] for item in stored_sessions()] == [json.loads(first.body)["id"]]


def test_a_key_being_written_by_a_concurrent_request_returns_409_and_writes_nothing(
    post_session, stored_sessions, stored_keys, botocore_events
):
    # What DynamoDB answers when another transaction on the same key item is in flight.
    intercept_sends(
        botocore_events,
        "TransactWriteItems",
        lambda: transaction_cancelled("None", "None", "None", "None", "TransactionConflict"),
    )
    response = post_session(VALID, headers=headers_with_key("order-12", Origin=PORTAL_ORIGIN))
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert json.loads(response.body)["error"] == "A request with this Idempotency-Key is in progress; retry shortly"
    assert stored_sessions() == [] and stored_keys() == []


@pytest.mark.parametrize("headers", [None, headers_with_key("order-13")], ids=["no key", "with key"])
def test_a_write_resent_by_boto3_after_a_lost_answer_returns_201_with_the_one_session_stored(
    post_session, stored_sessions, botocore_events, dynamodb_sends, headers
):
    operation = "TransactWriteItems"
    resent = resend_once_after_success(botocore_events, operation)
    response = post_session(VALID, headers=headers)
    assert resent == [1] and dynamodb_sends.count(operation) == 2
    assert response.status_code == 201
    assert [item["id"] for item in stored_sessions()] == [json.loads(response.body)["id"]]


def fixed_clock(moment: datetime):
    return lambda: moment


def test_a_key_answers_its_first_request_for_24_hours_then_starts_a_new_session(dynamodb, table, seeded):
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

    def create_at(moment: datetime) -> dict:
        repository = StudyRepository(client=dynamodb, table_name=table, now=fixed_clock(moment))
        return repository.create_session(group_id=1, study_activity_id=1, idempotency_key="k", request_hash="h")

    first = create_at(start)
    assert create_at(start + timedelta(hours=24) - timedelta(seconds=1)) == first
    later = create_at(start + timedelta(hours=24))
    assert later["id"] != first["id"] and later["created_at"] == "2026-11-28T12:00:00.000+00:00"
    with pytest.raises(IdempotencyKeyReusedError):
        StudyRepository(client=dynamodb, table_name=table, now=fixed_clock(start + timedelta(hours=25))).create_session(
            group_id=1, study_activity_id=1, idempotency_key="k", request_hash="other"
        )


# moto's in-memory backend is not thread-safe; concurrency is a question for a real server.
@pytest.mark.parametrize("backend", ["ministack"], indirect=True)
def test_concurrent_repeats_of_one_key_create_exactly_one_session(seeded, stored_sessions, stored_keys):
    def create(_: int) -> dict:
        return seeded.create_session(group_id=1, study_activity_id=1, idempotency_key="same", request_hash="h")

    with ThreadPoolExecutor(max_workers=20) as pool:
        made = list(pool.map(create, range(40)))
    assert len({session["id"] for session in made}) == 1
    assert [item["id"] for item in stored_sessions()] == [made[0]["id"]]
    assert len(stored_keys()) == 1

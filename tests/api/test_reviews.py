"""POST /study_sessions/{id}/review: the Typing Tutor's single review and the frontend's batch, on moto and
ministack: what is stored, what is refused, and that nothing is written for a refusal."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.store import StudyRepository
from chalicelib.store.reviews import MAX_REVIEWS_PER_REQUEST
from tests.support.dynamodb import (
    http_error,
    intercept_sends,
    items_by_key,
    resend_once_after_success,
    scan_items,
    transaction_cancelled,
)
from tests.support.portal import JSON_FROM_PORTAL, TUTOR, review


@pytest.fixture
def session(seeded: Any) -> dict[str, Any]:
    """A fresh session of group 1 (words 1-6) and activity 1, made with the test's own client, so the app's client
    is created by the test's first request, with the event handlers the test registers."""
    return seeded.create_session(group_id=1, study_activity_id=1)


def test_a_typing_tutor_review_is_logged_with_every_count_it_moves(api, session, dynamodb, table):
    response = review(api, session["id"], {"word_id": 2, "correct": True})
    assert response.status_code == 201
    body = json.loads(response.body)
    assert body == {"study_session_id": session["id"], "word_id": 2, "correct": True, "created_at": body["created_at"]}
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    items = items_by_key(dynamodb, table)
    meta = items[(f"SESSION#{session['id']}", "META")]
    assert (meta["review_items_count"], meta["correct_count"], meta["wrong_count"]) == (1, 1, 0)
    assert meta["end_time"] == body["created_at"] >= session["created_at"]
    assert meta["correct#2"] == 1 and "wrong#2" not in meta
    word = items[("WORD#2", "META")]
    assert (word["correct_count"], word["wrong_count"]) == (1, 0)
    [logged] = [item for key, item in items.items() if key[0] == f"SESSION#{session['id']}" and key[1] != "META"]
    assert logged["reviews"] == [{"word_id": 2, "correct": True}] and logged["created_at"] == body["created_at"]


def test_a_batch_logs_all_its_reviews_in_one_transaction(backend, dynamodb_calls, api, session, dynamodb, table):
    reviews = [
        {"word_id": 1, "is_correct": True},
        {"word_id": 1, "is_correct": False},
        {"word_id": 3, "is_correct": False},
    ]
    response = review(api, session["id"], {"reviews": reviews}, JSON_FROM_PORTAL)
    assert response.status_code == 201
    body = json.loads(response.body)
    assert [(r["word_id"], r["is_correct"]) for r in body["reviews"]] == [(1, True), (1, False), (3, False)]
    assert dynamodb_calls[-2:] == ["BatchGetItem", "TransactWriteItems"]
    items = items_by_key(dynamodb, table)
    meta = items[(f"SESSION#{session['id']}", "META")]
    assert (meta["review_items_count"], meta["correct_count"], meta["wrong_count"]) == (3, 1, 2)
    assert (meta["correct#1"], meta["wrong#1"], meta["wrong#3"]) == (1, 1, 1)
    assert (items[("WORD#1", "META")]["correct_count"], items[("WORD#1", "META")]["wrong_count"]) == (1, 1)
    assert (items[("WORD#3", "META")]["correct_count"], items[("WORD#3", "META")]["wrong_count"]) == (0, 1)


def test_a_review_costs_one_consistent_read_and_one_transaction(backend, botocore_events, dynamodb_sends, api, session):
    reads = []
    botocore_events.register("before-parameter-build.dynamodb.BatchGetItem", lambda params, **_: reads.append(params))
    assert review(api, session["id"], {"word_id": 1, "correct": False}).status_code == 201
    assert dynamodb_sends == ["BatchGetItem", "TransactWriteItems"]
    # The session was just created, maybe by another Lambda: an eventually consistent read could miss it.
    [read] = reads
    assert read["RequestItems"]["study-portal-dev"]["ConsistentRead"] is True


@pytest.mark.parametrize(
    "body, message",
    [
        ({"word_id": 1, "correct": 1}, "correct must be true or false"),
        ({"word_id": 1, "correct": "true"}, "correct must be true or false"),
        ({"word_id": 1, "correct": None}, "correct is required"),
        ({"word_id": 1}, "correct is required"),
        ({"word_id": True, "correct": True}, "word_id must be an integer"),
        ({"word_id": "1", "correct": True}, "word_id must be an integer"),
        ({"word_id": 0, "correct": True}, "word_id must be an integer"),
        ({"correct": True}, "word_id is required"),
        ({"reviews": []}, "reviews must be a non-empty array"),
        ({"reviews": {"word_id": 1, "is_correct": True}}, "reviews must be a non-empty array"),
        ({"reviews": [{"word_id": 1, "is_correct": 1}]}, "reviews[0].is_correct must be true or false"),
        ({"reviews": [{"word_id": 1, "is_correct": True}, 7]}, "reviews[1] must be a JSON object"),
        ({"reviews": [{"word_id": 1, "correct": True}]}, "reviews[0].is_correct is required"),
        (
            {"reviews": [{"word_id": 1, "is_correct": True}] * (MAX_REVIEWS_PER_REQUEST + 1)},
            f"at most {MAX_REVIEWS_PER_REQUEST} reviews",
        ),
        ({"reviews": [{"word_id": 1, "is_correct": True}], "word_id": 1, "correct": True}, "either word_id"),
        ([{"word_id": 1, "correct": True}], "must be a JSON object"),
    ],
)
def test_malformed_reviews_are_400_and_write_nothing(api, session, dynamodb, table, body, message):
    before = scan_items(dynamodb, table)
    response = review(api, session["id"], body)
    assert response.status_code == 400
    assert message in json.loads(response.body)["error"]
    assert scan_items(dynamodb, table) == before


def test_the_largest_batch_allowed_is_logged(api, session, dynamodb, table):
    reviews = [{"word_id": 1 + index % 6, "is_correct": index % 2 == 0} for index in range(MAX_REVIEWS_PER_REQUEST)]
    assert review(api, session["id"], {"reviews": reviews}).status_code == 201
    assert (
        items_by_key(dynamodb, table)[(f"SESSION#{session['id']}", "META")]["review_items_count"]
        == MAX_REVIEWS_PER_REQUEST
    )


def test_a_review_must_be_declared_json(api, session, dynamodb, table):
    before = scan_items(dynamodb, table)
    response = review(api, session["id"], {"word_id": 1, "correct": True}, {"Content-Type": "text/plain"})
    assert response.status_code == 415 and scan_items(dynamodb, table) == before


@pytest.mark.parametrize("path_id", ["abc", "0", "-1", "01", "1.5", "9007199254740992", "%20", "9" * 5000])
def test_a_malformed_session_id_in_the_path_is_400(api, path_id, dynamodb, table):
    before = scan_items(dynamodb, table)
    response = review(api, path_id, {"word_id": 1, "correct": True})
    assert response.status_code == 400 and "id must be an integer" in json.loads(response.body)["error"]
    assert scan_items(dynamodb, table) == before


@pytest.mark.parametrize(
    "target, body, status, message",
    [
        ("unknown session", {"word_id": 1, "correct": True}, 404, "Study session 424242 not found"),
        ("session", {"word_id": 999, "correct": True}, 404, "Word 999 not found"),
        (
            "session",
            {"reviews": [{"word_id": 1, "is_correct": True}, {"word_id": 998, "is_correct": True}]},
            404,
            "Word 998 not found",
        ),
        ("session", {"word_id": 101, "correct": True}, 422, "Word 101 is not in group 1"),
        (
            "session",
            {"reviews": [{"word_id": 1, "is_correct": True}, {"word_id": 102, "is_correct": False}]},
            422,
            "Word 102 is not in group 1",
        ),
    ],
)
def test_unknown_sessions_and_words_and_words_of_other_groups_write_nothing(
    api, session, dynamodb, table, target, body, status, message
):
    before = scan_items(dynamodb, table)
    response = review(api, 424242 if target == "unknown session" else session["id"], body)
    assert response.status_code == status
    assert json.loads(response.body) == {"error": message + ("" if status == 404 else ", the study session's group")}
    assert scan_items(dynamodb, table) == before


def test_a_resent_review_with_its_idempotency_key_is_logged_once(api, session, dynamodb, table):
    headers = {**TUTOR, "Idempotency-Key": "review-1"}
    first = review(api, session["id"], {"word_id": 4, "correct": True}, headers)
    again = review(api, session["id"], {"correct": True, "word_id": 4}, headers)
    assert first.status_code == again.status_code == 201 and again.body == first.body
    items = items_by_key(dynamodb, table)
    assert items[(f"SESSION#{session['id']}", "META")]["review_items_count"] == 1
    assert items[("WORD#4", "META")]["correct_count"] == 1
    other = review(api, session["id"], {"word_id": 4, "correct": False}, headers)
    assert other.status_code == 422 and "Idempotency-Key" in json.loads(other.body)["error"]
    assert items_by_key(dynamodb, table) == items  # the 422 wrote nothing


def test_the_same_idempotency_key_on_another_session_is_another_request(api, session, seeded):
    second = seeded.create_session(group_id=1, study_activity_id=1)
    headers = {**TUTOR, "Idempotency-Key": "same-key"}
    assert review(api, session["id"], {"word_id": 1, "correct": True}, headers).status_code == 201
    assert review(api, second["id"], {"word_id": 1, "correct": True}, headers).status_code == 422


# moto neither serialises nor conflicts concurrent transactions (its items are plain dicts), so this runs where
# transactions are real: ministack.
@pytest.mark.parametrize("backend", ["ministack"], indirect=True)
def test_fifty_concurrent_reviews_into_one_session_count_fifty(backend, seeded):
    session = seeded.create_session(group_id=1, study_activity_id=1)
    reviews = [(1 + index % 6, index % 3 == 0) for index in range(50)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda pair: seeded.log_reviews(session_id=session["id"], reviews=[pair]), reviews))
    after = seeded.get_session(session_id=session["id"])
    assert after["review_items_count"] == 50
    assert (after["correct_count"], after["wrong_count"]) == (17, 33)
    _, words = seeded.get_session_words(session_id=session["id"])
    assert sum(word["correct_count"] + word["wrong_count"] for word in words) == 50


@pytest.mark.parametrize("headers", [TUTOR, {**TUTOR, "Idempotency-Key": "lost-1"}], ids=["no key", "with key"])
def test_a_review_boto3_resends_after_a_lost_answer_is_logged_once(
    backend, botocore_events, dynamodb_sends, api, session, dynamodb, table, headers
):
    resent = resend_once_after_success(botocore_events, "TransactWriteItems")
    response = review(api, session["id"], {"word_id": 6, "correct": False}, headers)
    assert resent == [1] and dynamodb_sends.count("TransactWriteItems") == 2
    assert response.status_code == 201
    items = items_by_key(dynamodb, table)
    assert items[(f"SESSION#{session['id']}", "META")]["review_items_count"] == 1
    assert items[("WORD#6", "META")]["wrong_count"] == 1


def test_a_conflict_with_another_write_is_retried_and_then_logged_once(
    backend, botocore_events, api, session, dynamodb, table
):
    conflicts = intercept_sends(
        botocore_events,
        "TransactWriteItems",
        lambda: transaction_cancelled("TransactionConflict", "None", "None"),
        times=2,
    )
    response = review(api, session["id"], {"word_id": 1, "correct": True})
    assert response.status_code == 201 and len(conflicts) == 2
    assert items_by_key(dynamodb, table)[(f"SESSION#{session['id']}", "META")]["review_items_count"] == 1


WORD_1 = {"PK": {"S": "WORD#1"}, "SK": {"S": "META"}, "id": {"N": "1"}}


@pytest.mark.parametrize("key", [None, "cancelled-1"], ids=["no key", "with key"])
@pytest.mark.parametrize(
    "reasons, status, message",
    [
        # what DynamoDB answers when another writer changed things between our read and our transaction
        ([{"Code": "ConditionalCheckFailed"}, {}, {}], 404, "Study session {session} not found"),
        # no word in the reason, as the emulators answer: a read settles it, and word 1 exists, so it left the group
        ([{}, {"Code": "ConditionalCheckFailed"}, {}], 422, "Word 1 is not in group 1"),
        ([{}, {"Code": "ConditionalCheckFailed", "Item": WORD_1}, {}], 422, "Word 1 is not in group 1"),
        ([{"Code": "TransactionConflict"}, {}, {}], 409, "Other writes to the same study session"),
        ([{}, {}, {"Code": "ThrottlingError"}], 503, "The database is busy"),
        (
            [{}, {}, {"Code": "ConditionalCheckFailed", "Item": {"PK": {"S": "SESSION#1"}, "SK": {"S": "REVIEW#x"}}}],
            503,
            "The database is busy",
        ),  # a review key drawn twice
        ([{}, {"Code": "ValidationError"}, {}], 500, "Internal server error"),  # no retry changes it
    ],
)
def test_a_cancelled_review_transaction_answers_by_its_reasons_and_writes_nothing(
    backend, botocore_events, api, session, dynamodb, table, reasons, status, message, key
):
    reasons = [{"Code": "None", **reason} for reason in reasons] + ([{"Code": "None"}] if key else [])
    before = scan_items(dynamodb, table)
    intercept_sends(
        botocore_events,
        "TransactWriteItems",
        lambda: http_error("TransactionCanceledException", CancellationReasons=reasons),
    )
    response = review(
        api, session["id"], {"word_id": 1, "correct": True}, {**TUTOR, **({"Idempotency-Key": key} if key else {})}
    )
    assert response.status_code == status
    assert json.loads(response.body)["error"].startswith(message.format(session=session["id"]))
    assert ("Retry-After" in response.headers) == (status in (409, 503))
    assert "injected" not in response.body.decode()
    assert scan_items(dynamodb, table) == before


def test_a_key_taken_by_a_concurrent_repeat_answers_the_repeats_reviews(
    backend, botocore_events, api, session, dynamodb, table
):
    headers = {**TUTOR, "Idempotency-Key": "raced"}
    taken: list[dict[str, Any]] = []  # the record, once the first request has written it

    def cancel_the_second(request: Any, **_: Any) -> Any:
        if not taken:
            return None
        request.url = "https://fault-injected.invalid/"
        return http_error(
            "TransactionCanceledException",
            CancellationReasons=[
                {"Code": "None"},
                {"Code": "None"},
                {"Code": "None"},
                {"Code": "ConditionalCheckFailed", "Item": taken[0]},
            ],
        )

    botocore_events.register_first("before-send.dynamodb.TransactWriteItems", cancel_the_second)
    first = review(api, session["id"], {"word_id": 1, "correct": True}, headers)
    [record] = [item for item in scan_items(dynamodb, table) if item["PK"].startswith("IDEMPOTENCY#")]
    key = {"PK": {"S": record["PK"]}, "SK": {"S": "REVIEW"}}
    taken.append(dynamodb.get_item(TableName=table, Key=key)["Item"])
    # As if the repeat's read came before the first's write: it sees no record, and its transaction finds it taken.
    dynamodb.delete_item(TableName=table, Key=key)
    before = scan_items(dynamodb, table)
    again = review(api, session["id"], {"word_id": 1, "correct": True}, headers)
    assert again.status_code == 201 and again.body == first.body
    assert scan_items(dynamodb, table) == before


def test_a_review_retried_after_a_conflict_is_logged_at_the_retrys_time(seeded, dynamodb, table):
    ticks = iter([datetime(2026, 11, 27, 12, 0, second, tzinfo=UTC) for second in range(10)])
    repository = StudyRepository(client=dynamodb, table_name=table, now=lambda: next(ticks))
    session = seeded.create_session(group_id=1, study_activity_id=1)
    conflicts = intercept_sends(
        dynamodb.meta.events,
        "TransactWriteItems",
        lambda: transaction_cancelled("TransactionConflict", "None", "None"),
        times=1,
    )
    [logged] = repository.log_reviews(session_id=session["id"], reviews=[(1, True)])
    assert len(conflicts) == 1 and logged["created_at"] == "2026-11-27T12:00:01.000+00:00"
    assert seeded.get_session(session_id=session["id"])["end_time"] == logged["created_at"]


def test_a_cancellation_without_reasons_is_a_500_and_writes_nothing(
    backend, botocore_events, api, session, dynamodb, table
):
    before = scan_items(dynamodb, table)
    intercept_sends(
        botocore_events,
        "TransactWriteItems",
        lambda: http_error("TransactionCanceledException", CancellationReasons=[]),
    )
    response = review(api, session["id"], {"word_id": 1, "correct": True})
    assert response.status_code == 500 and json.loads(response.body)["error"] == "Internal server error"
    assert scan_items(dynamodb, table) == before

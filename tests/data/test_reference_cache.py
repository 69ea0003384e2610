"""The reference cache: a warm create or review is one DynamoDB request, warm single reads one GetItem; what a cached
name may show, for how long; and that the checks it skips are made by the write itself. On moto and ministack."""

import json
from typing import Any

import pytest

from chalicelib.cache import ReferenceCache
from chalicelib.store import StudyRepository
from tests.support.dynamodb import items_by_key, scan_items
from tests.support.portal import TUTOR, VALID, headers_with_key, review


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cached(seeded: StudyRepository, dynamodb: Any, table: str, clock: Clock) -> StudyRepository:
    """A repository over the seeded table whose reference cache runs on the test's clock."""
    return StudyRepository(client=dynamodb, table_name=table, cache=ReferenceCache(seconds=60, clock=clock))


def created(api: Any, body: dict[str, Any] = VALID, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = api.post(
        "/study_sessions", body=json.dumps(body).encode(), headers=headers or {"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def test_a_value_is_kept_for_the_cache_lifetime_and_not_a_moment_longer(clock):
    cache = ReferenceCache(seconds=60, clock=clock)
    cache.put(("group", 1), "Core Verbs")
    clock.seconds += 59.9
    assert cache.get(("group", 1)) == "Core Verbs"
    clock.seconds += 0.1
    assert cache.get(("group", 1)) is None


def test_a_full_cache_lets_go_of_what_was_stored_longest_ago(clock):
    cache = ReferenceCache(seconds=60, entries=2, clock=clock)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # stored again: now the newest
    cache.put("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 4)


def test_a_warm_create_is_one_transaction(api, dynamodb_calls, stored_sessions):
    first, second = created(api), created(api)
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]
    assert sorted(item["id"] for item in stored_sessions()) == sorted([first["id"], second["id"]])
    assert (second["group_name"], second["activity_name"]) == (first["group_name"], first["activity_name"])


def test_the_create_after_the_launch_page_reads_only_once_and_the_next_one_not_at_all(api, dynamodb_calls):
    assert api.get("/api/study-activities/1", headers={}).status_code == 200
    assert api.get("/api/study-activities/1/launch", headers={}).status_code == 200
    created(api)
    created(api)
    # The lists' heads are read with the group and activity once, then kept as the transactions wrote them.
    assert dynamodb_calls == ["GetItem", "Query", "BatchGetItem", "TransactWriteItems", "TransactWriteItems"]


def test_a_warm_keyed_create_is_one_transaction_and_so_is_its_repeat(api, dynamodb_calls, dynamodb, table):
    created(api)
    dynamodb_calls.clear()
    first = created(api, headers=headers_with_key("order-99"))
    again = created(api, headers=headers_with_key("order-99"))
    assert first == again
    assert dynamodb_calls == ["TransactWriteItems", "TransactWriteItems"]
    items = scan_items(dynamodb, table)
    assert [item["id"] for item in items if item["PK"] == f"SESSION#{first['id']}"] == [first["id"]]
    assert len([item for item in items if item["PK"].startswith("IDEMPOTENCY#")]) == 1


def test_a_name_changed_by_another_process_is_at_most_the_cache_lifetime_old(cached, seeded, clock, dynamodb, table):
    assert cached.create_session(group_id=1, study_activity_id=1)["group_name"] == "Core Verbs"
    seeded.put_group(group_id=1, name="Verbs", words=[])  # an import, say
    clock.seconds += 59
    stale = cached.create_session(group_id=1, study_activity_id=1)
    clock.seconds += 1
    fresh = cached.create_session(group_id=1, study_activity_id=1)
    names = {
        item["id"]: item["group_name"] for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")
    }
    assert (names[stale["id"]], names[fresh["id"]]) == ("Core Verbs", "Verbs")


def test_a_group_deleted_within_the_cache_lifetime_still_gets_sessions_until_it_ends(cached, clock, dynamodb, table):
    cached.create_session(group_id=2, study_activity_id=1)
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": "GROUP#2"}, "SK": {"S": "META"}})
    orphan = cached.create_session(group_id=2, study_activity_id=1)
    assert {"PK": f"SESSION#{orphan['id']}", "group_id": 2, "group_name": orphan["group_name"]}.items() <= next(
        item for item in scan_items(dynamodb, table) if item["PK"] == f"SESSION#{orphan['id']}"
    ).items()
    clock.seconds += 60
    with pytest.raises(Exception, match="Group 2 not found"):
        cached.create_session(group_id=2, study_activity_id=1)


def test_a_group_not_found_is_not_cached(cached, seeded):
    with pytest.raises(Exception, match="Group 3 not found"):
        cached.create_session(group_id=3, study_activity_id=1)
    seeded.put_group(group_id=3, name="New", words=[])
    assert cached.create_session(group_id=3, study_activity_id=1)["group_name"] == "New"


def test_a_change_this_process_makes_shows_at_once(cached, dynamodb):
    cached.create_session(group_id=1, study_activity_id=1)
    cached.put_group(group_id=1, name="Verbs", words=[])
    cached.put_study_activity(study_activity_id=1, name="Tutor", url="http://localhost:8080", preview_url="/p.png")
    calls = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    session = cached.create_session(group_id=1, study_activity_id=1)
    assert (session["group_name"], session["activity_name"], calls) == ("Verbs", "Tutor", ["TransactWriteItems"])


def test_a_review_of_a_session_this_process_knows_is_one_transaction(api, dynamodb_calls, dynamodb, table):
    session = created(api)
    assert review(api, session["id"], {"word_id": 2, "correct": True}).status_code == 201
    assert review(api, session["id"], {"word_id": 3, "correct": False}).status_code == 201
    assert dynamodb_calls == ["BatchGetItem", "TransactWriteItems", "TransactWriteItems", "TransactWriteItems"]
    meta = items_by_key(dynamodb, table)[(f"SESSION#{session['id']}", "META")]
    assert (meta["review_items_count"], meta["correct#2"], meta["wrong#3"]) == (2, 1, 1)


@pytest.mark.parametrize(
    "body, status, error, calls",
    [
        (
            {"word_id": 101, "correct": True},
            422,
            "Word 101 is not in group 1, the study session's group",
            ["TransactWriteItems"],
        ),
        # DynamoDB's reason carries no item for a word that does not exist: only then is the word read, to be sure.
        ({"word_id": 999, "correct": True}, 404, "Word 999 not found", ["TransactWriteItems", "BatchGetItem"]),
        (
            {"reviews": [{"word_id": 1, "is_correct": True}, {"word_id": 101, "is_correct": True}]},
            422,
            "Word 101 is not in group 1, the study session's group",
            ["TransactWriteItems"],
        ),
    ],
)
def test_a_warm_review_of_a_word_outside_the_group_is_refused_by_the_write_itself(
    api, dynamodb_calls, dynamodb, table, body, status, error, calls
):
    session = created(api)
    before = items_by_key(dynamodb, table)
    dynamodb_calls.clear()
    response = review(api, session["id"], body)
    assert (response.status_code, json.loads(response.body)) == (status, {"error": error})
    assert dynamodb_calls == calls
    assert items_by_key(dynamodb, table) == before


def test_a_warm_review_of_a_session_deleted_since_is_404_and_writes_nothing(api, dynamodb, table):
    session = created(api)
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": f"SESSION#{session['id']}"}, "SK": {"S": "META"}})
    before = items_by_key(dynamodb, table)
    response = review(api, session["id"], {"word_id": 1, "correct": True})
    assert (response.status_code, json.loads(response.body)) == (
        404,
        {"error": f"Study session {session['id']} not found"},
    )
    assert items_by_key(dynamodb, table) == before


def test_a_warm_keyed_review_repeat_is_one_transaction_and_logs_once(api, dynamodb_calls, dynamodb, table):
    session = created(api)
    dynamodb_calls.clear()
    headers = {**TUTOR, "Idempotency-Key": "review-5"}
    first = review(api, session["id"], {"word_id": 1, "correct": True}, headers)
    again = review(api, session["id"], {"word_id": 1, "correct": True}, headers)
    assert (first.status_code, again.status_code, first.body) == (201, 201, again.body)
    assert dynamodb_calls == ["TransactWriteItems", "TransactWriteItems"]
    assert items_by_key(dynamodb, table)[(f"SESSION#{session['id']}", "META")]["review_items_count"] == 1


def test_warm_single_item_pages_are_one_get_item(api, dynamodb_calls):
    session = created(api)
    assert (
        review(api, session["id"], {"reviews": [{"word_id": w, "is_correct": True} for w in (1, 2)]}).status_code == 201
    )
    assert api.get("/groups/1/words/raw", headers={}).status_code == 200  # the Typing Tutor's words: their text
    dynamodb_calls.clear()
    page = api.get(f"/api/study-sessions/{session['id']}", headers={})
    word = api.get("/words/1", headers={})
    assert [w["kanji"] for w in json.loads(page.body)["words"]] == ["食べる", "飲む"]
    assert json.loads(word.body)["word"]["groups"] == [{"id": 1, "name": "Core Verbs"}]
    assert dynamodb_calls == ["GetItem", "GetItem"]


def test_a_cold_session_page_reads_the_words_it_lacks(api, seeded, dynamodb_calls):
    session = seeded.create_session(group_id=1, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(3, True)])
    page = json.loads(api.get(f"/api/study-sessions/{session['id']}", headers={}).body)
    assert [(w["id"], w["kanji"], w["correct_count"]) for w in page["words"]] == [(3, "行く", 1)]
    assert dynamodb_calls == ["GetItem", "BatchGetItem"]

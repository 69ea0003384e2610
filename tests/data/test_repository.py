"""The repository and the key design, on moto and on ministack."""

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.store import StudyRepository
from chalicelib.store.errors import GroupNotFoundError, SessionIdCollisionError, StudyActivityNotFoundError
from chalicelib.store.mapping import session_from_item
from chalicelib.store.table import ALL_SESSIONS_INDEX, GROUP_SESSIONS_INDEX
from scripts.seed_data import load_seed
from tests.support.dynamodb import scan_items


def ticking_clock(start: datetime = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)):
    """A clock that moves one second per reading."""
    counter = itertools.count()
    return lambda: start + timedelta(seconds=next(counter))


def test_create_session_returns_plain_ints_and_no_storage_keys(seeded):
    session = seeded.create_session(group_id=1, study_activity_id=1)
    assert set(session) == {
        "id",
        "group_id",
        "group_name",
        "study_activity_id",
        "activity_name",
        "created_at",
        "end_time",
        "review_items_count",
        "correct_count",
        "wrong_count",
    }
    assert all(
        type(session[key]) is int
        for key in ("id", "group_id", "study_activity_id", "review_items_count", "correct_count", "wrong_count")
    )


def test_create_session_never_overwrites_a_session_whose_id_is_drawn_again(dynamodb, table, stored_sessions):
    repository = StudyRepository(client=dynamodb, table_name=table, new_id=lambda: 42)
    load_seed(repository)
    repository.create_session(group_id=1, study_activity_id=1)
    with pytest.raises(SessionIdCollisionError):
        repository.create_session(group_id=2, study_activity_id=1)
    [stored] = stored_sessions()
    assert (stored["id"], stored["group_id"]) == (42, 1)


@pytest.mark.parametrize(
    "group_id, study_activity_id, error",
    [
        (999, 1, GroupNotFoundError),
        (1, 999, StudyActivityNotFoundError),
        (999, 999, GroupNotFoundError),
    ],
)
def test_create_session_for_a_missing_item_raises_and_writes_nothing(
    seeded, stored_sessions, group_id, study_activity_id, error
):
    with pytest.raises(error):
        seeded.create_session(group_id=group_id, study_activity_id=study_activity_id)
    assert stored_sessions() == []


def test_a_groups_sessions_are_numbered_in_the_group_index_newest_last(dynamodb, table, seeded):
    repository = StudyRepository(client=dynamodb, table_name=table, now=ticking_clock())
    made = [repository.create_session(group_id=group_id, study_activity_id=1) for group_id in (1, 2, 1, 1)]
    response = dynamodb.query(
        TableName=table,
        IndexName=GROUP_SESSIONS_INDEX,
        ScanIndexForward=False,
        KeyConditionExpression="GSI1PK = :block",
        ExpressionAttributeValues={":block": {"S": "GROUP#1#0"}},
    )
    found = [(int(item["id"]["N"]), item["GSI1SK"]["S"]) for item in response["Items"]]
    assert found == [(made[3]["id"], "000000000003"), (made[2]["id"], "000000000002"), (made[0]["id"], "000000000001")]
    heads = {item["SK"]: item for item in scan_items(dynamodb, table) if item["PK"] == "COUNTERS"}
    assert {name: head["count"] for name, head in heads.items()} == {
        "ALL": 4,
        "GROUP#1": 3,
        "GROUP#2": 1,
        "ACTIVITY#1": 4,
    }


def test_all_sessions_are_numbered_in_the_all_sessions_index_in_creation_order(dynamodb, table, seeded):
    repository = StudyRepository(client=dynamodb, table_name=table, now=ticking_clock())
    made = [repository.create_session(group_id=group_id, study_activity_id=1) for group_id in (1, 2, 1)]
    response = dynamodb.query(
        TableName=table,
        IndexName=ALL_SESSIONS_INDEX,
        ScanIndexForward=False,
        KeyConditionExpression="GSI2PK = :block",
        ExpressionAttributeValues={":block": {"S": "SESSIONS#0"}},
    )
    assert [int(item["id"]["N"]) for item in response["Items"]] == [session["id"] for session in reversed(made)]
    assert [int(item["ordinal"]["N"]) for item in response["Items"]] == [3, 2, 1]


def test_session_timestamps_sort_as_strings_in_time_order(seeded):
    repository = StudyRepository(
        client=seeded.client,
        table_name=seeded.table_name,
        now=ticking_clock(datetime(2026, 11, 27, 9, 59, 59, 999000, tzinfo=UTC)),
    )
    first, second = (repository.create_session(group_id=1, study_activity_id=1) for _ in range(2))
    assert first["created_at"] == "2026-11-27T09:59:59.999+00:00"
    assert second["created_at"] == "2026-11-27T10:00:00.999+00:00"
    assert len(first["created_at"]) == len(second["created_at"]) and first["created_at"] < second["created_at"]


def test_session_from_item_maps_a_stored_item_to_plain_ints_without_keys(seeded, stored_sessions):
    created = seeded.create_session(group_id=1, study_activity_id=1)
    [stored] = stored_sessions()  # as DynamoDB hands it back: numbers are Decimal
    assert session_from_item(stored) == created
    assert all(type(value) in (int, str) for value in session_from_item(stored).values())


# moto's in-memory backend is not thread-safe; concurrency is a question for a real server.
@pytest.mark.parametrize("backend", ["ministack"], indirect=True)
def test_concurrent_creates_each_store_one_session_with_a_distinct_id(seeded, stored_sessions):
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda n: seeded.create_session(group_id=1 + n % 2, study_activity_id=1), range(40)))
    assert len({session["id"] for session in made}) == 40
    assert sorted(item["id"] for item in stored_sessions()) == sorted(session["id"] for session in made)

"""The Word Groups, Group, Words and Word pages: sorting by every column, paging, counts kept in one place, 404s and
400s; on moto and ministack."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.store import StudyRepository
from scripts.seed_data import GROUPS
from tests.support.portal import PORTAL_ORIGIN

WORD_FIELDS = {"id", "kanji", "romaji", "english", "correct_count", "wrong_count"}


def get(api: Any, path: str) -> tuple[int, Any]:
    response = api.get(path, headers={"Origin": PORTAL_ORIGIN})
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers.get("Access-Control-Allow-Origin") == PORTAL_ORIGIN
    return response.status_code, json.loads(response.body)


def word(word_id: int, kanji: str, romaji: str, english: str) -> dict[str, Any]:
    return {
        "id": word_id,
        "kanji": kanji,
        "romaji": romaji,
        "english": english,
        "parts": [{"kanji": kanji, "romaji": [romaji]}],
    }


def timed(repository: StudyRepository, moment: datetime) -> StudyRepository:
    """The same table through a repository whose clock says `moment`."""
    return StudyRepository(client=repository.client, table_name=repository.table_name, now=lambda: moment)


def test_the_word_groups_page_sorts_by_name_or_word_count_ten_a_page(api, seeded):
    for group_id in range(3, 14):  # 11 more groups: "Group 03" .. "Group 13", group n with n - 2 words
        seeded.put_group(
            group_id=group_id,
            name=f"Group {group_id:02d}",
            words=[word(1000 + n, f"語{n}", f"go{n}", f"word {n}") for n in range(group_id - 2)],
        )
    status, first = get(api, "/groups")
    assert status == 200 and (first["total_pages"], first["current_page"]) == (2, 1)
    assert first["groups"][:3] == [
        {"id": 2, "group_name": "Core Adjectives", "word_count": 5},
        {"id": 1, "group_name": "Core Verbs", "word_count": 6},
        {"id": 3, "group_name": "Group 03", "word_count": 1},
    ]
    assert [group["id"] for group in first["groups"]] == [2, 1, 3, 4, 5, 6, 7, 8, 9, 10]
    _, second = get(api, "/groups?page=2&sort_by=name&order=asc")
    assert [group["id"] for group in second["groups"]] == [11, 12, 13] and second["current_page"] == 2
    _, biggest = get(api, "/groups?sort_by=words_count&order=desc")
    counts = [group["word_count"] for group in biggest["groups"]]
    assert counts == [11, 10, 9, 8, 7, 6, 6, 5, 5, 4]
    # equal counts keep id order, as the ids break ties: 1 (6 words) before 8, 2 (5 words) before 7
    assert [group["id"] for group in biggest["groups"]][5:9] == [1, 8, 2, 7]
    _, smallest = get(api, "/groups?sort_by=words_count")
    assert [group["word_count"] for group in smallest["groups"]][:3] == [1, 2, 3]


@pytest.mark.parametrize("query", ["sort_by=id", "sort_by=name%3Bdrop", "order=sideways", "sort_by=&order="])
def test_unknown_sorts_fall_back_to_the_defaults(api, seeded, query):
    assert get(api, f"/groups?{query}") == get(api, "/groups")
    assert get(api, f"/groups/1/words?{query}") == get(api, "/groups/1/words?sort_by=kanji&order=asc")
    assert get(api, f"/words?{query}") == get(api, "/words?sort_by=kanji&order=asc")


def test_a_page_past_the_end_is_an_empty_list(api, seeded):
    assert get(api, "/groups?page=9") == (200, {"groups": [], "total_pages": 1, "current_page": 9})
    assert get(api, "/groups/1/words?page=9") == (200, {"words": [], "total_pages": 1, "current_page": 9})
    assert get(api, "/words?page=9") == (200, {"words": [], "total_pages": 1, "current_page": 9, "total_words": 11})


def test_the_group_page_gets_the_group(api, seeded):
    assert get(api, "/groups/2") == (200, {"id": 2, "group_name": "Core Adjectives", "word_count": 5})


def test_the_group_page_sorts_its_words_by_every_column_with_all_time_counts(api, seeded):
    session = seeded.create_session(group_id=1, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(1, True), (1, True), (2, False), (6, True), (6, False)])
    _, by_kanji = get(api, "/groups/1/words")
    # 書く 来る 行く 見る 食べる 飲む: code point order, as SQLite's default collation sorts
    assert [w["id"] for w in by_kanji["words"]] == [6, 4, 3, 5, 1, 2]
    assert set(by_kanji["words"][0]) == WORD_FIELDS and (by_kanji["total_pages"], by_kanji["current_page"]) == (1, 1)
    assert [w["romaji"] for w in get(api, "/groups/1/words?sort_by=romaji&order=desc")[1]["words"]] == [
        "taberu",
        "nomu",
        "miru",
        "kuru",
        "kaku",
        "iku",
    ]
    assert [w["english"] for w in get(api, "/groups/1/words?sort_by=english")[1]["words"]][:2] == [
        "to come",
        "to drink",
    ]
    _, by_correct = get(api, "/groups/1/words?sort_by=correct_count&order=desc")
    assert [(w["id"], w["correct_count"], w["wrong_count"]) for w in by_correct["words"][:3]] == [
        (1, 2, 0),
        (6, 1, 1),
        (2, 0, 1),
    ]
    _, by_wrong = get(api, "/groups/1/words?sort_by=wrong_count&order=desc")
    assert [w["id"] for w in by_wrong["words"]] == [2, 6, 1, 3, 4, 5]


def test_a_big_groups_words_come_ten_a_page_each_with_its_own_counts(api, seeded):
    words = [word(500 + n, f"字{n:02d}", f"ji{n:02d}", f"letter {n:02d}") for n in range(23)]
    seeded.put_group(group_id=7, name="Letters", words=words)
    session = seeded.create_session(group_id=7, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(515, True), (515, True), (522, False)])
    pages = [get(api, f"/groups/7/words?page={page}")[1] for page in (1, 2, 3)]
    assert [page["total_pages"] for page in pages] == [3, 3, 3]
    assert [w["id"] for page in pages for w in page["words"]] == list(range(500, 523))
    counted = {w["id"]: (w["correct_count"], w["wrong_count"]) for page in pages for w in page["words"]}
    assert counted[515] == (2, 0) and counted[522] == (0, 1) and counted[500] == (0, 0)
    _, top = get(api, "/groups/7/words?sort_by=correct_count&order=desc&page=1")
    assert top["words"][0]["id"] == 515


def test_a_group_of_more_than_a_hundred_words_sorts_by_a_count_from_the_vocabulary(api, seeded):
    seeded.put_group(
        group_id=8, name="Hundred", words=[word(700 + n, f"百{n:03d}", f"hyaku{n}", f"h{n}") for n in range(101)]
    )
    session = seeded.create_session(group_id=8, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(780, False), (780, False), (703, False), (799, True)])
    _, body = get(api, "/groups/8/words?sort_by=wrong_count&order=desc&page=1")
    assert [(w["id"], w["wrong_count"]) for w in body["words"][:3]] == [(780, 2), (703, 1), (700, 0)]
    assert body["total_pages"] == 11 and set(body["words"][0]) == WORD_FIELDS
    _, last = get(api, "/groups/8/words?sort_by=correct_count&page=11")
    assert [(w["id"], w["correct_count"]) for w in last["words"]] == [(799, 1)]


def test_a_word_in_two_groups_is_stored_once_and_shows_the_same_counts_on_each(api, seeded, dynamodb, table):
    seeded.put_group(group_id=3, name="Favourites", words=[GROUPS[0]["words"][0]])
    session = seeded.create_session(group_id=3, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(1, True), (1, False), (1, True)])
    in_verbs = next(w for w in get(api, "/groups/1/words")[1]["words"] if w["id"] == 1)
    in_favourites = get(api, "/groups/3/words")[1]["words"]
    assert in_favourites == [in_verbs] and (in_verbs["correct_count"], in_verbs["wrong_count"]) == (2, 1)
    status, body = get(api, "/words/1")
    assert status == 200
    assert body == {
        "word": {
            "id": 1,
            "kanji": "食べる",
            "romaji": "taberu",
            "english": "to eat",
            "correct_count": 2,
            "wrong_count": 1,
            "groups": [{"id": 1, "name": "Core Verbs"}, {"id": 3, "name": "Favourites"}],
        }
    }
    stored = dynamodb.query(
        TableName=table, KeyConditionExpression="PK = :word", ExpressionAttributeValues={":word": {"S": "WORD#1"}}
    )["Items"]
    assert len(stored) == 1 and stored[0]["correct_count"] == {"N": "2"}  # one item holds the counts


def test_the_words_page_lists_the_whole_vocabulary_fifty_a_page(api, seeded):
    seeded.put_group(
        group_id=3, name="Many", words=[word(2000 + n, f"語{n:03d}", f"go{n:03d}", f"w{n:03d}") for n in range(60)]
    )
    session = seeded.create_session(group_id=2, study_activity_id=1)
    seeded.log_reviews(session_id=session["id"], reviews=[(104, False), (104, False), (101, True)])
    status, first = get(api, "/words")
    assert status == 200 and (first["total_words"], first["total_pages"], first["current_page"]) == (71, 2, 1)
    assert len(first["words"]) == 50 and set(first["words"][0]) == WORD_FIELDS
    _, second = get(api, "/words?page=2")
    kanji = [w["kanji"] for w in first["words"] + second["words"]]
    assert kanji == sorted(kanji) and len(set(kanji)) == 71
    _, by_wrong = get(api, "/words?sort_by=wrong_count&order=desc")
    assert (by_wrong["words"][0]["id"], by_wrong["words"][0]["wrong_count"]) == (104, 2)
    _, by_english = get(api, "/words?sort_by=english&order=asc")
    assert by_english["words"][0]["english"] == "big"


def test_the_groups_sessions_are_newest_first_and_sort_by_each_column(api, seeded):
    start = datetime(2026, 5, 1, 9, tzinfo=UTC)
    sessions = [
        timed(seeded, start + timedelta(hours=hour)).create_session(group_id=1, study_activity_id=1)
        for hour in range(12)
    ]
    timed(seeded, start + timedelta(days=1)).log_reviews(session_id=sessions[3]["id"], reviews=[(1, True)] * 3)
    timed(seeded, start + timedelta(days=2)).log_reviews(session_id=sessions[7]["id"], reviews=[(2, True)])
    seeded.create_session(group_id=2, study_activity_id=1)  # another group's: not listed
    status, newest = get(api, "/groups/1/study_sessions")
    assert status == 200 and (newest["total_pages"], newest["current_page"]) == (2, 1)
    assert [s["id"] for s in newest["study_sessions"]] == [s["id"] for s in reversed(sessions)][:10]
    listed = newest["study_sessions"][0]
    assert {
        "id",
        "group_id",
        "group_name",
        "activity_id",
        "activity_name",
        "start_time",
        "end_time",
        "review_items_count",
    } <= set(listed) and listed["group_name"] == "Core Verbs"
    _, oldest = get(api, "/groups/1/study_sessions?sort_by=startTime&order=asc&page=2")
    assert [s["id"] for s in oldest["study_sessions"]] == [sessions[10]["id"], sessions[11]["id"]]
    _, by_count = get(api, "/groups/1/study_sessions?sort_by=reviewItemsCount&order=desc")
    assert [(s["id"], s["review_items_count"]) for s in by_count["study_sessions"][:2]] == [
        (sessions[3]["id"], 3),
        (sessions[7]["id"], 1),
    ]
    _, by_end = get(api, "/groups/1/study_sessions?sort_by=endTime")  # order defaults to newest first
    assert [s["id"] for s in by_end["study_sessions"][:2]] == [sessions[7]["id"], sessions[3]["id"]]
    _, by_activity = get(api, "/groups/1/study_sessions?sort_by=activityName&order=sideways")
    assert len(by_activity["study_sessions"]) == 10


def test_a_group_without_sessions_lists_none(api, seeded):
    assert get(api, "/groups/2/study_sessions") == (200, {"study_sessions": [], "total_pages": 0, "current_page": 1})


@pytest.mark.parametrize(
    "path, message",
    [
        ("/groups/7", "Group 7 not found"),
        ("/groups/7/words", "Group 7 not found"),
        ("/groups/7/study_sessions", "Group 7 not found"),
        ("/words/7", "Word 7 not found"),
    ],
)
def test_unknown_ids_are_404_naming_what_is_missing(api, path, message):
    assert get(api, path) == (404, {"error": message})


@pytest.mark.parametrize(
    "path",
    [
        "/groups?page=0",
        "/groups?page=x",
        "/groups/x",
        "/groups/01/words",
        "/groups/1/words?page=-1",
        "/groups/-1/study_sessions",
        "/groups/1/study_sessions?page=1.5",
        "/words?page=",
        "/words?page=99999999999999999999",
        "/words/abc",
        "/words/" + "9" * 17,
    ],
)
def test_malformed_ids_and_pages_are_400_before_any_dynamodb_request(bare_api, path):
    status, body = get(bare_api, path)
    assert status == 400 and set(body) == {"error"}

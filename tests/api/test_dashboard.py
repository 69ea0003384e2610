"""The Dashboard page: the newest session and the study figures, checked against a history the test builds through
an injected clock; and that they never read a review. On moto and ministack."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.store import StudyRepository
from tests.support.portal import PORTAL_ORIGIN

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def at(repository: StudyRepository, moment: datetime) -> StudyRepository:
    """The same table through a repository whose clock says `moment`."""
    return StudyRepository(client=repository.client, table_name=repository.table_name, now=lambda: moment)


def get(api: Any, path: str) -> tuple[int, Any]:
    response = api.get(path, headers={"Origin": PORTAL_ORIGIN})
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    return response.status_code, json.loads(response.body)


def utc(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def history(seeded: StudyRepository) -> dict[str, Any]:
    """Sessions on 10, 9 (a second before midnight UTC), 8 and 6 March, on 8 February (30 days before 10 March)
    and 7 February (31 days); word 1 reviewed 5 times, 4 correctly (mastered, at exactly 80%), word 2 5 times at
    60%, word 3 4 times all correct (too few to be mastered), word 101 10 times at 80%."""
    for group_id, word_id in ((3, 900), (4, 901)):
        seeded.put_group(
            group_id=group_id,
            name=f"Group {group_id}",
            words=[
                {
                    "id": word_id,
                    "kanji": "字",
                    "romaji": "ji",
                    "english": "letter",
                    "parts": [{"kanji": "字", "romaji": ["ji"]}],
                }
            ],
        )
    plan = [
        (utc(2, 7), 4),
        (utc(2, 8, 0, 0, 1), 3),
        (utc(3, 6), 1),
        (utc(3, 8), 1),
        (utc(3, 9, 23, 59, 59), 2),
        (utc(3, 10, 0, 0, 30), 1),
    ]
    sessions = [at(seeded, moment).create_session(group_id=group_id, study_activity_id=1) for moment, group_id in plan]
    newest, adjectives, older = sessions[5], sessions[4], sessions[3]
    at(seeded, utc(3, 10, 0, 5)).log_reviews(session_id=newest["id"], reviews=[(1, True)] * 4 + [(1, False)])
    at(seeded, utc(3, 8, 12, 5)).log_reviews(session_id=older["id"], reviews=[(2, True)] * 3 + [(2, False)] * 2)
    at(seeded, utc(3, 8, 12, 6)).log_reviews(session_id=older["id"], reviews=[(3, True)] * 4)
    at(seeded, utc(3, 9, 23, 59, 59)).log_reviews(
        session_id=adjectives["id"], reviews=[(101, True)] * 8 + [(101, False)] * 2
    )
    return {"sessions": sessions, "newest": newest}


def test_the_figures_follow_their_definitions(history, seeded):
    assert at(seeded, NOW).get_study_stats() == {
        "total_vocabulary": 13,
        "total_words_studied": 4,
        "mastered_words": 2,  # words 1 and 101
        "success_rate": 19 / 24,
        "total_sessions": 6,
        "active_groups": 3,  # groups 1, 2 and 3 (8 February is 30 days back); not 4 (7 February)
        "current_streak": 3,  # 8, 9 and 10 March; 7 March had none
    }


@pytest.mark.parametrize(
    "moment, streak",
    [
        (utc(3, 10, 23, 59, 59), 3),  # today counts
        (utc(3, 11, 0, 0, 1), 3),  # the streak may end yesterday
        (utc(3, 12, 0, 0, 1), 0),  # two days without a session end it
    ],
)
def test_the_streak_counts_utc_calendar_days_ending_today_or_yesterday(history, seeded, moment, streak):
    assert at(seeded, moment).get_study_stats()["current_streak"] == streak


def test_active_groups_counts_the_last_thirty_days_by_calendar_day(history, seeded):
    assert at(seeded, utc(3, 9, 23, 59, 59)).get_study_stats()["active_groups"] == 4  # 7 February is 30 days back
    assert at(seeded, utc(3, 10, 0, 0, 0)).get_study_stats()["active_groups"] == 3
    assert at(seeded, utc(3, 11, 0, 0, 0)).get_study_stats()["active_groups"] == 2  # 8 February is 31 days back


def test_the_dashboard_answers_the_newest_session_and_the_figures(api, history):
    status, recent = get(api, "/dashboard/recent-session")
    newest = history["newest"]
    assert (status, recent) == (
        200,
        {
            "id": newest["id"],
            "group_id": 1,
            "activity_name": "Typing Tutor",
            "created_at": newest["created_at"],
            "correct_count": 4,
            "wrong_count": 1,
        },
    )
    status, stats = get(api, "/dashboard/stats")
    # The app's clock is today's: the history's sessions are months old, so no active group and no streak.
    assert status == 200 and stats == {
        "total_vocabulary": 13,
        "total_words_studied": 4,
        "mastered_words": 2,
        "success_rate": 19 / 24,
        "total_sessions": 6,
        "active_groups": 0,
        "current_streak": 0,
    }


def test_with_no_history_the_recent_session_is_null_and_every_figure_zero(api):
    response = api.get("/dashboard/recent-session", headers={"Origin": PORTAL_ORIGIN})
    assert (response.status_code, response.body) == (200, b"null")
    assert get(api, "/dashboard/stats") == (
        200,
        {
            "total_vocabulary": 11,
            "total_words_studied": 0,
            "mastered_words": 0,
            "success_rate": 0,
            "total_sessions": 0,
            "active_groups": 0,
            "current_streak": 0,
        },
    )


def test_the_dashboard_reads_the_words_the_lists_heads_and_one_session_never_a_review(
    backend, botocore_events, api, history
):
    calls: list[tuple[str, dict[str, Any]]] = []
    botocore_events.register(
        "before-parameter-build.dynamodb", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    assert get(api, "/dashboard/stats")[0] == 200
    assert get(api, "/dashboard/recent-session")[0] == 200

    def partition(params: dict[str, Any]) -> str:
        if "Key" in params:
            return params["Key"]["PK"]["S"]
        return next(value["S"] for value in params["ExpressionAttributeValues"].values())

    read = [(name, params.get("IndexName"), partition(params)) for name, params in calls]
    assert read == [
        ("Query", "GSI2", "WORD"),  # the words' counts
        ("Query", None, "COUNTERS"),  # the lists' heads
        ("GetItem", None, "COUNTERS"),  # the head of all sessions
        ("Query", "GSI2", "SESSIONS#0"),  # its newest ordinal
    ]

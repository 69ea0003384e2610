"""The dashboard's arithmetic on its own: streaks kept in the lists' head, mastery, the active-groups window, the
success rate."""

from datetime import date, timedelta

import pytest

from chalicelib.store.ordinals import ALL, Head, after_session, current_streak, group_list
from chalicelib.store.stats import ACTIVE_GROUP_DAYS, active_groups, is_mastered, study_stats

TODAY = date(2026, 12, 4)


def days_ago(*offsets: int) -> set[date]:
    return {TODAY - timedelta(days=offset) for offset in offsets}


@pytest.mark.parametrize(
    "days, expected",
    [
        (set(), 0),
        (days_ago(0), 1),
        (days_ago(1), 1),  # yesterday still counts: today is not over
        (days_ago(0, 1, 2), 3),
        (days_ago(1, 2, 3), 3),
        (days_ago(0, 2, 3), 1),  # a gap ends it
        (days_ago(2, 3), 0),  # neither today nor yesterday
    ],
)
def test_the_streak_counts_consecutive_days_ending_today_or_yesterday(days, expected):
    head = Head(name=ALL)
    for day in sorted(days):  # sessions join the head oldest first, two a day
        for hour in (9, 18):
            head = after_session(head, created_at=f"{day.isoformat()}T{hour:02d}:00:00.000+00:00")
    assert current_streak(head, today=TODAY) == expected
    assert head.count == 2 * len(days)


def test_a_groups_head_keeps_the_day_of_its_newest_session():
    head = after_session(Head(name=group_list(3)), created_at="2026-12-01T23:59:59.999+00:00")
    head = after_session(head, created_at="2026-12-03T00:00:00.000+00:00")
    assert (head.count, head.last_day, head.run_start, head.newest) == (2, "2026-12-03", None, None)


@pytest.mark.parametrize(
    "correct, wrong, mastered",
    [
        (5, 0, True),
        (4, 1, True),  # exactly 80% counts
        (4, 0, False),  # too few reviews
        (8, 2, True),
        (7, 2, False),
        (3, 2, False),
        (0, 0, False),
    ],
)
def test_a_word_is_mastered_with_five_reviews_and_at_least_80_percent_correct(correct, wrong, mastered):
    assert is_mastered(correct, wrong) is mastered


@pytest.mark.parametrize(
    "offset, active",
    [(0, True), (ACTIVE_GROUP_DAYS, True), (ACTIVE_GROUP_DAYS + 1, False)],
)
def test_a_group_is_active_with_a_session_in_the_last_30_days_or_today(offset, active):
    assert active_groups([(TODAY - timedelta(days=offset)).isoformat()], today=TODAY) == int(active)


def test_study_stats_counts_words_and_takes_the_session_figures_as_given():
    stats = study_stats(word_counts=[(5, 0), (1, 3), (0, 0)], total_sessions=4, active_groups=2, current_streak=1)
    assert stats == {
        "total_vocabulary": 3,
        "total_words_studied": 2,
        "mastered_words": 1,
        "success_rate": 6 / 9,
        "total_sessions": 4,
        "active_groups": 2,
        "current_streak": 1,
    }


def test_study_stats_of_an_empty_history_are_zero():
    assert study_stats(word_counts=[], total_sessions=0, active_groups=0, current_streak=0) == {
        "total_vocabulary": 0,
        "total_words_studied": 0,
        "mastered_words": 0,
        "success_rate": 0,
        "total_sessions": 0,
        "active_groups": 0,
        "current_streak": 0,
    }

"""Dense ordinals on their own: which ordinals a page is, which block holds them, and the heads a create leaves."""

import pytest

from chalicelib.store.ordinals import (
    ALL,
    BLOCK_SIZE,
    Head,
    activity_list,
    after_session,
    block_partition,
    group_list,
    index_keys,
    numbering,
    page_range,
)


@pytest.mark.parametrize(
    "count, page, per_page, descending, expected",
    [
        (25, 1, 10, True, (16, 25)),  # newest first: the highest ordinals
        (25, 3, 10, True, (1, 5)),  # the last page holds what is left
        (25, 4, 10, True, None),  # past the end
        (25, 1, 10, False, (1, 10)),
        (25, 3, 10, False, (21, 25)),
        (0, 1, 10, True, None),
        (1, 1, 100, True, (1, 1)),
    ],
)
def test_a_page_is_a_range_of_ordinals(count, page, per_page, descending, expected):
    assert page_range(count, page=page, per_page=per_page, descending=descending) == expected


def test_pages_cover_every_ordinal_once_newest_first():
    count, per_page = 237, 10
    seen = []
    for page in range(1, 26):
        span = page_range(count, page=page, per_page=per_page)
        if span is not None:
            seen += list(range(span[1], span[0] - 1, -1))
    assert seen == list(range(count, 0, -1))


def test_a_block_holds_a_hundred_ordinals_and_each_list_has_its_own_index_partition():
    assert BLOCK_SIZE == 100
    assert [block_partition(ALL, ordinal) for ordinal in (1, 100, 101, 250)] == [
        "SESSIONS#0",
        "SESSIONS#0",
        "SESSIONS#1",
        "SESSIONS#2",
    ]
    assert index_keys(group_list(3), 1001) == {"GSI1PK": "GROUP#3#10", "GSI1SK": "000000001001", "group_ordinal": 1001}
    assert index_keys(activity_list(1), 7) == {
        "GSI3PK": "ACTIVITY#1#0",
        "GSI3SK": "000000000007",
        "activity_ordinal": 7,
    }


def test_a_new_session_takes_the_next_ordinal_of_each_list_and_remembers_the_heads_before_it():
    heads = (
        Head(name=ALL, count=41, last_day="2026-12-03", run_start="2026-12-01", newest="2026-12-03T08:00:00.000+00:00"),
        Head(name=group_list(2), count=9, last_day="2026-11-30"),
        Head(name=activity_list(1), count=40),
    )
    fields = numbering(heads, created_at="2026-12-04T09:00:00.000+00:00")
    assert (fields["ordinal"], fields["group_ordinal"], fields["activity_ordinal"]) == (42, 10, 41)
    assert (fields["prev_day"], fields["prev_run_start"], fields["prev_group_day"]) == (
        "2026-12-03",
        "2026-12-01",
        "2026-11-30",
    )
    after = after_session(heads[0], created_at="2026-12-04T09:00:00.000+00:00")
    assert (after.count, after.last_day, after.run_start) == (42, "2026-12-04", "2026-12-01")  # the run goes on
    gap = after_session(heads[0], created_at="2026-12-05T09:00:00.000+00:00")
    assert (gap.last_day, gap.run_start) == ("2026-12-05", "2026-12-05")  # a day without a session ends it


def test_the_first_session_has_no_heads_before_it():
    heads = (Head(name=ALL), Head(name=group_list(1)), Head(name=activity_list(1)))
    fields = numbering(heads, created_at="2026-12-04T09:00:00.000+00:00")
    assert fields["ordinal"] == 1 and not {"prev_day", "prev_run_start", "prev_newest", "prev_group_day"} & set(fields)

"""The oracle of the session lists and the dashboard: what every page should answer, computed the way the service
did before its lists became one page of reads (the whole history read, sorted and sliced), as pure functions of the
table's raw items (tests read them with a paginated Scan: tests.support.dynamodb.scan_items).

Items are picked by item_type ("session", "word", "group", "study_activity"), so items of other kinds (a list's
count, say) are ignored. Sessions are shaped by the service's own chalicelib.store.mapping.session_from_item and
chalicelib.presenters.present_session/present_recent_session, and sorted by mapping.sorted_by; the dashboard's
arithmetic is today's whole-list study_stats, copied here verbatim (with is_mastered and streak) because the service
may drop it. "Newest first" is created_at descending; two sessions with one created_at are out of scope (ties are
broken by id here, which is no promise of the service's)."""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, TypedDict

from chalicelib.presenters import present_recent_session, present_session
from chalicelib.store.mapping import Session, page_slice, session_from_item, sorted_by

GROUP_SESSIONS_PER_PAGE = 10
# The Group page's column keys and the fields they sort by (chalicelib/words_routes.py's SESSION_SORTS).
SESSION_SORTS = {
    "startTime": "created_at",
    "endTime": "end_time",
    "activityName": "activity_name",
    "groupName": "group_name",
    "reviewItemsCount": "review_items_count",
}
ORDERS = {"desc": True, "asc": False}

# --- today's dashboard arithmetic, verbatim (chalicelib/store/stats.py before the lists' rewrite) ---------------

ACTIVE_GROUP_DAYS = 30  # the dashboard's active_groups: groups with a session on this many past days or today
MASTERED_REVIEWS = 5  # a mastered word: reviewed at least 5 times, at least 4 in 5 (80%) correctly


class StudyStats(TypedDict):
    total_vocabulary: int
    total_words_studied: int
    mastered_words: int
    success_rate: float
    total_sessions: int
    active_groups: int
    current_streak: int


def is_mastered(correct: int, wrong: int) -> bool:
    """At least MASTERED_REVIEWS reviews and at least 80% correct, in integers so exactly 80% counts."""
    return correct + wrong >= MASTERED_REVIEWS and 5 * correct >= 4 * (correct + wrong)


def streak(days: set[date], *, today: date) -> int:
    """Consecutive days with a session, ending today or yesterday (0 when neither has one)."""
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count, day = count + 1, day - timedelta(days=1)
    return count


def study_stats(*, word_counts: list[tuple[int, int]], sessions: Iterable[tuple[date, Any]], today: date) -> StudyStats:
    """Every dashboard figure from each word's (correct, wrong) and each session's (UTC day, group id); a group id
    is read only for a session in the active-groups window."""
    sessions = list(sessions)
    correct, reviews = sum(c for c, _ in word_counts), sum(c + w for c, w in word_counts)
    first_active_day = today - timedelta(days=ACTIVE_GROUP_DAYS)
    return StudyStats(
        total_vocabulary=len(word_counts),
        total_words_studied=sum(1 for c, w in word_counts if c + w),
        mastered_words=sum(1 for c, w in word_counts if is_mastered(c, w)),
        success_rate=correct / reviews if reviews else 0,
        total_sessions=len(sessions),
        active_groups=len({int(group_id) for day, group_id in sessions if day >= first_active_day}),
        current_streak=streak({day for day, _ in sessions}, today=today),
    )


# --- the table's raw items ------------------------------------------------------------------------------------


def of_type(items: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [item for item in items if item.get("item_type") == item_type]


def ids_of(items: list[dict[str, Any]], item_type: str) -> list[int]:
    """The ids of every group or study activity, ascending."""
    return sorted(int(item["id"]) for item in of_type(items, item_type))


def newest_first(items: list[dict[str, Any]]) -> list[Session]:
    """Every session, newest first (by created_at descending; ties by id, out of scope)."""
    sessions = sorted((session_from_item(item) for item in of_type(items, "session")), key=lambda s: s["id"])
    return sorted(sessions, key=lambda session: session["created_at"], reverse=True)


def total_pages(total: int, per_page: int) -> int:
    return -(-total // per_page)


def envelope(sessions: list[Session], *, page: int, per_page: int) -> dict[str, Any]:
    """The page-number envelope over a whole list, as the Sessions and Activity pages read it."""
    return {
        "items": [present_session(session) for session in page_slice(sessions, page=page, per_page=per_page)],
        "total": len(sessions),
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages(len(sessions), per_page),
    }


# --- what each route answers ----------------------------------------------------------------------------------


def sessions_page(items: list[dict[str, Any]], *, page: int, per_page: int) -> dict[str, Any]:
    """GET /api/study-sessions?page=&per_page=: every session, newest first."""
    return envelope(newest_first(items), page=page, per_page=per_page)


def activity_sessions_page(
    items: list[dict[str, Any]], *, study_activity_id: int, page: int, per_page: int
) -> dict[str, Any]:
    """GET /api/study-activities/{id}/sessions?page=&per_page=: the activity's sessions, newest first."""
    sessions = [session for session in newest_first(items) if session["study_activity_id"] == study_activity_id]
    return envelope(sessions, page=page, per_page=per_page)


def group_sessions(
    items: list[dict[str, Any]], *, group_id: int, sort_by: str | None = None, order: str | None = None
) -> list[Session]:
    """A group's sessions in the Group page's order: by the column sort_by names (startTime when absent or unknown),
    descending unless order is asc (ties by id ascending, as mapping.sorted_by gives them)."""
    sessions = [session for session in newest_first(items) if session["group_id"] == group_id]
    field = SESSION_SORTS.get(sort_by or "", SESSION_SORTS["startTime"])
    return sorted_by(sessions, key=field, descending=ORDERS.get(order or "", True))


def group_sessions_page(
    items: list[dict[str, Any]], *, group_id: int, page: int, sort_by: str | None = None, order: str | None = None
) -> dict[str, Any]:
    """GET /groups/{id}/study_sessions?page=&sort_by=&order=: 10 a page."""
    sessions = group_sessions(items, group_id=group_id, sort_by=sort_by, order=order)
    return {
        "study_sessions": [
            present_session(session) for session in page_slice(sessions, page=page, per_page=GROUP_SESSIONS_PER_PAGE)
        ],
        "total_pages": total_pages(len(sessions), GROUP_SESSIONS_PER_PAGE),
        "current_page": page,
    }


def cursor_pages(items: list[dict[str, Any]], *, limit: int) -> list[list[dict[str, Any]]]:
    """The items of each page of GET /study_sessions?limit= followed by its cursors to the end: every session newest
    first, `limit` a page; one empty page when there is none, and no empty page after an exact multiple."""
    sessions = [present_session(session) for session in newest_first(items)]
    return [sessions[start : start + limit] for start in range(0, len(sessions), limit)] or [[]]


def recent_session(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """GET /dashboard/recent-session: the newest session with its reviews' counts, or None (JSON null)."""
    sessions = newest_first(items)
    return present_recent_session(sessions[0]) if sessions else None


def dashboard_stats(items: list[dict[str, Any]], *, today: date) -> StudyStats:
    """GET /dashboard/stats on `today` (the UTC date of the app's clock): from every word's all-time counts and
    every session's UTC day and group."""
    return study_stats(
        word_counts=[
            (int(word.get("correct_count", 0)), int(word.get("wrong_count", 0))) for word in of_type(items, "word")
        ],
        # The day is the stored time's date: times are stored in UTC.
        sessions=[
            (date.fromisoformat(session["created_at"][:10]), session.get("group_id"))
            for session in of_type(items, "session")
        ],
        today=today,
    )

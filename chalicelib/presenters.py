"""Every response body's shape, in one place: the data layer's plain dicts as the portal's pages read them."""

from typing import Any

from chalicelib.store.mapping import Activity, Group, Session, page_slice


def present_session(session: Session) -> dict[str, Any]:
    """The session as the portal reads it, with the alias fields its pages use."""
    return {
        **session,
        "session_id": session["id"],
        "activity_id": session["study_activity_id"],
        "start_time": session["created_at"],
    }


def present_recent_session(session: Session) -> dict[str, Any]:
    """The Dashboard's newest session with its reviews' counts."""
    return {
        "id": session["id"],
        "group_id": session["group_id"],
        "activity_name": session["activity_name"],
        "created_at": session["created_at"],
        "correct_count": session["correct_count"],
        "wrong_count": session["wrong_count"],
    }


def present_activity(activity: Activity) -> dict[str, Any]:
    """A study activity as the portal's pages read it."""
    return {
        "id": activity["id"],
        "title": activity["name"],
        "launch_url": activity["url"],
        "preview_url": activity["preview_url"],
    }


def present_group(group: Group) -> dict[str, Any]:
    """A group as the Word Groups and Group pages read it."""
    return {"id": group["id"], "group_name": group["name"], "word_count": group["words_count"]}


def present_reviews(study_session_id: int, logged: list[dict[str, Any]], *, batch: bool) -> dict[str, Any]:
    """The reviews a request logged: the Typing Tutor's one review, or the frontend's batch."""
    if not batch:
        [review] = logged
        return {"study_session_id": study_session_id, **review}
    return {
        "study_session_id": study_session_id,
        "reviews": [
            {
                "study_session_id": study_session_id,
                "word_id": review["word_id"],
                "is_correct": review["correct"],
                "created_at": review["created_at"],
            }
            for review in logged
        ],
    }


def total_pages(total: int, per_page: int) -> int:
    return -(-total // per_page)


def page_of(items: list[Any], *, page: int, per_page: int) -> dict[str, Any]:
    """The portal's page-number envelope over a whole list; a page past the end is empty."""
    return {
        "items": page_slice(items, page=page, per_page=per_page),
        "total": len(items),
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages(len(items), per_page),
    }


def sessions_page(sessions: list[Session], *, total: int, page: int, per_page: int) -> dict[str, Any]:
    """A page of sessions (read as one page of a list of `total`) in the portal's envelope, each as the portal reads
    it."""
    return {
        "items": [present_session(session) for session in sessions],
        "total": total,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages(total, per_page),
    }

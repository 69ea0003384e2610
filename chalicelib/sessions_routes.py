"""Study sessions and their reviews: the Launch page's POST, the Session(s) pages, the Typing Tutor, reset."""

import os
import time
from typing import Any

from chalice import Blueprint, Response

from chalicelib.presenters import page_of, present_reviews, present_session, sessions_page
from chalicelib.runtime import get_repository
from chalicelib.store.reviews import MAX_REVIEWS_PER_REQUEST
from chalicelib.validation import (
    optional_idempotency_key,
    parse_json_object,
    parse_optional_json_object,
    parse_reviews,
    request_hash,
    require_id,
)
from chalicelib.web import (
    MAX_PER_PAGE,
    RETRY_SOON,
    answers_errors,
    current_request,
    error_response,
    json_response,
    page_params,
    parse_id,
    query_int,
    query_text,
    request_body,
)

sessions = Blueprint(__name__)
RESET_TIME_BUDGET_SECONDS = 20.0  # under the 28 s Lambda timeout; what is left is done by sending it again


# content_types=["*/*"]: Chalice's own check is looser than ours (it accepts "text/plain, application/json").
@sessions.route("/study_sessions", methods=["POST"], content_types=["*/*"])
@answers_errors
def create_study_session() -> Response:
    """Start a study session for a group and a study activity; an Idempotency-Key makes resending it safe."""
    request = current_request.get()
    idempotency_key = optional_idempotency_key(request.headers.get("idempotency-key"))
    payload = parse_json_object(body=request_body(request), content_type=request.headers.get("content-type"))
    group_id = require_id(payload, "group_id")
    study_activity_id = require_id(payload, "study_activity_id")
    session = get_repository().create_session(
        group_id=group_id,
        study_activity_id=study_activity_id,
        idempotency_key=idempotency_key,
        request_hash=request_hash(payload) if idempotency_key is not None else None,
    )
    # The path the client used (with any API Gateway stage prefix) names the new resource.
    location = f"{request.context.get('path', '/study_sessions').rstrip('/')}/{session['id']}"
    return json_response(present_session(session), 201, {"Location": location})


@sessions.route("/study_sessions", methods=["GET"])
@answers_errors
def list_study_sessions() -> Response:
    """Sessions newest first, a page at a time by cursor: each page costs only its own items."""
    items, next_cursor = get_repository().list_sessions_page(
        limit=query_int("limit", 10, maximum=MAX_PER_PAGE), cursor=query_text("cursor") or None
    )
    return json_response({"items": [present_session(session) for session in items], "next_cursor": next_cursor})


@sessions.route("/study_sessions/{session_id}", methods=["GET"])
@answers_errors
def get_study_session(session_id: str) -> Response:
    """The resource POST /study_sessions's Location names, with its current counts and end_time."""
    return json_response(present_session(get_repository().get_session(session_id=parse_id(session_id))))


@sessions.route("/study_sessions/{session_id}/review", methods=["POST"], content_types=["*/*"])
@answers_errors
def log_review(session_id: str) -> Response:
    """Log one review (the Typing Tutor's {word_id, correct}) or a batch (the frontend's {reviews: [...]})."""
    request = current_request.get()
    study_session_id = parse_id(session_id)
    idempotency_key = optional_idempotency_key(request.headers.get("idempotency-key"))
    payload = parse_json_object(body=request_body(request), content_type=request.headers.get("content-type"))
    reviews, batch = parse_reviews(payload, maximum=MAX_REVIEWS_PER_REQUEST)
    logged = get_repository().log_reviews(
        session_id=study_session_id,
        reviews=reviews,
        idempotency_key=idempotency_key,
        # The path's session is part of the request: one key on two sessions is two requests (the second a 422).
        request_hash=request_hash({"path_session_id": study_session_id, "body": payload}) if idempotency_key else None,
    )
    return json_response(present_reviews(study_session_id, logged, batch=batch), 201)


@sessions.route("/api/study-sessions", methods=["GET"])
@answers_errors
def list_study_sessions_by_page() -> Response:
    """The Sessions page: sessions newest first, by page number."""
    page, per_page = page_params()  # checked before any read
    sessions, total = get_repository().list_sessions(page=page, per_page=per_page)
    return json_response(sessions_page(sessions, total=total, page=page, per_page=per_page))


@sessions.route("/api/study-sessions/{session_id}", methods=["GET"])
@answers_errors
def get_study_session_page(session_id: str) -> Response:
    """The Session page: the session and the words reviewed in it, with their counts in this session."""
    page, per_page = page_params()
    session, words = get_repository().get_session_words(session_id=parse_id(session_id))
    listed = page_of(words, page=page, per_page=per_page)
    return json_response({"session": present_session(session), "words": listed.pop("items"), **listed})


@sessions.route("/api/study-sessions/reset", methods=["POST"], content_types=["*/*"])
@answers_errors
def reset_study_history() -> Response:
    """The Settings page's reset: delete every session and review, set every word's counts back to 0."""
    request = current_request.get()
    parse_optional_json_object(body=request_body(request), content_type=request.headers.get("content-type"))
    if os.environ.get("ALLOW_RESET") != "true":
        return error_response(403, "Reset is turned off on this deployment (its AllowReset parameter)")
    started = time.monotonic()
    summary = get_repository().reset(deadline=started + RESET_TIME_BUDGET_SECONDS)
    seconds = round(time.monotonic() - started, 2)
    done = (
        f"{summary['sessions_deleted']} study sessions with {summary['reviews_deleted']} reviews deleted and "
        f"{summary['words_reset']} words' counts set to 0 in {seconds} s; {summary['sessions_left']} sessions left"
    )
    body: dict[str, Any] = {name: value for name, value in summary.items() if name != "complete"}
    body["seconds"] = seconds
    if not summary["complete"]:
        return error_response(503, f"Reset is not finished ({done}); send it again to go on", RETRY_SOON, **body)
    return json_response({"message": f"Study history reset: {done}", **body})

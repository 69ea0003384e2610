"""The Dashboard page: the newest session and the study figures."""

from chalice import Blueprint, Response

from chalicelib.presenters import present_recent_session
from chalicelib.runtime import get_repository
from chalicelib.web import answers_errors, json_response

dashboard = Blueprint(__name__)


@dashboard.route("/dashboard/recent-session", methods=["GET"])
@answers_errors
def get_recent_session() -> Response:
    """The newest session with its reviews' counts, or JSON null when there is none."""
    session = get_repository().get_recent_session()
    if session is None:
        return json_response(None)
    return json_response(present_recent_session(session))


@dashboard.route("/dashboard/stats", methods=["GET"])
@answers_errors
def get_study_stats() -> Response:
    """Vocabulary, progress, sessions, active groups and the streak."""
    return json_response(get_repository().get_study_stats())

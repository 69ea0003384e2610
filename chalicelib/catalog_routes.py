"""Study activities: the Study Activities, Activity and Launch pages."""

from chalice import Blueprint, Response

from chalicelib.presenters import present_activity, sessions_page
from chalicelib.runtime import get_repository
from chalicelib.web import answers_errors, json_response, page_params, parse_id

catalog = Blueprint(__name__)


@catalog.route("/api/study-activities", methods=["GET"])
@answers_errors
def list_study_activities() -> Response:
    """The Study Activities page: every activity, as a JSON array."""
    return json_response([present_activity(activity) for activity in get_repository().list_study_activities()])


@catalog.route("/api/study-activities/{activity_id}", methods=["GET"])
@answers_errors
def get_study_activity(activity_id: str) -> Response:
    """The Activity page."""
    activity = get_repository().get_study_activity(study_activity_id=parse_id(activity_id))
    return json_response({**present_activity(activity), "description": activity["description"]})


@catalog.route("/api/study-activities/{activity_id}/sessions", methods=["GET"])
@answers_errors
def list_study_activity_sessions(activity_id: str) -> Response:
    """The Activity page's sessions, newest first, by page number."""
    study_activity_id = parse_id(activity_id)
    page, per_page = page_params()  # checked before any read
    sessions, total = get_repository().list_activity_sessions(
        study_activity_id=study_activity_id, page=page, per_page=per_page
    )
    return json_response(sessions_page(sessions, total=total, page=page, per_page=per_page))


@catalog.route("/api/study-activities/{activity_id}/launch", methods=["GET"])
@answers_errors
def launch_study_activity(activity_id: str) -> Response:
    """The Launch page: the activity and every group to choose from."""
    repository = get_repository()
    # The activity as read in the last minute will do here (its page reads it fresh); the groups are read now.
    activity = repository.get_study_activity(study_activity_id=parse_id(activity_id), cached=True)
    groups = [{"id": group["id"], "name": group["name"]} for group in repository.list_groups()]
    return json_response({"activity": present_activity(activity), "groups": groups})

"""HTTP routes of the study portal API: parse, validate, call the repository, shape the response."""
import logging
import os
import sys
import threading
from contextvars import ContextVar
from typing import Any, Callable

import boto3
from botocore.config import Config
from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.repository import (
    DatabaseBusyError,
    GroupNotFoundError,
    SessionIdCollisionError,
    StudyActivityNotFoundError,
    StudyRepository,
)
from chalicelib.validation import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    parse_json_object,
    require_id,
)

app = Chalice(app_name="study-portal", configure_logs=False)

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class _RequestIdFilter(logging.Filter):
    """Stamp every record, Chalice's own tracebacks included, with the id of the request being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


_log_handler = logging.StreamHandler(sys.stdout)
_log_handler.setFormatter(logging.Formatter("%(levelname)s request_id=%(request_id)s %(name)s: %(message)s"))
app.log.addHandler(_log_handler)
app.log.addFilter(_RequestIdFilter())
app.log.setLevel(logging.INFO)
app.log.propagate = False

# Worst case of one DynamoDB call: 3 attempts x (1 s connect + 2 s read) + at most 3 s of backoff = 12 s;
# a POST makes two calls, so 24 s, under the 28 s Lambda timeout and API Gateway's 29 s.
_BOTO_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
_JSON = {"Content-Type": "application/json"}
_repository: StudyRepository | None = None
_repository_lock = threading.Lock()  # chalice local serves requests on threads


def get_repository() -> StudyRepository:
    """Build the repository on first use, once per process, so importing this module touches no AWS."""
    global _repository
    if _repository is None:
        with _repository_lock:
            if _repository is None:
                client = boto3.client("dynamodb", config=_BOTO_CONFIG)
                _repository = StudyRepository(client=client, table_name=os.environ["TABLE_NAME"])
    return _repository


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None, **fields: Any) -> Response:
    """Our one error shape: {"error": message, **fields} as JSON."""
    return Response(body={"error": message, **fields}, status_code=status_code,
                    headers={**_JSON, **(headers or {})})


def present_session(session: dict[str, Any]) -> dict[str, Any]:
    """The session as the portal reads it, with the alias fields its pages use."""
    return {**session, "session_id": session["id"], "activity_id": session["study_activity_id"],
            "start_time": session["created_at"]}


def _allowed_origin(request: Request) -> str | None:
    """The value for Access-Control-Allow-Origin, if the request's Origin is allowed in this stage."""
    allowed = [origin.strip() for origin in os.environ.get("CORS_ALLOW_ORIGINS", "").split(",") if origin.strip()]
    origin = request.headers.get("origin")
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


@app.middleware("http")
def add_cors_headers(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every response, errors included, carries CORS headers for allowed origins."""
    response = get_response(request)
    origin = _allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Location"
    response.headers["Vary"] = "Origin"
    return response


@app.middleware("http")
def uniform_errors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Give Chalice's own errors (405, 500, ...) our {"error": ...} shape; a 500 shows only a request id."""
    _request_id.set(getattr(request.lambda_context, "aws_request_id", None))
    response = get_response(request)
    if response.status_code == 500:
        # Chalice has logged the traceback already; both records carry the request id.
        app.log.error("Internal server error answered to %s %s", request.method, request.context.get("path"))
        return error_response(500, "Internal server error", request_id=_request_id.get())
    if response.status_code >= 400 and isinstance(response.body, dict) and "Message" in response.body:
        return error_response(response.status_code, response.body["Message"] or "Request failed",
                              {name: value for name, value in response.headers.items()
                               if name.lower() != "content-type"})
    return response


@app.route("/study_sessions", methods=["OPTIONS"])
def preflight_study_sessions() -> Response:
    """Answer the browser's CORS preflight for POST /study_sessions."""
    headers = {}
    if _allowed_origin(app.current_request) is not None:
        headers = {"Access-Control-Allow-Methods": "POST, OPTIONS",
                   "Access-Control-Allow-Headers": "Content-Type",
                   "Access-Control-Max-Age": "600"}
    return Response(body="", status_code=204, headers=headers)


# content_types=["*/*"]: Chalice's own check is looser than ours (it accepts "text/plain, application/json").
@app.route("/study_sessions", methods=["POST"], content_types=["*/*"])
def create_study_session() -> Response:
    """Start a study session for a group and a study activity."""
    request = app.current_request
    try:
        payload = parse_json_object(body=request.raw_body, content_type=request.headers.get("content-type"))
        group_id = require_id(payload, "group_id")
        study_activity_id = require_id(payload, "study_activity_id")
    except UnsupportedMediaTypeError as exc:
        return error_response(415, str(exc))
    except PayloadTooLargeError as exc:
        return error_response(413, str(exc))
    except InvalidRequestError as exc:
        return error_response(400, str(exc))
    try:
        session = get_repository().create_session(group_id=group_id, study_activity_id=study_activity_id)
    except GroupNotFoundError:
        return error_response(404, f"Group {group_id} not found")
    except StudyActivityNotFoundError:
        return error_response(404, f"Study activity {study_activity_id} not found")
    except (DatabaseBusyError, SessionIdCollisionError):
        # Nothing was written, so a retry is safe (a collision draws a new id next time).
        return error_response(503, "The database is busy; retry shortly", {"Retry-After": "1"})
    # The path the client used (with any API Gateway stage prefix) names the new resource.
    location = f"{request.context.get('path', '/study_sessions').rstrip('/')}/{session['id']}"
    return Response(body=present_session(session), status_code=201, headers={**_JSON, "Location": location})

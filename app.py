"""HTTP routes of the study portal API: parse, validate, call the repository, shape the response."""
import os
import threading
import time
from contextvars import ContextVar
from typing import Any, Callable

import boto3
from botocore.config import Config
from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.logs import log_json_to_stdout, request_id
from chalicelib.repository import (
    DatabaseBusyError,
    DatabaseUnavailableError,
    GroupNotFoundError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    SessionIdCollisionError,
    StudyActivityNotFoundError,
    StudyRepository,
)
from chalicelib.validation import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    optional_idempotency_key,
    parse_json_object,
    request_hash,
    require_id,
)

app = Chalice(app_name="study-portal", configure_logs=False)
log_json_to_stdout(app.log)

# Worst case of one DynamoDB call: 3 attempts x (1 s connect + 1 s read) + at most 1 + 2 s of throttling backoff
# = 9 s; a POST makes two calls, so 18 s, under the 28 s Lambda timeout and API Gateway's 29 s.
# (total_max_attempts counts the first attempt; botocore's max_attempts would count only the retries.)
_BOTO_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 3})
_JSON = {"Content-Type": "application/json"}
_RETRY_SOON = {"Retry-After": "1"}
_repository: StudyRepository | None = None
_repository_lock = threading.Lock()  # chalice local serves requests on threads
# Chalice keeps app.current_request on the shared app object, which concurrent requests under chalice local
# overwrite (aws/chalice#759); the request each middleware call receives is its own, so routes read it from here.
_request: ContextVar[Request] = ContextVar("request")
_dynamodb_requests: ContextVar[int] = ContextVar("dynamodb_requests", default=0)


def _count_dynamodb_request(**_: Any) -> None:
    _dynamodb_requests.set(_dynamodb_requests.get() + 1)


def get_repository() -> StudyRepository:
    """Build the repository on first use, once per process, so importing this module touches no AWS."""
    global _repository
    if _repository is None:
        with _repository_lock:
            if _repository is None:
                client = boto3.client("dynamodb", config=_BOTO_CONFIG)
                # Every HTTP request sent, retries included, counts towards the access log's dynamodb_requests.
                client.meta.events.register("before-send.dynamodb", _count_dynamodb_request)
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
def log_requests(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """One JSON access-log line per request; never the body, headers or query string, which may hold secrets."""
    request_id.set(getattr(request.lambda_context, "aws_request_id", None))
    _request.set(request)
    _dynamodb_requests.set(0)
    started = time.perf_counter()
    response = get_response(request)
    app.log.info("request", extra={"fields": {
        "method": request.method,
        "path": request.context.get("path"),
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "dynamodb_requests": _dynamodb_requests.get(),
    }})
    return response


@app.middleware("http")
def add_cors_headers(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every response, errors included, carries CORS headers for allowed origins."""
    response = get_response(request)
    origin = _allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Location, Retry-After"
    response.headers["Vary"] = "Origin"
    return response


@app.middleware("http")
def uniform_errors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Give Chalice's own errors (405, 500, ...) our {"error": ...} shape; a 500 shows only a request id."""
    response = get_response(request)
    if response.status_code == 500:
        # Chalice has logged the traceback, stamped with the same request id.
        return error_response(500, "Internal server error", request_id=request_id.get())
    if response.status_code >= 400 and isinstance(response.body, dict) and "Message" in response.body:
        return error_response(response.status_code, response.body["Message"] or "Request failed",
                              {name: value for name, value in response.headers.items()
                               if name.lower() != "content-type"})
    return response


@app.route("/study_sessions", methods=["OPTIONS"])
def preflight_study_sessions() -> Response:
    """Answer the browser's CORS preflight for POST /study_sessions."""
    headers = {}
    if _allowed_origin(_request.get()) is not None:
        headers = {"Access-Control-Allow-Methods": "POST, OPTIONS",
                   "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
                   "Access-Control-Max-Age": "600"}
    return Response(body="", status_code=204, headers=headers)


# content_types=["*/*"]: Chalice's own check is looser than ours (it accepts "text/plain, application/json").
@app.route("/study_sessions", methods=["POST"], content_types=["*/*"])
def create_study_session() -> Response:
    """Start a study session for a group and a study activity; an Idempotency-Key makes resending it safe."""
    request = _request.get()
    try:
        idempotency_key = optional_idempotency_key(request.headers.get("idempotency-key"))
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
        session = get_repository().create_session(
            group_id=group_id, study_activity_id=study_activity_id, idempotency_key=idempotency_key,
            request_hash=request_hash(payload) if idempotency_key is not None else None)
    except GroupNotFoundError:
        return error_response(404, f"Group {group_id} not found")
    except StudyActivityNotFoundError:
        return error_response(404, f"Study activity {study_activity_id} not found")
    except IdempotencyKeyReusedError:
        return error_response(422, "Idempotency-Key was already used with a different request body")
    except IdempotencyKeyInFlightError:
        return error_response(409, "A request with this Idempotency-Key is in progress; retry shortly", _RETRY_SOON)
    except (DatabaseBusyError, SessionIdCollisionError) as exc:
        # Nothing was written, so a retry is safe (a collision draws a new id next time).
        app.log.warning("database busy: %s: %s", type(exc).__name__, exc)
        return error_response(503, "The database is busy; retry shortly", _RETRY_SOON)
    except DatabaseUnavailableError as exc:
        # The write may have happened: a retry with the same Idempotency-Key returns it instead of a second one.
        app.log.warning("database unavailable: %s", exc, exc_info=True)
        return error_response(503, "The database did not answer in time; retry shortly", _RETRY_SOON)
    # The path the client used (with any API Gateway stage prefix) names the new resource.
    location = f"{request.context.get('path', '/study_sessions').rstrip('/')}/{session['id']}"
    return Response(body=present_session(session), status_code=201, headers={**_JSON, "Location": location})

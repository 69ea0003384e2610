"""What every route shares: the current request, path and query parsing, the JSON and error answers, CORS's
origin check, the headers every answer carries, and the one mapping from the data layer's named errors to HTTP
statuses."""

import functools
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from chalice import Response
from chalice.app import Request

from chalicelib.store.errors import (
    CreateConflictError,
    DatabaseBusyError,
    DatabaseUnavailableError,
    IdempotencyKeyInFlightError,
    IdempotencyKeyReusedError,
    InvalidCursorError,
    NotFoundError,
    SessionIdCollisionError,
    TransactionConflictError,
    WordNotInGroupError,
)
from chalicelib.store.items import MAX_ID
from chalicelib.validation import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError

JSON = {"Content-Type": "application/json"}
RETRY_SOON = {"Retry-After": "1"}
MAX_PER_PAGE = 100
_log = logging.getLogger("study-portal")  # the app's logger (Chalice names it after the app)

# Chalice keeps app.current_request on the shared app object, which concurrent requests under chalice local
# overwrite (aws/chalice#759); the request each middleware call receives is its own, so routes read it from here.
current_request: ContextVar[Request] = ContextVar("request")


class BadRequestError(Exception):
    """A path id or query value is malformed: 400."""


def error_response(
    status_code: int, message: str, headers: Mapping[str, str | list[str]] | None = None, **fields: Any
) -> Response:
    """Our one error shape: {"error": message, **fields} as JSON."""
    return Response(body={"error": message, **fields}, status_code=status_code, headers={**JSON, **(headers or {})})


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer; a body of None is JSON null, not an empty body."""
    return Response(body=body, status_code=status_code, headers={**JSON, **(headers or {})})


def allowed_origin(origin: str | None, allowed: Iterable[str] | None = None) -> str | None:
    """The value for Access-Control-Allow-Origin, if the Origin is one of `allowed` (by default this stage's)."""
    if allowed is None:
        allowed = [entry.strip() for entry in os.environ.get("CORS_ALLOW_ORIGINS", "").split(",") if entry.strip()]
    allowed = list(allowed)
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def answer_headers(origin: str | None, allowed: Iterable[str] | None = None) -> dict[str, str]:
    """What every answer carries, errors and preflights included: CORS for an allowed Origin (by default this
    stage's); never cached (every answer is the learner's own, and changes), never sniffed as another type; on
    Lambda, where API Gateway serves only HTTPS, HTTPS for a year (not under chalice local's plain HTTP)."""
    headers = {"Vary": "Origin", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    granted = allowed_origin(origin, allowed)
    if granted is not None:
        headers["Access-Control-Allow-Origin"] = granted
        headers["Access-Control-Expose-Headers"] = "Location, Retry-After"
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def parse_id(value: str) -> int:
    """A path parameter as an id: decimal digits, 1 to 2^53-1, no sign or leading zero."""
    if not (
        value.isascii() and value.isdigit() and not value.startswith("0") and len(value) <= 16 and int(value) <= MAX_ID
    ):
        raise BadRequestError(f"id must be an integer from 1 to {MAX_ID}, not {value[:40]!r}")
    return int(value)


def request_body(request: Request) -> bytes:
    """The request's body as sent (Chalice declares raw_body str | bytes, and gives bytes)."""
    body = request.raw_body
    return body.encode("utf-8") if isinstance(body, str) else body


def query_int(name: str, default: int, *, maximum: int = MAX_ID) -> int:
    """A positive integer query parameter (default when absent), at most `maximum`."""
    value = query_text(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 20 and 1 <= int(value) <= maximum):
        raise BadRequestError(f"{name} must be an integer from 1 to {maximum}, not {value[:40]!r}")
    return int(value)


def query_text(name: str) -> str | None:
    """A query parameter as sent (the last, if sent more than once), or None."""
    params = current_request.get().query_params
    value: str | None = None if params is None else params.get(name)
    return value


def query_choice(name: str, choices: dict[str, str], default: str) -> str:
    """The column a query parameter names, by the client's key; anything else (or nothing) means the default, as
    the portal's pages expect (they send their own column keys)."""
    return choices.get(query_text(name) or "", choices[default])


def query_descending(*, default: bool = False) -> bool:
    """?order=desc or asc; anything else (or nothing) means the route's default."""
    return {"desc": True, "asc": False}.get(query_text("order") or "", default)


def page_params() -> tuple[int, int]:
    """?page= (default 1) and ?per_page= (default 10, at most MAX_PER_PAGE)."""
    return query_int("page", 1), query_int("per_page", 10, maximum=MAX_PER_PAGE)


def answers_errors(view: Callable[..., Response]) -> Callable[..., Response]:
    """Give a route the one mapping from our named errors to statuses; nothing that raises them has written."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except (BadRequestError, InvalidRequestError) as exc:
            return error_response(400, str(exc))
        except InvalidCursorError:
            return error_response(400, "cursor is not one this API handed out")
        except UnsupportedMediaTypeError as exc:
            return error_response(415, str(exc))
        except PayloadTooLargeError as exc:
            return error_response(413, str(exc))
        except NotFoundError as exc:
            return error_response(404, str(exc))
        except WordNotInGroupError as exc:
            return error_response(422, str(exc))
        except IdempotencyKeyReusedError:
            return error_response(422, "Idempotency-Key was already used with a different request body")
        except IdempotencyKeyInFlightError:
            return error_response(409, "A request with this Idempotency-Key is in progress; retry shortly", RETRY_SOON)
        except CreateConflictError:
            return error_response(409, "Other study sessions were being started at once; retry shortly", RETRY_SOON)
        except TransactionConflictError:
            return error_response(
                409, "Other writes to the same study session got in the way; retry shortly", RETRY_SOON
            )
        except (DatabaseBusyError, SessionIdCollisionError) as exc:
            # Nothing was written, so a retry is safe (a collision draws a new id next time).
            _log.warning("database busy: %s: %s", type(exc).__name__, exc)
            return error_response(503, "The database is busy; retry shortly", RETRY_SOON)
        except DatabaseUnavailableError as exc:
            # A write may have happened: a retry with the same Idempotency-Key returns it instead of a second one.
            _log.warning("database unavailable: %s", exc, exc_info=True)
            return error_response(503, "The database did not answer in time; retry shortly", RETRY_SOON)

    return wrapper

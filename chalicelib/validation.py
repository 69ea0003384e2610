"""Parsing and validating request bodies; raises named errors that web.answers_errors maps to HTTP statuses."""

import hashlib
import json
from typing import Any

from chalicelib.store.items import MAX_ID

MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255


class InvalidRequestError(Exception):
    """The body or a field in it is malformed."""


class UnsupportedMediaTypeError(Exception):
    """The body is not declared as JSON."""


class PayloadTooLargeError(Exception):
    """The body is over MAX_BODY_BYTES."""


def _reject_constant(name: str) -> None:
    raise InvalidRequestError(f"Request body is not valid JSON: {name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequestError(f"Request body has a duplicate key: {key!r}")
        result[key] = value
    return result


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media_type != "application/json":
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') != "utf-8":
            return False
    return True


def parse_json_object(*, body: bytes | None, content_type: str | None) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise the error that says what is wrong with it."""
    if not _is_json_media_type(content_type):
        raise UnsupportedMediaTypeError("Content-Type must be application/json")
    body = body or b""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"Request body must be at most {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise InvalidRequestError("Request body is empty; expected a JSON object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("Request body is not valid UTF-8") from exc
    try:
        payload = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_without_duplicates)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers past Python's digit limit.
        raise InvalidRequestError("Request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidRequestError("Request body must be a JSON object")
    return payload


def require_id(payload: dict[str, Any], field: str) -> int:
    """Return payload[field] if it is a JSON integer from 1 to 2^53-1; booleans, floats and strings are not."""
    if field not in payload or payload[field] is None:
        raise InvalidRequestError(f"{field} is required")
    value = payload[field]
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise InvalidRequestError(f"{field} must be an integer from 1 to {MAX_ID}")
    return value


def optional_idempotency_key(value: str | None) -> str | None:
    """Return the Idempotency-Key header's value if sent: 1 to 255 printable ASCII characters (space included)."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_IDEMPOTENCY_KEY_LENGTH or not all(" " <= char <= "~" for char in value):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters"
        )
    return value


def request_hash(payload: dict[str, Any]) -> str:
    """A digest of the JSON object that ignores key order and whitespace, so a resent request has the same one."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def require_bool(payload: dict[str, Any], field: str) -> bool:
    """Return payload[field] if it is a JSON boolean; 1, 0 and "true" are not."""
    if field not in payload or payload[field] is None:
        raise InvalidRequestError(f"{field} is required")
    value = payload[field]
    if type(value) is not bool:
        raise InvalidRequestError(f"{field} must be true or false")
    return value


def parse_reviews(payload: dict[str, Any], *, maximum: int) -> tuple[list[tuple[int, bool]], bool]:
    """The reviews a review request logs, as (word_id, correct) pairs, and whether it used the batch form.

    The Typing Tutor sends {word_id, correct}; the frontend sends {reviews: [{word_id, is_correct}, ...]}."""
    if "reviews" not in payload:
        return [(require_id(payload, "word_id"), require_bool(payload, "correct"))], False
    if "word_id" in payload or "correct" in payload:
        raise InvalidRequestError("Send either word_id and correct, or reviews, not both")
    reviews = payload["reviews"]
    if not isinstance(reviews, list) or not reviews:
        raise InvalidRequestError("reviews must be a non-empty array")
    if len(reviews) > maximum:
        raise InvalidRequestError(f"reviews may hold at most {maximum} reviews a request, not {len(reviews)}")
    parsed = []
    for index, review in enumerate(reviews):
        if not isinstance(review, dict):
            raise InvalidRequestError(f"reviews[{index}] must be a JSON object")
        try:
            parsed.append((require_id(review, "word_id"), require_bool(review, "is_correct")))
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"reviews[{index}].{exc}") from exc
    return parsed, True


def parse_optional_json_object(*, body: bytes | None, content_type: str | None) -> dict[str, Any]:
    """A JSON-declared request whose body may be empty (an empty body is {})."""
    if not (body or b"").strip():
        if not _is_json_media_type(content_type):
            raise UnsupportedMediaTypeError("Content-Type must be application/json")
        return {}
    return parse_json_object(body=body, content_type=content_type)

"""The portal's fixed values as the tests use them: the stage, its table, the frontend's origin, a valid create."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.local_stack import stage_environment

STAGE = "dev"
TABLE_NAME = stage_environment(STAGE)["TABLE_NAME"]
PORTAL_ORIGIN = "http://localhost:5173"
VALID = {"group_id": 1, "study_activity_id": 1}  # the seeded group 1 and activity 1
JSON_FROM_PORTAL = {"Content-Type": "application/json", "Origin": PORTAL_ORIGIN}
TUTOR = {"Content-Type": "application/json", "Origin": "http://localhost:8080"}  # the Typing Tutor's headers


def headers_with_key(key: str, **extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": key, **extra}


def review(api: Any, session_id: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST a review as the Typing Tutor does (unless headers say otherwise); body a dict or raw bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post(f"/study_sessions/{session_id}/review", body=raw, headers=headers or TUTOR)


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The access-log lines among the app's log lines."""
    return [line for line in lines if line["message"] == "request"]


@dataclass(frozen=True)
class DevPlace:
    """Where a test's `make dev` runs: free ports and a data folder of its own, so a running `make dev` and its
    data stay untouched."""

    port: int
    dynamodb_port: int
    data_dir: Path
    log_path: Path


def assert_security_headers(headers: Any, *, on_lambda: bool = False) -> None:
    """Never cached, never sniffed; HTTPS-only (HSTS) only where API Gateway serves HTTPS, on Lambda."""
    assert (headers["Cache-Control"], headers["X-Content-Type-Options"]) == ("no-store", "nosniff")
    hsts = headers.get("Strict-Transport-Security")
    assert hsts == ("max-age=31536000; includeSubDomains" if on_lambda else None)

"""The portal's fixed values as the tests use them: the stage, its table, the frontend's origin, a valid create."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.local_stack import stage_environment

STAGE = "dev"
TABLE_NAME = stage_environment(STAGE)["TABLE_NAME"]
PORTAL_ORIGIN = "http://localhost:5173"
VALID = {"group_id": 1, "study_activity_id": 1}  # the seeded group 1 and activity 1
JSON_FROM_PORTAL = {"Content-Type": "application/json", "Origin": PORTAL_ORIGIN}


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



"""Outside the bench's process: Lambda's events, the child processes (bench/coldstart.py) in the unzipped package,
the Lambda package itself and an `-X importtime` profile of the app's import."""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.routes import Row
from scripts.local_stack import ROOT, stage_environment

TABLE = "study-portal-bench"  # in the bench's own ministack
CHILD = Path(__file__).resolve().parent / "coldstart.py"
RESULT_PREFIX = "BENCH-RESULT "  # bench/coldstart.py's, not imported: the child must stay a lone script


class BenchError(Exception):
    """The bench cannot measure what it set out to (a route answered an unexpected status, a child failed)."""


def lambda_event(row: Row, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
    """An API Gateway REST proxy event for the route, as Lambda hands it to the function (stage `api`)."""
    parts = urlsplit(path)
    query = parse_qs(parts.query) or None
    captured = {
        name[1:-1]: value for name, value in zip(row.resource.split("/"), parts.path.split("/")) if name.startswith("{")
    } or None
    request_id = str(uuid.uuid4())
    return {
        "resource": row.resource,
        "path": parts.path,
        "httpMethod": row.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} if query else None,
        "multiValueQueryStringParameters": query,
        "pathParameters": captured,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": row.resource,
            "httpMethod": row.method,
            "path": f"/api{parts.path}",
            "stage": "api",
            "requestId": request_id,
            "accountId": "000000000000",
            "apiId": "bench",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1"},
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": body.decode() if body else None,
        "isBase64Encoded": False,
    }


def child_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A child's environment: this one's, the dev stage's variables with the bench's table, no .pyc written."""
    # As in Lambda, nothing is written to the task root (/var/task is read-only): the app runs from the bytecode the
    # package ships (scripts/deploy.py add_bytecode); boto3 and botocore come precompiled, as the runtime's.
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {
        **inherited,
        **stage_environment("dev"),
        "TABLE_NAME": TABLE,
        "PYTHONDONTWRITEBYTECODE": "1",
        **(extra or {}),
    }


@dataclass
class ChildResult:
    """What a child process printed: its result, the app's access-log lines; and its whole run's time."""

    result: dict[str, Any]
    access_lines: list[dict[str, Any]]
    wall_ms: float


def run_child(
    mode: str, *, task_root: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> ChildResult:
    """Run bench/coldstart.py MODE in a fresh interpreter in the task root; its result and access-log lines."""
    started = time.perf_counter()
    # The script's copy in the task root, so that the task root comes first on sys.path, as /var/task in Lambda.
    process = subprocess.run(
        [sys.executable, str(task_root / CHILD.name), mode],
        env=child_environment(env),
        input=stdin,
        cwd=task_root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    results = [line[len(RESULT_PREFIX) :] for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if process.returncode != 0 or not results:
        raise BenchError(f"child {mode} failed ({process.returncode}): {process.stderr[-3000:]}")
    access = []
    for line in process.stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "request":
                access.append(entry)
    return ChildResult(json.loads(results[-1]), access, wall_ms)


INDEX_PARTITION_KEYS = ("GSI1PK", "GSI2PK", "GSI3PK")


def unlisted(item: dict[str, Any]) -> dict[str, Any]:
    """A copy of a session item (DynamoDB JSON) whose index partition keys are as long but in partitions no list
    reads: a floor's write costs the same index writes without adding a session to the app's lists (whose pages and
    reset count on one session per ordinal)."""
    return {
        **item,
        **{name: {"S": "X" * len(item[name]["S"])} for name in INDEX_PARTITION_KEYS if name in item},
    }


def fresh_calls(calls: list[list[Any]]) -> list[list[Any]]:
    """The calls a cold request made, ready to make again: each conditional put under a new key of the same length,
    a session's out of the app's lists (unlisted)."""
    # The same length keeps the item's size; a new key keeps `attribute_not_exists` true; botocore draws a new token.
    fresh = json.loads(json.dumps(calls))
    for operation, params in fresh:
        params.pop("ClientRequestToken", None)
        puts = (
            [params]
            if operation == "PutItem"
            else [entry["Put"] for entry in params.get("TransactItems", []) if "Put" in entry]
        )
        for put in puts:
            if "ConditionExpression" in put:
                key = put["Item"]["PK"]
                if re.search(r"\d", key["S"]):
                    key["S"] = re.sub(r"\d", lambda _: random.choice("123456789"), key["S"])
                    put["Item"] = unlisted(put["Item"])
                else:
                    # A list's head (PK=COUNTERS), written only if it still holds the count the writer read: under a
                    # new partition key of the same length, on a condition a new key meets that reads the same names
                    # and values (DynamoDB refuses unused ones).
                    key["S"] = "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in key["S"])
                    if put["ConditionExpression"] == "#count = :count":
                        put["ConditionExpression"] = "attribute_not_exists(#count) OR #count = :count"
    return fresh


def profile_imports(*, task_root: Path, top: int = 15) -> dict[str, Any]:
    """`python -X importtime -c "import app"` in the task root: its total, top entries, self time by package."""
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        env=child_environment(),
        cwd=task_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if process.returncode != 0:
        raise BenchError(f"import app failed: {process.stderr[-3000:]}")
    entries = []
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$", process.stderr, re.M):
        entries.append(
            {
                "module": match[4],
                "cumulative_ms": int(match[2]) / 1000,
                "self_ms": int(match[1]) / 1000,
                "depth": len(match[3]) // 2,
            }
        )
    by_package: dict[str, float] = {}
    for entry in entries:
        package = entry["module"].split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + entry["self_ms"]
    app_entry = next((entry for entry in entries if entry["module"] == "app"), None)
    return {
        "top": [
            {**entry, "cumulative_ms": round(entry["cumulative_ms"], 1), "self_ms": round(entry["self_ms"], 1)}
            for entry in sorted(entries, key=lambda entry: -entry["cumulative_ms"])[:top]
        ],
        "total_ms": round(app_entry["cumulative_ms"], 1) if app_entry else None,
        "by_package_ms": {
            name: round(ms, 1) for name, ms in sorted(by_package.items(), key=lambda item: -item[1])[:10]
        },
        "modules": len(entries),
    }


def measure_package(build: Path, *, task_root: Path) -> dict[str, Any]:
    """`scripts.deploy package --stage dev`: the zip's size, whether it has boto3/botocore; unzipped to task_root."""
    scratch = build.parent / "package-tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "scripts.deploy", "package", "--stage", "dev", "--build", str(build)],
        env={**os.environ, "TMPDIR": str(scratch)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    seconds = time.monotonic() - started
    if process.returncode != 0:
        raise BenchError(f"package failed: {process.stdout}{process.stderr}")
    archive = build / "deployment.zip"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        opened.extractall(task_root)
    shutil.copy(CHILD, task_root / CHILD.name)  # the cold processes' script, run from there
    bundled = sorted({part for name in names for part in name.split("/")[:-1] if part in ("boto3", "botocore")})
    size = archive.stat().st_size
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return {
        "package_bytes": size,
        "package_files": len(names),
        "package_has_boto": bool(bundled),
        "package_bundles": bundled,
        "package_seconds": round(seconds, 1),
    }


def ministack_version() -> str | None:
    found = sorted((ROOT / ".venv-ministack").glob("lib/python*/site-packages/ministack-*.dist-info"))
    return found[0].name.removeprefix("ministack-").removesuffix(".dist-info") if found else None

"""Schemathesis against `make dev` on ports and data of its own: every operation of docs/openapi.yaml but the reset
(which would empty what the run builds on), with its default checks (no 5xx; documented statuses, content types,
headers and schemas; invalid input rejected, valid input accepted; methods the document lacks answered 405) in
every phase, stateful ones following the links from a new session's id; a fixed seed and a bounded number of
examples. It runs in its own virtualenv (its pytest plugin would load into this suite), with
tests/tools/schemathesis.toml (where a valid request may still be refused) and tests/tools/schemathesis_hooks.py
(ids as JSON integers)."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from scripts.dev import start_dev_server, stop_dev_server
from scripts.local_stack import ROOT, free_port

SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
SEED, EXAMPLES = 1, 10  # about a minute on 2 cores, and the same cases every run
RESET = "/api/study-sessions/reset"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict, Path, float]:
    """One schemathesis run against a `make dev` of its own: its output, its JSON report, the API's log, the time."""
    work = tmp_path_factory.mktemp("schemathesis")
    assert SCHEMATHESIS.exists(), "make install (or make test) creates .venv-schemathesis"
    port, dynamodb_port = free_port(), free_port()
    log = work / "dev.log"
    server = start_dev_server(port=port, dynamodb_port=dynamodb_port, data_dir=work / "data", log_path=log)
    started = time.monotonic()
    try:
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--config-file",
                str(ROOT / "tests" / "tools" / "schemathesis.toml"),
                "run",
                str(ROOT / "docs" / "openapi.yaml"),
                "--url",
                f"http://127.0.0.1:{port}",
                "--exclude-path",
                RESET,
                "--seed",
                str(SEED),
                "--max-examples",
                str(EXAMPLES),
                "--generation-database",
                "none",
                "--no-color",
                "--report",
                "json",
                "--report-json-path",
                str(work / "report.json"),
            ],
            cwd=work,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(work),
                "TMPDIR": str(work),
                "PYTHONPATH": str(ROOT),
                "SCHEMATHESIS_HOOKS": "tests.tools.schemathesis_hooks",
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        took = time.monotonic() - started
        stop_dev_server(server)
    return result, json.loads((work / "report.json").read_text()), log, took


def test_every_operation_but_the_reset_passes_every_default_check_in_every_phase(run):
    result, report, _, took = run
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert report["failures"] == [] and report["errors"] == []
    assert report["operations"] == {
        "total": 22,
        "selected": 21,
        "tested": 21,
        "errored": 0,
        "skipped": 0,
        "skip_reasons": [],
    }
    assert {phase: outcome["status"] for phase, outcome in report["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"
    )
    cases = report["test_cases"]
    assert cases["generated"] >= 500 and cases["with_failures"] == cases["errored"] == 0
    print(f"schemathesis: {cases['generated']} test cases, 0 failures, in {took:.0f} s (seed {SEED})", end="; ")


def test_the_run_never_sent_the_reset(run):
    _, _, log, _ = run
    paths = [json.loads(line).get("path") for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(paths) > 500 and RESET not in paths
    print(f"{len(paths)} requests")

"""`make costs` measures every route: one line per route, the requests the design promises, and a finished reset."""
import re
import subprocess

from scripts.local_stack import ROOT

# The DynamoDB requests each call costs, as docs/design.md states them.
PROMISED = {"POST /study_sessions": 2, "POST /study_sessions/{id}/review": 2, "GET /study_sessions/{id}": 1,
            "GET /study_sessions": 1, "GET /api/study-sessions": 1, "GET /api/study-sessions/{id}": 2,
            "GET /api/study-activities": 1, "GET /api/study-activities/1": 1,
            "GET /api/study-activities/1/sessions": 1, "GET /api/study-activities/1/launch": 2,
            "GET /groups/1/words/raw": 1}


def test_make_costs_measures_each_route_on_both_emulators_and_a_finished_reset():
    result = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "costs", "ARGS=--reset-sessions 60"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    measured = re.findall(r"^  (\w+ \S+)\s+(\d+) requests\s+([\d.]+) units", result.stdout, re.M)
    assert {route for route, _, _ in measured} == set(PROMISED)
    assert all(int(requests) == PROMISED[route] for route, requests, _ in measured)
    assert result.stdout.count("DynamoDB requests and capacity units per call") == 2
    assert re.search(r"reset of 60 sessions \(122 reviews\): 200 in [\d.]+ s", result.stdout)
    assert not list((ROOT / ".ministack").glob("costs-*"))

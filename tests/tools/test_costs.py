"""`make costs` measures every route: one line per route, the requests the design promises, and a finished reset."""

import re
import subprocess

from scripts.local_stack import ROOT

# The DynamoDB requests each call costs, as docs/design.md states them: a session list is its head and its page.
PROMISED = {
    "POST /study_sessions": 1,
    "POST /study_sessions/{id}/review": 1,
    "GET /study_sessions/{id}": 1,
    "GET /study_sessions": 2,
    "GET /api/study-sessions": 2,
    "GET /api/study-sessions/{id}": 1,
    "GET /api/study-activities": 1,
    "GET /api/study-activities/1": 1,
    "GET /api/study-activities/1/sessions": 2,
    "GET /api/study-activities/1/launch": 1,
    "GET /groups/1/words/raw": 1,
    "GET /groups": 1,
    "GET /groups/1": 1,
    "GET /groups/1/words": 2,
    "GET /groups/1/study_sessions": 2,
    "GET /words": 1,
    "GET /words/1": 1,
    "GET /dashboard/recent-session": 2,
    "GET /dashboard/stats": 2,
}
# With 60 sessions and 150 more words in the table.
PROMISED_BIG = {
    "GET /api/study-sessions": 1,  # its last row is page 100 of 60 sessions: past the end, the head alone
    "GET /study_sessions": 2,
    "GET /words": 1,
    "GET /groups/3/words": 2,
    "GET /groups/1/study_sessions": 2,
    "GET /dashboard/stats": 2,
}


def test_make_costs_measures_each_route_on_both_emulators_and_a_finished_reset():
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "costs", "ARGS=--reset-sessions 60 --vocabulary 150"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    moto, ministack = result.stdout.split("ministack: ")
    big_table = "(60 sessions, 161 words)"
    for output in (moto, ministack):
        lines = re.findall(r"^  (\w+ \S+)\s+(\d+) requests\s+[\d.]+ units\s+(.*)$", output, re.M)
        assert {route: int(requests) for route, requests, what in lines if big_table not in what} == PROMISED
    lines = re.findall(r"^  (\w+ \S+)\s+(\d+) requests\s+[\d.]+ units\s+(.*)$", ministack, re.M)
    assert {route: int(requests) for route, requests, what in lines if big_table in what} == PROMISED_BIG
    assert result.stdout.count("DynamoDB requests and capacity units per call") == 2
    assert re.search(r"reset of 60 sessions \(122 reviews\): 200 in [\d.]+ s", result.stdout)
    assert not list((ROOT / ".ministack").glob("costs-*"))

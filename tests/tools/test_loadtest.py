"""A small `make loadtest` beside a running `make dev` (which it must leave alone), and the audit it relies on,
shown to catch each fault it names."""

import json
import os
import re
import subprocess

from scripts.dev import start_dev_server, stop_dev_server
from scripts.loadtest import GROUP_NAMES, Sent, audit, failures
from scripts.local_stack import LOCAL_DIR, LOCAL_TABLE, ROOT, dynamodb_client, endpoint_url, port_in_use
from tests.support.dynamodb import scan_items

SMALL_RUN = "--creates 60 --clients 10 --bursts 2"


def make_loadtest(dynamodb_port: int) -> tuple[str, dict]:
    """A small `make loadtest` run, as a developer whose `make dev` uses DYNAMODB_PORT would start it; its output
    and the figures it printed."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT),
            "loadtest",
            f"DYNAMODB_PORT={dynamodb_port}",
            f"ARGS={SMALL_RUN}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    figures = json.loads("\n".join(lines[lines.index("{") : lines.index("}") + 1]))
    return result.stdout, figures


def test_loadtest_beside_a_running_make_dev_runs_on_servers_of_its_own_and_leaves_make_dev_alone(dev_place):
    folders_before = sorted(LOCAL_DIR.glob("loadtest-*"))
    dev = start_dev_server(
        port=dev_place.port,
        dynamodb_port=dev_place.dynamodb_port,
        data_dir=dev_place.data_dir,
        log_path=dev_place.log_path,
    )
    try:
        client = dynamodb_client(endpoint_url(dev_place.dynamodb_port))
        developers_data = scan_items(client, LOCAL_TABLE)
        output, figures = make_loadtest(dev_place.dynamodb_port)
        assert "make dev and its data are never touched" in output
        assert figures["sessions_created"] == 60 + 2
        assert failures(figures) == [], figures
        # 60 creates (30 with a key, resent once or twice), 6 keys reused for another body, 6 bad requests,
        # and 2 bursts of 10 clients.
        assert figures["requests"] == figures["planned_requests"] == 60 + 45 + 6 + 6 + 20
        assert figures["key_records"] == 30 + 2
        assert figures["statuses"].get("201", 0) + figures["statuses"].get("409", 0) == 60 + 45 + 20  # keys: JSON
        assert scan_items(client, LOCAL_TABLE) == developers_data
        assert client.list_tables()["TableNames"] == [LOCAL_TABLE]
    finally:
        stop_dev_server(dev)
    ports = [int(port) for port in re.search(r"ports (\d+) and (\d+)", output).groups()]
    assert not any(port_in_use(port) for port in ports)
    assert sorted(LOCAL_DIR.glob("loadtest-*")) == folders_before


def session(session_id: int, group_id: int = 1) -> dict:
    return {
        "PK": f"SESSION#{session_id}",
        "SK": "META",
        "id": session_id,
        "group_id": group_id,
        "group_name": GROUP_NAMES[group_id],
        "study_activity_id": 1,
        "activity_name": "Typing Tutor",
        "created_at": "t",
        "end_time": "t",
        "review_items_count": 0,
    }


def created(intent: str, session_id: int, key: str | None = None, kind: str = "create", group_id: int = 1) -> Sent:
    return Sent(
        kind, intent, {"group_id": group_id, "study_activity_id": 1}, key, 201, {"id": session_id, "group_id": group_id}
    )


def record(session_id: int, key: str) -> dict:
    return {"PK": f"IDEMPOTENCY#{key}", "SK": "CREATE_SESSION", "session": {"id": session_id}}


def problems(sent: list[Sent], after: dict, before: dict | None = None) -> list[str]:
    return failures({**audit(sent, before or {}, after), "planned_requests": len(sent)})


def test_the_audit_passes_a_clean_run():
    sent = [created("a", 1), created("b", 2, "k"), created("b", 2, "k", "resend")]
    stored = {"SESSION#1": session(1), "SESSION#2": session(2), "IDEMPOTENCY#k": record(2, "k")}
    assert problems(sent, stored) == []


def test_the_audit_catches_a_lost_an_orphan_a_duplicate_and_a_partial_session():
    assert any("lost_sessions" in p for p in problems([created("a", 1)], {}))
    assert any(
        "orphan_sessions" in p for p in problems([created("a", 1)], {"SESSION#1": session(1), "SESSION#2": session(2)})
    )
    duplicated = [created("b", 1, "k"), created("b", 2, "k", "resend")]
    assert any(
        "intents_with_more_than_one_id" in p
        for p in problems(
            duplicated, {"SESSION#1": session(1), "SESSION#2": session(2), "IDEMPOTENCY#k": record(1, "k")}
        )
    )
    partial = {key: value for key, value in session(1).items() if key != "group_name"}
    assert any("partial_sessions" in p for p in problems([created("a", 1)], {"SESSION#1": partial}))


def test_the_audit_catches_key_records_missing_or_pointing_nowhere_and_answers_for_another_request():
    assert any("key_records_missing" in p for p in problems([created("b", 1, "k")], {"SESSION#1": session(1)}))
    assert any(
        "key_records_without_their_session" in p
        for p in problems([created("b", 1, "k")], {"SESSION#1": session(1), "IDEMPOTENCY#k": record(9, "k")})
    )
    crossed = created("a", 1)
    crossed.answer["group_id"] = 2
    assert any("answers_for_another_request" in p for p in problems([crossed], {"SESSION#1": session(1)}))


def test_the_audit_catches_a_5xx_and_a_changed_item():
    failed = Sent("create", "a", {"group_id": 1, "study_activity_id": 1}, None, 503, {"error": "busy"})
    assert any("unexpected_statuses" in p for p in problems([failed], {}))
    group = {"PK": "GROUP#1", "SK": "META", "name": "Core Verbs"}
    assert any("items_changed_or_deleted" in p for p in problems([], {}, before={"GROUP#1": group}))

"""`make dev` for real, through make: ministack and `chalice local` over HTTP on loopback; every way of stopping it,
taken ports, and `make seed`, `make help`."""

import http.client
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from scripts.dev import DEFAULT_PORT, port_taken_message, start_dev_server, stop_dev_server
from scripts.local_stack import (
    LOCAL_TABLE,
    ROOT,
    dynamodb_client,
    endpoint_url,
    port_in_use,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed_data import GROUPS

STOPPED = "stopped chalice local and ministack"


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    host: str = "127.0.0.1",
    content_type: str = "application/json",
) -> tuple[int, dict, object]:
    """One HTTP request to `make dev` (host "localhost" resolves as the portal's frontend's does)."""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(
            method, path, body=body, headers={"Content-Type": content_type, "Origin": "http://localhost:5173"}
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def create_session(port: int, host: str = "127.0.0.1") -> dict:
    status, _, created = request(port, "POST", "/study_sessions", b'{"group_id": 1, "study_activity_id": 1}', host)
    assert status == 201, created
    return created


def stored_session(dev_place, session_id: int) -> dict | None:
    """The session as ministack saved it: a ministack of its own on make dev's state, started and stopped here."""
    process = start_ministack(
        port=dev_place.dynamodb_port, log_path=dev_place.data_dir / "check.log", state_dir=dev_place.data_dir / "state"
    )
    try:
        wait_until_ready(port=dev_place.dynamodb_port, process=process)
        return (
            dynamodb_client(endpoint_url(dev_place.dynamodb_port))
            .get_item(TableName=LOCAL_TABLE, Key={"PK": {"S": f"SESSION#{session_id}"}, "SK": {"S": "META"}})
            .get("Item")
        )
    finally:
        stop_ministack(process)


def start(dev_place) -> subprocess.Popen:
    return start_dev_server(
        port=dev_place.port,
        dynamodb_port=dev_place.dynamodb_port,
        data_dir=dev_place.data_dir,
        log_path=dev_place.log_path,
    )


def make(*arguments: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run a make target of the project as a developer would, with a clean environment unless given."""
    env = env if env is not None else {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    env = {**env, "TMPDIR": os.environ["TMPDIR"]}  # the run's own temp folder (scripts/pytest_plugin.py)
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_make_dev_serves_the_contract_on_127_0_0_1_and_localhost_and_keeps_data_across_restarts(dev_place):
    dev = start(dev_place)
    try:
        status, headers, created = request(
            dev_place.port, "POST", "/study_sessions", b'{"group_id": 1, "study_activity_id": 1}'
        )
        assert status == 201 and created["group_name"] == "Core Verbs"
        assert headers["Location"] == f"/study_sessions/{created['id']}"
        assert headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
        # The portal's React frontend calls http://localhost:<port>, the Typing Tutor http://127.0.0.1:<port>.
        assert create_session(dev_place.port, host="localhost")["group_id"] == 1
        assert request(dev_place.port, "POST", "/study_sessions", b'{"group_id": true, "study_activity_id": 1}')[2] == {
            "error": "group_id must be an integer from 1 to 9007199254740991"
        }
        assert request(dev_place.port, "POST", "/study_sessions", b'{"group_id": 1, ')[2] == {
            "error": "Request body is not valid JSON"
        }
        assert request(dev_place.port, "POST", "/study_sessions", b"{}", content_type="text/plain")[0] == 415
    finally:
        stop_dev_server(dev)
    assert not port_in_use(dev_place.port) and not port_in_use(dev_place.dynamodb_port)

    dev = start(dev_place)
    try:
        item = dynamodb_client(endpoint_url(dev_place.dynamodb_port)).get_item(
            TableName=LOCAL_TABLE, Key={"PK": {"S": f"SESSION#{created['id']}"}, "SK": {"S": "META"}}
        )
        assert item["Item"]["group_name"] == {"S": "Core Verbs"}
    finally:
        stop_dev_server(dev)
    output = dev_place.log_path.read_text()
    assert output.count(STOPPED) == 2 and "Traceback" not in output


def _descendant(pid: int, command_part: str) -> int:
    """The PID of the process under `pid` whose command line contains command_part."""
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            for child in (task / "children").read_text().split():
                if command_part.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
                pending.append(int(child))
    raise LookupError(f"no process under {pid} runs {command_part}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("to", ["script", "process-group"])
@pytest.mark.parametrize("times", [1, 3])
def test_any_stop_signal_stops_both_servers_frees_both_ports_and_saves_the_data(dev_place, signum, to, times):
    dev = start(dev_place)
    created = create_session(dev_place.port)
    script = _descendant(dev.pid, "scripts.dev")
    for sent in range(times):
        if sent:
            time.sleep(0.15)  # the later ones arrive while the servers are being stopped
        try:
            os.killpg(dev.pid, signum) if to == "process-group" else os.kill(script, signum)
        except ProcessLookupError:
            break  # everything has stopped already
    try:
        dev.wait(timeout=60)
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
    output = dev_place.log_path.read_text()
    assert output.count(STOPPED) == 1 and "Traceback" not in output, output
    assert not port_in_use(dev_place.port) and not port_in_use(dev_place.dynamodb_port)
    assert stored_session(dev_place, created["id"])["group_name"] == {"S": "Core Verbs"}


def dev_refusal(dev_place, **ports: int) -> tuple[str, float]:
    """`make dev` on taken ports: what it says on stderr, and how long it took to say it."""
    variables = {"PORT": dev_place.port, "DYNAMODB_PORT": dev_place.dynamodb_port, **ports}
    started = time.monotonic()
    result = make(
        "dev", *[f"{name}={value}" for name, value in variables.items()], f"ARGS=--data-dir {dev_place.data_dir}"
    )
    took = time.monotonic() - started
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    return line, took


def test_make_dev_with_the_dynamodb_port_held_by_another_program_says_how_to_move_it(dev_place, foreign_server):
    line, took = dev_refusal(dev_place, DYNAMODB_PORT=foreign_server)
    assert f"port {foreign_server}" in line and "another program" in line
    assert re.search(r"`DYNAMODB_PORT=\d+ make dev`", line)
    assert took < 5
    assert not port_in_use(dev_place.port)


def test_make_dev_with_a_ministack_already_on_its_port_asks_whether_make_dev_runs_and_how_to_run_beside_it(
    dev_place, ministack_port
):
    line, took = dev_refusal(dev_place, DYNAMODB_PORT=ministack_port)
    assert "is another `make dev` running" in line
    # Beside it means a data folder of its own as well as ports: two servers on one state overwrite each other.
    assert re.search(r"`DATA_DIR=\.ministack-2 PORT=\d+ DYNAMODB_PORT=\d+ make dev`", line)
    assert took < 5


def test_make_dev_with_the_api_port_taken_names_it_and_the_variable_that_moves_it(dev_place, foreign_server):
    line, took = dev_refusal(dev_place, PORT=foreign_server)
    assert f"port {foreign_server}" in line and "chalice local" in line and took < 5
    assert re.search(r"`PORT=\d+ make dev`", line)
    assert not port_in_use(dev_place.dynamodb_port)  # nothing was started


@pytest.mark.parametrize(
    "ports, message",
    [
        ({"PORT": "abc"}, "PORT must be a port number from 1 to 65535, not 'abc'"),
        ({"DYNAMODB_PORT": "70000"}, "DYNAMODB_PORT must be a port number from 1 to 65535, not '70000'"),
        ({"PORT": "4999", "DYNAMODB_PORT": "4999"}, "PORT and DYNAMODB_PORT are both 4999"),
    ],
)
def test_make_dev_refuses_malformed_or_equal_ports_in_one_line(dev_place, ports, message):
    line, took = dev_refusal(dev_place, **ports)
    assert message in line and took < 5


def test_the_message_for_port_5000_names_macos_airplay_receiver():
    assert "AirPlay Receiver" in port_taken_message(port=DEFAULT_PORT, dynamodb=False)
    assert "AirPlay" not in port_taken_message(port=8000, dynamodb=False)


def test_make_dev_defaults_to_the_portals_port_5000_and_dynamodb_on_4566():
    assert DEFAULT_PORT == 5000
    result = make("--dry-run", "dev")
    assert "scripts.dev --port 5000" in result.stdout
    assert "PORT=5000 DYNAMODB_PORT=4566" in make("help").stdout


def test_make_and_make_help_list_every_target_with_its_description():
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")  # a line continued with a backslash is one
    phony = next(line for line in makefile.splitlines() if line.startswith(".PHONY:"))
    targets = phony.split(":")[1].split()
    listed = make().stdout
    assert listed == make("help").stdout
    described = {line.split()[1]: line.split(None, 2)[2] for line in listed.splitlines() if line.startswith("  make ")}
    assert set(described) == set(targets) and all(described.values())


def test_make_seed_with_its_port_held_by_another_program_fails_in_one_line_within_5_s(foreign_server):
    started = time.monotonic()
    result = make("seed", f"DYNAMODB_PORT={foreign_server}")
    assert time.monotonic() - started < 5
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert f"port {foreign_server}" in line and "not ministack" in line


def test_make_seed_loads_the_seed_into_a_running_ministack_on_dynamodb_port(ministack_port):
    result = make("seed", f"DYNAMODB_PORT={ministack_port}")
    assert result.returncode == 0, result.stderr
    client = dynamodb_client(endpoint_url(ministack_port))
    try:
        group = client.get_item(TableName=LOCAL_TABLE, Key={"PK": {"S": "GROUP#1"}, "SK": {"S": "META"}})["Item"]
        assert group["name"] == {"S": GROUPS[0]["name"]}
    finally:
        client.delete_table(TableName=LOCAL_TABLE)


NO_AWS = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.mark.parametrize("target", [["seed-stack"], ["deploy", "BUCKET=some-bucket"]])
def test_seed_stack_and_deploy_without_aws_credentials_say_so_in_one_line(target):
    result = make(*target, env=NO_AWS)
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert "Unable to locate credentials" in line


@pytest.mark.parametrize("cors_origin", [None, "http://portal.example.org", "https://a.example.org,http://b.example"])
def test_make_deploy_prod_refuses_without_https_cors_origins_before_touching_aws(cors_origin):
    variables = ["STAGE=prod", "BUCKET=some-bucket"] + ([f"CORS_ORIGIN={cors_origin}"] if cors_origin else [])
    result = make("deploy", *variables, env=NO_AWS)
    assert result.returncode == 2
    assert "make deploy STAGE=prod needs CORS_ORIGIN=https://" in result.stderr
    assert "credentials" not in result.stderr

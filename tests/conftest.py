"""Fixtures of every kind of test: every data test runs twice, on moto (in process) and on a ministack server on
loopback; helpers they share are in tests/support/."""

import fcntl
import io
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

import app as app_module
from chalicelib import runtime
from chalicelib.logs import JsonFormatter
from chalicelib.store import StudyRepository
from chalicelib.store.table import create_table_if_missing
from scripts.aws_env import is_caller_aws, placeholder_aws
from scripts.dev import DEFAULT_PORT, start_chalice_local, stop_chalice_local, wait_for_http
from scripts.local_stack import (
    LOCAL_TABLE,
    ROOT,
    free_port,
    port_in_use,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed_data import load_seed
from tests.support.dynamodb import new_session, scan_items
from tests.support.openapi import ConformingClient
from tests.support.portal import STAGE, TABLE_NAME, DevPlace


@pytest.fixture(autouse=True)
def aws_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test can reach real AWS: placeholder credentials, a fixed region, no profile or endpoint of the caller's."""
    for name in [name for name in os.environ if is_caller_aws(name)]:
        monkeypatch.delenv(name)
    empty = tmp_path_factory.getbasetemp() / "empty-aws-config"
    empty.touch()
    for name, value in placeholder_aws(credentials="testing", config_file=str(empty)).items():
        monkeypatch.setenv(name, value)
    # A fresh default session per test, so event handlers a test registers die with it.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setattr(
        boto3, "setup_default_session", lambda **kwargs: setattr(boto3, "DEFAULT_SESSION", new_session(**kwargs))
    )


@pytest.fixture(scope="session")
def ministack_port(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One ministack server for the whole run, on a free loopback port, stopped at the end."""
    port = free_port()
    process = start_ministack(port=port, log_path=tmp_path_factory.mktemp("ministack") / "ministack.log")
    try:
        wait_until_ready(port=port, process=process)
        yield port
    finally:
        stop_ministack(process)


@pytest.fixture(scope="module")
def chalice_port(ministack_port: int, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One `chalice local --stage local` through make dev's wrapper for the module, on a free loopback port, over
    the run's ministack."""
    port = free_port()
    process = start_chalice_local(
        port=port,
        dynamodb_port=ministack_port,
        table=LOCAL_TABLE,
        log_path=tmp_path_factory.mktemp("chalice-local") / "chalice.log",
    )
    try:
        wait_for_http(port, process)
        yield port
    finally:
        stop_chalice_local(process)


@pytest.fixture(params=["moto", "ministack"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The DynamoDB under test; boto3 clients created during the test (the app's too) talk to it."""
    if request.param == "moto":
        with mock_aws():
            yield request.param
    else:
        port = request.getfixturevalue("ministack_port")
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
        yield request.param


@pytest.fixture
def dynamodb(backend: str) -> Any:
    """The test's own client, for arranging data and reading what was stored."""
    return new_session().client("dynamodb")


@pytest.fixture
def table(dynamodb: Any) -> Any:
    create_table_if_missing(dynamodb, table_name=TABLE_NAME)
    yield TABLE_NAME
    dynamodb.delete_table(TableName=TABLE_NAME)  # ministack outlives the test; moto forgets by itself


@pytest.fixture
def repository(dynamodb: Any, table: str) -> StudyRepository:
    return StudyRepository(client=dynamodb, table_name=table)


@pytest.fixture
def seeded(repository: StudyRepository) -> StudyRepository:
    load_seed(repository)
    return repository


@pytest.fixture
def api(seeded: StudyRepository, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Chalice's test client on the dev stage, each answer checked against docs/openapi.yaml. The app builds its
    own DynamoDB client on its first request."""
    # Forget a repository cached by an earlier test: it was bound to that test's backend.
    runtime.reset_repository()
    with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield ConformingClient(client.http)


@pytest.fixture
def bare_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Chalice's test client with no DynamoDB behind it, for answers given before any DynamoDB request: one made
    anyway goes to a closed loopback port and answers 503, so such a test fails. Answers checked as api's."""
    runtime.reset_repository()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
    with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield ConformingClient(client.http)


@pytest.fixture
def post_session(api: Any) -> Callable[..., Any]:
    """POST /study_sessions with a JSON body (a dict or raw bytes) and JSON headers unless given."""

    def post(body: Any, headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return api.post(
            "/study_sessions", body=raw, headers={"Content-Type": "application/json"} if headers is None else headers
        )

    return post


@pytest.fixture
def app_log() -> Any:
    """What the app logs during the test, as Lambda would ship it: a function returning the JSON lines parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    app_module.app.log.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        app_module.app.log.removeHandler(handler)


@pytest.fixture(scope="module")
def portal_port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The port the portal's clients call (5000) for a test module's `make dev`, held by one module at a time across
    the run's workers (make test runs two); a free port instead if a developer's own `make dev` holds 5000."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if hasattr(request.config, "workerinput") else base  # the run's, over its workers'
    with open(shared / "port-5000.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield DEFAULT_PORT if not port_in_use(DEFAULT_PORT) else free_port()


@pytest.fixture
def dev_place(tmp_path: Path) -> DevPlace:
    return DevPlace(
        port=free_port(), dynamodb_port=free_port(), data_dir=tmp_path / "data", log_path=tmp_path / "dev.log"
    )


@pytest.fixture
def silent_server() -> Any:
    """A loopback TCP port that accepts connections and never answers: a hanging DynamoDB, or a port some other
    program holds."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture(params=["silent", "answers-not-http"])
def foreign_server(request: pytest.FixtureRequest) -> Any:
    """A loopback port another program holds: one that never answers, or one that answers something not HTTP
    (as Redis or SSH would)."""
    if request.param == "silent":
        yield request.getfixturevalue("silent_server")
        return
    stop = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.1)

        def answer() -> None:
            while not stop.is_set():
                try:
                    connection, _ = server.accept()
                except TimeoutError:
                    continue
                with connection:
                    connection.sendall(b"-ERR unknown command\r\n")

        thread = threading.Thread(target=answer)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join()


@pytest.fixture
def stored_sessions(dynamodb: Any, table: str) -> Callable[[], list[dict[str, Any]]]:
    """Reads every session item in the table, straight from DynamoDB."""
    return lambda: [item for item in scan_items(dynamodb, table) if item["PK"].startswith("SESSION#")]


@pytest.fixture
def botocore_events() -> Any:
    """The event hooks of the clients the app will create: the place to observe or inject DynamoDB faults."""
    return boto3._get_default_session().events


@pytest.fixture
def dynamodb_calls(botocore_events: Any) -> list[str]:
    """The DynamoDB operations the app calls, in order."""
    calls: list[str] = []
    botocore_events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return calls


@pytest.fixture
def dynamodb_sends(botocore_events: Any) -> list[str]:
    """The operation of every HTTP request the app's client sends to DynamoDB, retries included, in order."""
    sends: list[str] = []
    botocore_events.register("before-send.dynamodb", lambda event_name, **_: sends.append(event_name.split(".")[-1]))
    return sends

"""Where the HTTP contract runs: `chalice local`, and the dev stage deployed into ministack through CloudFormation
in the default access mode (AWS_IAM) and called through `make proxy` (both started here), or a running API given
with --base-url (a real deployment, or `make dev`)."""

import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlparse, urlsplit

import boto3
import pytest

from scripts.aws_env import placeholder_aws
from scripts.dev import start_dev_server, stop_dev_server
from scripts.local_stack import (
    LOCAL_TABLE,
    ROOT,
    dynamodb_client,
    endpoint_url,
    free_port,
    local_client,
    port_in_use,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)

STAGE = "dev"
STACK = f"study-portal-{STAGE}"
SERVICES = "dynamodb,lambda,apigateway,cloudformation,iam,logs,s3,sts,sns,cloudwatch"
ARTIFACTS_BUCKET = "study-portal-artifacts"
VALID = {"group_id": 1, "study_activity_id": 1}  # the seeded group 1 and activity 1
VALID_BODY = json.dumps(VALID).encode()
WARM_CALLS = 20
# docs/operations.md's "Access logs: a one-time account setting", as its commands run (e2e/test_access.py checks
# that the page gives exactly these).
ACCOUNT_SETUP = [
    [
        "iam",
        "create-role",
        "--role-name",
        "APIGatewayCloudWatchLogs",
        "--assume-role-policy-document",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},'
        '"Action":"sts:AssumeRole"}]}',
    ],
    [
        "iam",
        "attach-role-policy",
        "--role-name",
        "APIGatewayCloudWatchLogs",
        "--policy-arn",
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    ],
    [
        "apigateway",
        "update-account",
        "--patch-operations",
        "op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::000000000000:role/APIGatewayCloudWatchLogs",
    ],
]
CONTRACT_RATE, CONTRACT_BURST = 1000, 2000  # requests a second, and at once, a method of the contract's stack takes
TIMINGS: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("e2e")
    group.addoption(
        "--base-url",
        help="run the HTTP contract against this running API, up to its stage "
        "(https://<id>.execute-api.<region>.amazonaws.com/api, or "
        "http://127.0.0.1:5000 for `make dev`), instead of the targets e2e starts",
    )
    group.addoption(
        "--table-name",
        help="with --base-url: the API's table, read with your AWS settings "
        "(AWS_ENDPOINT_URL_DYNAMODB for `make dev`) to check what was stored",
    )


@dataclass(frozen=True)
class Target:
    """An API under test, and a way to read what it stored."""

    name: str
    base_url: str  # up to the stage: requests go to base_url + "/study_sessions"
    location_prefix: str  # what the API puts before /study_sessions/<id> in Location
    dynamodb: Any
    table: str


@dataclass(frozen=True)
class Emulator:
    """A ministack of its own with the services a deploy needs, enforcing IAM (AUTH=true), and the AWS CLI's
    environment for it."""

    endpoint_url: str
    port: int
    env: dict[str, str]
    work: Path

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint_url)

    def set_up_account(self) -> None:
        """The one-time account setting API Gateway's access logs need, with the AWS CLI commands
        docs/operations.md gives."""
        for command in ACCOUNT_SETUP:
            result = subprocess.run(
                [str(ROOT / ".venv-deploy" / "bin" / "aws"), *command], env=self.env, capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr

    def deploy(self, stack: str, **variables: str) -> dict[str, str]:
        """`make deploy` of the dev stage as STACK, with these make variables; the stack's outputs."""
        _make(
            "deploy",
            env=self.env,
            BUCKET=ARTIFACTS_BUCKET,
            STAGE=STAGE,
            BUILD=str(self.work / stack),
            STACK=stack,
            **variables,
        )
        [described] = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}

    def seed(self, stack: str) -> None:
        """`make seed-stack`: the seed data into the stack's table."""
        _make("seed-stack", env=self.env, STACK=stack)

    def destroy(self, stack: str) -> None:
        _make("destroy", env=self.env, STAGE=STAGE, BUILD=str(self.work / stack), STACK=stack)

    def api_url(self, outputs: dict[str, str]) -> str:
        """Where ministack serves a deployed API's stage, unsigned requests and all."""
        return f"{self.endpoint_url}/restapis/{outputs['RestAPIId']}/api/_user_request_"

    @contextmanager
    def proxy(self, stack: str) -> Iterator[str]:
        """`make proxy STACK=...` on a free port, as a learner runs it (Ctrl-C at the end): its URL."""
        port = free_port()
        log_path = self.work / f"proxy-{stack}-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                ["make", "--no-print-directory", "-C", str(ROOT), "proxy", f"STACK={stack}", f"PORT={port}"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while not port_in_use(port):
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


@dataclass(frozen=True)
class Deployment:
    """The dev stage, deployed by `make deploy` (default mode: AWS_IAM) into a ministack of its own."""

    emulator: Emulator
    outputs: dict[str, str]
    base_url: str  # `make proxy`'s, which signs each request: what the portal's clients call

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    @property
    def port(self) -> int:
        return self.emulator.port

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    @property
    def upstream_url(self) -> str:
        """The stage on ministack itself, where a request without a signature goes."""
        return self.emulator.api_url(self.outputs)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None if the body is not JSON
    raw: bytes = b""  # the body as sent: tells JSON null from an empty or non-JSON body

    def error(self) -> str:
        """The message of an answer that must be in the {"error": ...} shape."""
        assert self.headers["content-type"].startswith("application/json")
        assert set(self.body) == {"error"} and isinstance(self.body["error"], str) and self.body["error"]
        return self.body["error"]


def send(
    base_url: str,
    method: str,
    path: str = "/study_sessions",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request, with exactly the headers given (http.client adds Host, unless given, and Content-Length)."""
    url = urlsplit(base_url + path)
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(url.netloc, timeout=30)
    try:
        connection.request(method, url.path + (f"?{url.query}" if url.query else ""), body=body, headers=headers or {})
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        return Answer(response.status, {name.lower(): value for name, value in response.getheaders()}, parsed, raw)
    finally:
        connection.close()


def post(base_url: str, body: bytes = VALID_BODY) -> Answer:
    """POST /study_sessions with a JSON body."""
    return send(base_url, "POST", body=body, headers={"Content-Type": "application/json"})


def _make(target: str, *, env: dict[str, str], **variables: str) -> None:
    """Run a Makefile target of the project, as a developer would."""
    command = ["make", "--no-print-directory", "-C", str(ROOT), target] + [f"{k}={v}" for k, v in variables.items()]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"make {target} failed:\n{result.stdout}\n{result.stderr}"


def _emulator_environment(endpoint_url: str, home: Path) -> dict[str, str]:
    """The AWS CLI's environment for the emulator: its endpoint, its root credentials, none of the caller's."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ENDPOINT_URL": endpoint_url,
        **placeholder_aws(credentials="test"),
    }


@pytest.fixture(scope="session")
def emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """ministack with the services a deploy needs, enforcing IAM, and a bucket for the code."""
    if request.config.getoption("--base-url"):
        pytest.skip("deploys stacks of its own, and --base-url names a running API instead")
    work = tmp_path_factory.mktemp("deploy")
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    ministack = start_ministack(port=port, log_path=work / "ministack.log", services=SERVICES, enforce_iam=True)
    try:
        wait_until_ready(port=port, process=ministack)
        local_client("s3", endpoint_url).create_bucket(Bucket=ARTIFACTS_BUCKET)
        emulator = Emulator(
            endpoint_url=endpoint_url, port=port, env=_emulator_environment(endpoint_url, work), work=work
        )
        emulator.set_up_account()
        yield emulator
    finally:
        stop_ministack(ministack)


@pytest.fixture(scope="session")
def deployment(emulator: Emulator) -> Iterator[Deployment]:
    """`make deploy` (the default access mode) and `make seed-stack` into the emulator, and `make proxy` to call it;
    `make destroy` after."""
    started = time.monotonic()
    # The contract's requests come faster than a learner's: the default throttle (checked on the second stack of
    # e2e/test_access.py) would answer some of them 429.
    outputs = emulator.deploy(STACK, THROTTLE_RATE=str(CONTRACT_RATE), THROTTLE_BURST=str(CONTRACT_BURST))
    TIMINGS["make deploy (package, upload, stack create)"] = f"{time.monotonic() - started:.1f} s"
    _time_stack_create(emulator.client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"])
    emulator.seed(STACK)
    with emulator.proxy(STACK) as proxy_url:
        deployed = Deployment(emulator=emulator, outputs=outputs, base_url=proxy_url)
        _time_calls(deployed.base_url)
        yield deployed
    emulator.destroy(STACK)
    assert outputs["TableName"] not in emulator.client("dynamodb").list_tables()["TableNames"]


def _time_stack_create(events: list[dict[str, Any]]) -> None:
    """From the stack's own events: its change set created, to CREATE_COMPLETE."""
    times = {event["ResourceStatus"]: event["Timestamp"] for event in events if event["LogicalResourceId"] == STACK}
    took = times["CREATE_COMPLETE"] - times["REVIEW_IN_PROGRESS"]
    TIMINGS["stack create (CloudFormation events: change set created to CREATE_COMPLETE)"] = (
        f"{took.total_seconds():.2f} s"
    )


def _time_calls(base_url: str) -> None:
    """The first call (the Lambda's cold start) and warm calls through `make proxy`, for the summary; nothing is
    asserted on them."""
    started = time.monotonic()
    assert post(base_url).status == 201
    TIMINGS["cold call (first POST through make proxy, 201)"] = f"{(time.monotonic() - started) * 1000:.0f} ms"
    warm = []
    for _ in range(WARM_CALLS):
        started = time.monotonic()
        assert post(base_url).status == 201
        warm.append(time.monotonic() - started)
    TIMINGS[f"warm call (POST through make proxy, 201; median, max of {WARM_CALLS})"] = (
        f"{median(warm) * 1000:.0f} ms, {max(warm) * 1000:.0f} ms"
    )


@pytest.fixture(scope="session")
def chalice_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """`make dev` on free ports, with throwaway data."""
    work = tmp_path_factory.mktemp("chalice-local")
    port, dynamodb_port = free_port(), free_port()
    server = start_dev_server(port=port, dynamodb_port=dynamodb_port, data_dir=work / "data", log_path=work / "dev.log")
    try:
        yield Target(
            name="chalice-local",
            base_url=f"http://127.0.0.1:{port}",
            location_prefix="",
            dynamodb=dynamodb_client(endpoint_url(dynamodb_port)),
            table=LOCAL_TABLE,
        )
    finally:
        stop_dev_server(server)


def _given_target(config: pytest.Config) -> Target:
    base_url = config.getoption("--base-url").rstrip("/")
    table = config.getoption("--table-name")
    if not table:
        raise pytest.UsageError("--base-url needs --table-name: every contract test checks what was stored")
    return Target(
        name=base_url,
        base_url=base_url,
        location_prefix=urlparse(base_url).path,
        dynamodb=boto3.client("dynamodb"),
        table=table,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        names = ["given"] if metafunc.config.getoption("--base-url") else ["chalice-local", "ministack-deploy"]
        metafunc.parametrize("target_name", names, scope="session")


@pytest.fixture(scope="session")
def target(target_name: str, request: pytest.FixtureRequest) -> Target:
    """The API the contract runs against (each test runs once per target)."""
    if target_name == "given":
        return _given_target(request.config)
    if target_name == "chalice-local":
        return request.getfixturevalue("chalice_local")
    deployed: Deployment = request.getfixturevalue("deployment")
    return Target(
        name="ministack-deploy",
        base_url=deployed.base_url,
        location_prefix="",  # make proxy hands back Location without the stage, as its clients address it
        dynamodb=deployed.client("dynamodb"),
        table=deployed.outputs["TableName"],
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("e2e deploy into ministack: timings (measured in this run)")
        for what, value in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {value}")

"""`make proxy` for real, through make: a ministack with CloudFormation stands in for AWS (IAM enforced, so it refuses
an unknown access key), and a fake API Gateway on loopback stands in for the stack's API, recording every request it
gets. The stacks' EndpointURL outputs name the fake, so what the proxy sends, and signs, is checked where it arrives."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from scripts.local_stack import (
    ROOT,
    endpoint_url,
    free_port,
    port_in_use,
    start_ministack,
    stop_ministack,
    wait_until_ready as wait_for_ministack,
)
from scripts.proxy import error_answer, upstream_base
from tests.support.portal import PORTAL_ORIGIN
from tests.tools.test_aws_region import REGION, emulator_client, tool_environment

STACK = "study-portal-proxy"
NO_API_STACK = "study-portal-proxy-no-api"  # a stack without the API's outputs
GONE_STACK = "study-portal-proxy-gone"  # its API's address answers nothing
REST_API_ID = "proxy0test"
TUTOR_ORIGIN = "http://127.0.0.1:8080"
ORIGINS = f"{PORTAL_ORIGIN},{TUTOR_ORIGIN}"
BODY = b'{"group_id": 1, "study_activity_id": 1}'
QUERIED = "/study_sessions?limit=10&cursor=eyJ0IjoxfQ&q=a,b%20c"
JSON = {"Content-Type": "application/json"}
STOPPED = "make proxy: stopped"
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade"}


# --- the fake API Gateway ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A request as the fake API got it."""

    method: str
    target: str  # path and query, as sent
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    def names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}


@dataclass
class Reply:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "application/json")])
    body: bytes = b"{}"
    chunked: bool = False


class FakeApi:
    """An HTTP server on a loopback port that records each request and answers `reply`; or, with `mode` "close",
    reads the request and closes the connection without an answer; with "hang", never answers."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.reply = Reply()
        self.mode = "answer"
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def reset(self) -> None:
        self.seen.clear()
        self.reply, self.mode = Reply(), "answer"
        self.released.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.seen.append(Seen(self.command, self.path, list(self.headers.items()), body))
                if api.mode != "answer":
                    if api.mode == "hang":
                        api.released.wait(10)
                    self.close_connection = True
                    return
                reply = api.reply
                self.send_response_only(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    half = len(reply.body) // 2
                    for chunk in (reply.body[:half], reply.body[half:], b""):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = handle_any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- checking a signature where it arrives ----------------------------------------------------------------------


def assert_signed(seen: Seen, *, including: set[str]) -> None:
    """The request carries a SigV4 signature for execute-api in REGION, by the key "test", over these headers at
    least, and it is correct for what arrived: recomputed here from the method, path, query, the signed headers'
    values and the body as received."""
    match = AUTHORIZATION.fullmatch(seen.header("authorization") or "")
    assert match, seen.header("authorization")
    assert (match["key"], match["region"], match["service"]) == ("test", REGION, "execute-api")
    stamp = seen.header("x-amz-date") or ""
    assert re.fullmatch(r"\d{8}T\d{6}Z", stamp) and stamp[:8] == match["date"]
    assert (
        abs((datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 300
    )
    signed = match["signed"].split(";")
    assert including <= set(signed), signed
    request = AWSRequest(
        method=seen.method,
        url=f"http://{seen.header('host')}{seen.target}",
        headers={name: seen.header(name) for name in signed},
        data=seen.body,
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials("test", "test"), "execute-api", REGION)
    assert match["signature"] == signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )


# --- the emulated AWS, the stacks and the proxy -----------------------------------------------------------------


def create_stack(endpoint: str, name: str, *, api_url: str | None) -> None:
    """A stack as `make deploy`'s looks to the proxy: the CorsAllowOrigins parameter and, if api_url is given, the
    outputs RestAPIId and EndpointURL; one placeholder resource (a stack needs one)."""
    template: dict[str, Any] = {
        "Parameters": {"CorsAllowOrigins": {"Type": "String"}},
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
    if api_url is not None:
        template["Outputs"] = {"RestAPIId": {"Value": REST_API_ID}, "EndpointURL": {"Value": api_url}}
    cloudformation = emulator_client("cloudformation", endpoint)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "CorsAllowOrigins", "ParameterValue": ORIGINS}],
    )
    deadline = time.monotonic() + 30
    while (status := cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]) != "CREATE_COMPLETE":
        assert not status.endswith(("FAILED", "ROLLBACK_COMPLETE")) and time.monotonic() < deadline, status
        time.sleep(0.05)


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    api.thread.start()
    try:
        yield api
    finally:
        api.released.set()
        api.server.shutdown()
        api.server.server_close()
        api.thread.join()


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory, fake_api: FakeApi) -> Iterator[str]:
    """A ministack checking every call against IAM, with the three stacks: its endpoint."""
    port = free_port()
    server = start_ministack(
        port=port,
        log_path=tmp_path_factory.mktemp("proxy-aws") / "ministack.log",
        services="dynamodb,cloudformation",
        enforce_iam=True,
    )
    try:
        wait_for_ministack(port=port, process=server)
        endpoint = endpoint_url(port)
        create_stack(endpoint, STACK, api_url=f"http://127.0.0.1:{fake_api.port}/api/")
        create_stack(endpoint, NO_API_STACK, api_url=None)
        create_stack(endpoint, GONE_STACK, api_url=f"http://127.0.0.1:{free_port()}/api/")
        yield endpoint
    finally:
        stop_ministack(server)


@pytest.fixture
def api(fake_api: FakeApi) -> Iterator[FakeApi]:
    fake_api.reset()
    try:
        yield fake_api
    finally:
        fake_api.released.set()  # a hanging answer ends with the test


def proxy_environment(aws: str, home: Path, **changes: str | None) -> dict[str, str]:
    """A user's shell whose AWS is the emulator for CloudFormation only (its service-specific endpoint variable),
    so the stack's EndpointURL is what the proxy calls; `changes` set variables, or remove them (None)."""
    env: dict[str, str | None] = {
        **tool_environment(aws, home, AWS_REGION=REGION, AWS_ENDPOINT_URL_CLOUDFORMATION=aws),
        "AWS_ENDPOINT_URL": None,
        **changes,
    }
    return {name: value for name, value in env.items() if value is not None}


def make_proxy(*, stack: str = STACK, port: int, args: str = "") -> list[str]:
    """`make proxy` as the learner runs it."""
    command = ["make", "--no-print-directory", "-C", str(ROOT), "proxy", f"STACK={stack}", f"PORT={port}"]
    return command + ([f"ARGS={args}"] if args else [])


@dataclass(frozen=True)
class Running:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_proxy(env: dict[str, str], log: Path, *, stack: str = STACK, args: str = "") -> Running:
    """`make proxy` in a session of its own (its pgid is make's PID), its output to a file; once it serves."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            make_proxy(stack=stack, port=port, args=args),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = Running(process, port, log)
    deadline = time.monotonic() + 30
    while "Ctrl-C stops it." not in running.output():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_proxy(running)
            pytest.fail(f"make proxy did not start:\n{running.output()}")
        time.sleep(0.05)
    return running


def stop_proxy(running: Running) -> None:
    """Ctrl-C, as a terminal delivers it: to make's whole process group."""
    if running.process.poll() is None:
        os.killpg(running.process.pid, signal.SIGINT)
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait()
        raise


@pytest.fixture(scope="module")
def proxy(aws: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One `make proxy` of the stack for the module, with a 1 s timeout (the fake answers at once, or never)."""
    work = tmp_path_factory.mktemp("proxy")
    running = start_proxy(proxy_environment(aws, work), work / "proxy.log", args="--timeout 1")
    try:
        yield running
    finally:
        stop_proxy(running)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


def call(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None, **how: Any
) -> Answer:
    """One request to the proxy, as a client sends it (http.client adds Host, Accept-Encoding, Content-Length)."""
    connection = HTTPConnection(how.get("host", "127.0.0.1"), port, timeout=how.get("timeout", 10))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        connection.close()


def listening_addresses(port: int) -> set[str]:
    """The local addresses a socket listens on at this port (Linux's /proc/net/tcp and tcp6)."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def refusal(env: dict[str, str], *, stack: str = STACK, port: int | None = None) -> tuple[str, str, float]:
    """`make proxy` that must not start: its one line on stderr (make's own `***` line aside), its stdout, and how
    long it took."""
    started = time.monotonic()
    result = subprocess.run(
        make_proxy(stack=stack, port=port or free_port()), env=env, capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - started
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "Ctrl-C stops it" not in result.stdout  # it never served
    [line] = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    return line, result.stdout, took


@pytest.fixture
def untouched_endpoint() -> Iterator[tuple[str, socket.socket]]:
    """A loopback endpoint that accepts nothing: a request sent there is left pending, for the test to see."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.setblocking(False)
        yield endpoint_url(server.getsockname()[1]), server


def nothing_connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return True
    return False


# --- forwarding -------------------------------------------------------------------------------------------------


def test_a_post_reaches_the_stacks_api_signed_without_hop_by_hop_headers_and_its_answer_comes_back_unchanged(
    proxy, api
):
    api.reply = Reply(
        201,
        [
            ("Content-Type", "application/json"),
            ("Location", "/api/study_sessions/5"),
            ("Access-Control-Allow-Origin", PORTAL_ORIGIN),
            ("Access-Control-Expose-Headers", "Location, Retry-After"),
            ("Vary", "Origin"),
            ("X-Amzn-RequestId", "request-1"),
            ("Keep-Alive", "timeout=5"),
        ],
        b'{"id": 5, "group_name": "\xe5\x8b\x95\xe8\xa9\x9e"}',
    )
    answer = call(
        proxy.port,
        "POST",
        "/study_sessions",
        BODY,
        {
            "Content-Type": "application/json",
            "Origin": PORTAL_ORIGIN,
            "Idempotency-Key": "key-1",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "named by Connection",
            "Keep-Alive": "300",
            "Proxy-Authorization": "Basic c2VjcmV0",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Authorization": "Bearer the-clients-own",
            "X-Amz-Security-Token": "the-clients-own",
            "X-Amz-Date": "19700101T000000Z",
        },
    )
    [seen] = api.seen
    assert (seen.method, seen.path, seen.query, seen.body) == ("POST", "/api/study_sessions", "", BODY)
    assert (seen.header("content-type"), seen.header("origin"), seen.header("idempotency-key")) == (
        "application/json",
        PORTAL_ORIGIN,
        "key-1",
    )
    assert seen.header("host") == f"127.0.0.1:{api.port}"  # the API's, not the proxy's
    assert seen.header("content-length") == str(len(BODY))
    assert not seen.names() & (HOP_BY_HOP | {"x-hop", "x-amz-security-token", "transfer-encoding"})
    assert_signed(seen, including={"content-type", "host", "idempotency-key", "origin", "x-amz-date"})
    assert (answer.status, answer.body) == (201, api.reply.body)
    assert answer.headers == [
        ("Content-Type", "application/json"),
        ("Location", "/study_sessions/5"),  # followed through the proxy, which adds the stage
        ("Access-Control-Allow-Origin", PORTAL_ORIGIN),
        ("Access-Control-Expose-Headers", "Location, Retry-After"),
        ("Vary", "Origin"),
        ("X-Amzn-RequestId", "request-1"),
        ("Content-Length", str(len(api.reply.body))),
    ]


def test_a_get_keeps_its_query_in_the_encoding_sigv4_signs_and_a_chunked_answer_comes_back_with_its_length(proxy, api):
    api.reply = Reply(200, [("Content-Type", "application/json"), ("Vary", "Origin")], b'{"items": []}', chunked=True)
    # The Typing Tutor calls 127.0.0.1, the frontend localhost.
    for host in ("127.0.0.1", "localhost"):
        answer = call(
            proxy.port,
            "GET",
            "/study_sessions?limit=10&cursor=eyJ0IjoxfQ&q=a,b%20c",
            headers={"Origin": TUTOR_ORIGIN},
            host=host,
        )
        assert (answer.status, answer.body) == (200, b'{"items": []}')
        assert answer.header("Content-Length") == "13" and answer.header("Transfer-Encoding") is None
    for seen in api.seen:
        assert (seen.method, seen.path, seen.body) == ("GET", "/api/study_sessions", b"")
        # The same names, values and order; a comma percent-encoded, as SigV4 canonicalizes it (and AWS checks).
        assert seen.query == "limit=10&cursor=eyJ0IjoxfQ&q=a%2Cb%20c"
        assert_signed(seen, including={"host", "origin", "x-amz-date"})
    assert len(api.seen) == 2


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_every_other_method_is_forwarded_signed_with_its_body(proxy, api, method):
    api.reply = Reply(200, [("Content-Type", "application/json"), ("Allow", "GET, POST")], b'{"ok": true}')
    body = b'{"word_id": 1}' if method in ("PUT", "PATCH") else None
    answer = call(proxy.port, method, "/study_sessions/7", body, {"Content-Type": "application/json"})
    [seen] = api.seen
    assert (seen.method, seen.path, seen.body) == (method, "/api/study_sessions/7", body or b"")
    assert_signed(seen, including={"content-type", "host", "x-amz-date"})
    assert (answer.status, answer.header("Allow")) == (200, "GET, POST")
    # A HEAD's answer has no body but the length a GET's would have.
    assert answer.body == (b"" if method == "HEAD" else b'{"ok": true}')
    assert answer.header("Content-Length") == "12"


def test_the_proxy_listens_on_loopback_only_says_where_and_logs_no_query_string(proxy, api):
    call(proxy.port, "GET", "/words?page=2&sort_by=english")
    assert listening_addresses(proxy.port) == {"0100007F"}  # 127.0.0.1, never 0.0.0.0 or ::
    output = proxy.output()
    assert (
        f"make proxy: http://127.0.0.1:{proxy.port} (also http://localhost:{proxy.port}) serves stack {STACK} "
        f"({REGION}), each request signed with your AWS credentials and sent to http://127.0.0.1:{api.port}/api. "
        "Ctrl-C stops it."
    ) in output
    assert re.search(r"^GET /words 200 \d+ ms$", output, re.MULTILINE)
    assert "sort_by" not in output and "AWS4-HMAC-SHA256" not in output and "Traceback" not in output


@pytest.mark.parametrize("where", ["AWS_ENDPOINT_URL", "the profile's endpoint_url"])
def test_with_an_endpoint_configured_requests_go_to_that_emulators_api_gateway(aws, api, tmp_path, where):
    # AWS_ENDPOINT_URL_CLOUDFORMATION still wins for CloudFormation, as botocore resolves a service's endpoint.
    emulator = f"http://127.0.0.1:{api.port}"
    if where == "AWS_ENDPOINT_URL":
        env = proxy_environment(aws, tmp_path, AWS_ENDPOINT_URL=emulator)
    else:
        config = tmp_path / "aws-config"
        config.write_text(f"[profile emulated]\nendpoint_url = {emulator}\n")
        env = proxy_environment(aws, tmp_path, AWS_CONFIG_FILE=str(config), AWS_PROFILE="emulated")
    running = start_proxy(env, tmp_path / "proxy.log")
    try:
        api.reply = Reply(201, [("Content-Type", "application/json"), ("Location", "/api/study_sessions/8")])
        answer = call(running.port, "POST", "/study_sessions?x=1", BODY, {"Content-Type": "application/json"})
    finally:
        stop_proxy(running)
    [seen] = api.seen
    assert (seen.method, seen.path, seen.query, seen.body) == (
        "POST",
        f"/restapis/{REST_API_ID}/api/_user_request_/study_sessions",
        "x=1",
        BODY,
    )
    assert_signed(seen, including={"content-type", "host", "x-amz-date"})
    assert (answer.status, answer.header("Location")) == (201, "/study_sessions/8")


def test_aws_ignore_configured_endpoint_urls_leaves_the_stacks_own_url(monkeypatch):
    # As boto3 and the AWS CLI: the flag ignores every configured endpoint (CloudFormation's too, so it is not run
    # end to end here: the stack could not be found in the emulator).
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert (
        upstream_base(rest_api_id="a1", endpoint_url="https://a1.execute-api.eu-west-2.amazonaws.com/api/", stage="api")
        == "http://127.0.0.1:4566/restapis/a1/api/_user_request_"
    )
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert (
        upstream_base(rest_api_id="a1", endpoint_url="https://a1.execute-api.eu-west-2.amazonaws.com/api/", stage="api")
        == "https://a1.execute-api.eu-west-2.amazonaws.com/api"
    )


CREDENTIAL_PROCESS = """import json, sys, datetime, pathlib
count = pathlib.Path(sys.argv[1])
issued = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(issued))
expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)  # due for a refresh at once
print(json.dumps({"Version": 1, "AccessKeyId": "test", "SecretAccessKey": "test", "SessionToken": f"token-{issued}",
                  "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}))
"""


def test_credentials_that_expire_are_refreshed_for_the_request_that_finds_them_due(aws, api, tmp_path):
    # A profile's credential_process stands in for SSO or assume-role: credentials with an expiry, refreshed by
    # botocore when due; each issue has a session token of its own.
    script = tmp_path / "issue.py"
    script.write_text(CREDENTIAL_PROCESS)
    config = tmp_path / "aws-config"
    config.write_text(f"[profile study]\ncredential_process = {sys.executable} {script} {tmp_path / 'issued'}\n")
    env = proxy_environment(
        aws,
        tmp_path,
        AWS_PROFILE="study",
        AWS_CONFIG_FILE=str(config),
        AWS_ACCESS_KEY_ID=None,
        AWS_SECRET_ACCESS_KEY=None,
    )
    running = start_proxy(env, tmp_path / "proxy.log")
    try:
        for _ in range(2):
            assert call(running.port, "GET", "/health").status == 200
    finally:
        stop_proxy(running)
    tokens = [seen.header("x-amz-security-token") for seen in api.seen]
    issued = int((tmp_path / "issued").read_text())
    assert tokens == [f"token-{issued - 1}", f"token-{issued}"]  # the latest issue, each time
    for seen in api.seen:
        assert_signed(seen, including={"host", "x-amz-date", "x-amz-security-token"})


# --- the stack's API failing --------------------------------------------------------------------------------------


def assert_error_answer(answer: Answer, status: int, *, granted: str | None) -> str:
    """The proxy's own answer: {"error": ...} with the API's security headers, and CORS for an allowed origin."""
    assert answer.status == status
    assert answer.header("Content-Type") == "application/json"
    assert (answer.header("Cache-Control"), answer.header("X-Content-Type-Options")) == ("no-store", "nosniff")
    assert answer.header("Vary") == "Origin"
    assert answer.header("Access-Control-Allow-Origin") == granted
    assert answer.header("Access-Control-Expose-Headers") == ("Location, Retry-After" if granted else None)
    error = json.loads(answer.body)
    assert set(error) == {"error"} and "Traceback" not in error["error"]
    return str(error["error"])


def test_an_api_that_closes_the_connection_without_an_answer_is_a_502_with_cors_for_the_page(proxy, api):
    api.mode = "close"
    for headers, granted in (({"Origin": PORTAL_ORIGIN}, PORTAL_ORIGIN), ({}, None)):
        started = time.monotonic()
        answer = call(proxy.port, "POST", "/study_sessions", BODY, {"Content-Type": "application/json", **headers})
        assert time.monotonic() - started < 3
        assert assert_error_answer(answer, 502, granted=granted) == (
            f"the stack at 127.0.0.1:{api.port} did not answer (it closed the connection without an answer); is it "
            "still deployed?"
        )
    assert [(seen.method, seen.body) for seen in api.seen] == [("POST", BODY)] * 2  # it did reach the API


@pytest.mark.parametrize(
    "headers, message",
    [
        # A page of any site can make its own host name resolve to 127.0.0.1, and read the answers as its own.
        (
            {"Host": "rebound.example:{port}"},
            "make proxy answers only http://127.0.0.1:{port} and http://localhost:{port}",
        ),
        ({"Host": "127.0.0.1:1"}, "make proxy answers only http://127.0.0.1:{port} and http://localhost:{port}"),
        # Another site's page can send a form here without asking first (no preflight for text/plain).
        (
            {"Origin": "https://elsewhere.example", "Content-Type": "text/plain"},
            "make proxy forwards no request from https://elsewhere.example: the stack does not grant it",
        ),
        ({"Origin": "null"}, "make proxy forwards no request from null: the stack does not grant it"),
    ],
    ids=["rebound host", "another port", "another site's page", "a file's page"],
)
def test_a_request_from_another_site_is_refused_and_nothing_is_signed_or_sent(proxy, api, headers, message):
    headers = {name: value.format(port=proxy.port) for name, value in headers.items()}
    answer = call(proxy.port, "POST", "/api/study-sessions/reset", b"{}", headers)
    assert assert_error_answer(answer, 403, granted=None) == message.format(port=proxy.port)
    assert api.seen == []


def test_an_unknown_route_is_the_contracts_404_not_api_gateways_403_for_a_signed_request(proxy, api):
    # What API Gateway answers, behind AWS_IAM, a signed request for a path or method it has no route for.
    api.reply = Reply(
        403,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
        b'{"message": "Missing Authentication Token"}',
    )
    answer = call(proxy.port, "GET", "/api/no-such-page", headers={"Origin": PORTAL_ORIGIN})
    assert assert_error_answer(answer, 404, granted=PORTAL_ORIGIN) == "Not found"
    api.reply = Reply(403, [("Content-Type", "application/json")], b'{"error": "Reset is turned off"}')
    refused = call(proxy.port, "POST", "/api/study-sessions/reset", b"", {"Origin": PORTAL_ORIGIN})
    assert (refused.status, refused.body) == (403, b'{"error": "Reset is turned off"}')  # the app's own 403, as is


def test_only_the_headers_the_app_reads_are_signed_the_rest_go_unsigned_and_cookies_never(proxy, api):
    call(
        proxy.port,
        "GET",
        "/groups",
        headers={
            "Origin": PORTAL_ORIGIN,
            "Accept-Language": "ja,en;q=0.8",
            "Sec-Fetch-Mode": "cors",
            "Cookie": "session=another-local-apps",
        },
    )
    [seen] = api.seen
    assert (seen.header("accept-language"), seen.header("sec-fetch-mode"), seen.header("cookie")) == (
        "ja,en;q=0.8",
        "cors",
        None,
    )
    assert_signed(seen, including={"host", "origin", "x-amz-date"})
    signed = AUTHORIZATION.fullmatch(seen.header("authorization") or "")["signed"].split(";")
    assert "accept-language" not in signed and "sec-fetch-mode" not in signed


def test_an_api_that_is_gone_is_a_502_at_once(aws, tmp_path):
    running = start_proxy(proxy_environment(aws, tmp_path), tmp_path / "proxy.log", stack=GONE_STACK)
    try:
        started = time.monotonic()
        answer = call(running.port, "GET", "/groups", headers={"Origin": TUTOR_ORIGIN})
        took = time.monotonic() - started
    finally:
        stop_proxy(running)
    assert "connection refused" in assert_error_answer(answer, 502, granted=TUTOR_ORIGIN) and took < 3


def test_an_api_that_never_answers_is_a_504_after_the_timeout(proxy, api):
    api.mode = "hang"
    started = time.monotonic()
    answer = call(proxy.port, "GET", "/dashboard/stats", headers={"Origin": PORTAL_ORIGIN})
    took = time.monotonic() - started
    message = assert_error_answer(answer, 504, granted=PORTAL_ORIGIN)
    assert message.startswith(f"the stack at 127.0.0.1:{api.port} did not answer within 1 s")
    assert 1 <= took < 4 and len(api.seen) == 1


def test_the_proxys_own_answers_grant_any_origin_when_the_stack_grants_star_and_only_its_own_otherwise():
    star = error_answer(502, "down", origin="https://any.example", origins=("*",))
    listed = error_answer(502, "down", origin="https://any.example", origins=(PORTAL_ORIGIN,))
    assert ("Access-Control-Allow-Origin", "*") in star.headers and json.loads(star.body) == {"error": "down"}
    assert "Access-Control-Allow-Origin" not in dict(listed.headers) and ("Vary", "Origin") in listed.headers


# --- what stops it from starting: one line each, the port never bound ------------------------------------------


@pytest.mark.parametrize(
    "removed, expected",
    [
        pytest.param(
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
            "make proxy: no AWS credentials found: set AWS_PROFILE to your profile (and run `aws sso login` for an "
            "SSO one), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            id="no credentials",
        ),
        pytest.param(
            ("AWS_REGION",),
            "make proxy: no AWS region is set: set AWS_REGION (e.g. AWS_REGION=eu-central-1), or a region in your "
            "AWS profile",
            id="no region",
        ),
    ],
)
def test_without_credentials_or_region_it_says_what_to_set_before_any_request(
    aws, tmp_path, untouched_endpoint, removed, expected
):
    endpoint, server = untouched_endpoint
    env = proxy_environment(aws, tmp_path, AWS_ENDPOINT_URL_CLOUDFORMATION=endpoint, **dict.fromkeys(removed))
    line, _, took = refusal(env)
    assert line == expected and took < 10
    assert nothing_connected(server)


def test_credentials_aws_refuses_are_one_line_naming_the_error_code_and_no_secret(aws, tmp_path):
    secret = "proxy-test-secret-never-printed"
    env = proxy_environment(aws, tmp_path, AWS_ACCESS_KEY_ID="AKIAPROXYTESTUNKNOWN", AWS_SECRET_ACCESS_KEY=secret)
    line, out, _ = refusal(env)
    assert line.startswith(
        f"make proxy: AWS refused your credentials (InvalidClientTokenId) when looking up stack {STACK} in {REGION}: "
    )
    assert "aws sso login" in line and secret not in line + out


def test_a_stack_that_does_not_exist_is_one_line_naming_it_and_the_region(aws, tmp_path):
    line, _, _ = refusal(proxy_environment(aws, tmp_path), stack="study-portal-nowhere")
    assert line.startswith(f"make proxy: no stack study-portal-nowhere in region {REGION}: ")


def test_a_stack_without_the_apis_outputs_is_one_line_saying_it_is_not_a_study_portal_stack(aws, tmp_path):
    line, _, _ = refusal(proxy_environment(aws, tmp_path), stack=NO_API_STACK)
    assert line == (
        f"make proxy: stack {NO_API_STACK} (CREATE_COMPLETE) has no RestAPIId and EndpointURL outputs: it is not a "
        "study-portal stack `make deploy` created"
    )


def test_an_aws_endpoint_that_does_not_answer_is_one_line(aws, tmp_path):
    env = proxy_environment(aws, tmp_path, AWS_ENDPOINT_URL_CLOUDFORMATION=f"http://127.0.0.1:{free_port()}")
    line, _, took = refusal(env)
    assert line.startswith(f"make proxy: AWS CloudFormation did not answer when looking up stack {STACK} in {REGION}")
    assert took < 15


def test_a_taken_port_is_one_line_with_the_port_variable_that_moves_it(aws, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        line, _, took = refusal(proxy_environment(aws, tmp_path), port=port)
    assert line.startswith(f"make proxy: port {port}, which `make proxy` wants for the stack's API, is in use")
    assert re.search(rf"run `PORT=\d+ make proxy STACK={STACK}` to use another port", line)
    assert "call port 5000" in line and took < 5


# --- stopping ---------------------------------------------------------------------------------------------------


def proxy_process(make_pid: int) -> int:
    """The PID of the proxy under make."""
    pending = [make_pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").iterdir():
            for child in (task / "children").read_text().split():
                if b"scripts.proxy" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
                pending.append(int(child))
    raise LookupError(f"no proxy under {make_pid}")


@pytest.mark.parametrize("how", ["Ctrl-C twice to make's process group", "SIGTERM to the proxy alone"])
def test_a_stop_signal_stops_it_at_once_saying_so_once_and_frees_the_port(aws, api, tmp_path, how):
    running = start_proxy(proxy_environment(aws, tmp_path), tmp_path / "proxy.log")
    assert call(running.port, "GET", "/health").status == 200
    started = time.monotonic()
    if how == "SIGTERM to the proxy alone":
        os.kill(proxy_process(running.process.pid), signal.SIGTERM)
    else:
        os.killpg(running.process.pid, signal.SIGINT)
        time.sleep(0.05)  # the second arrives while it stops, or after
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGINT)
    try:
        code = running.process.wait(timeout=5)
    finally:
        stop_proxy(running)
    assert time.monotonic() - started < 3
    output = running.output()
    assert output.count(STOPPED) == 1 and "Traceback" not in output, output
    assert not port_in_use(running.port)
    if how == "SIGTERM to the proxy alone":
        assert code == 0  # make hands on the proxy's exit code (a Ctrl-C to make ends make itself by the signal)

"""`make proxy STACK=study-portal-dev`: a deployed stack's API for the portal's unchanged clients, on
http://127.0.0.1:5000 (PORT=). The stack's API requires SigV4 (AWS_IAM) on every route; the React frontend and the
Typing Tutor send no credentials. This proxy signs each request with the caller's own AWS credentials (profile, SSO,
keys: as the AWS CLI finds them), forwards it to the stack's API and hands back its answer, CORS headers included.

It finds the stack with CloudFormation (outputs RestAPIId and EndpointURL, parameter CorsAllowOrigins); with
AWS_ENDPOINT_URL set (a stack deployed into ministack) it calls that emulator's API Gateway instead. Anything that
stops it from starting is one line on stderr and exit 1, before the port is bound. It listens on loopback only, and
prints one line per request: method, path, status and time, never a header, body or query string. SIGINT, SIGTERM or
SIGHUP, once or repeatedly, stops it."""

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import quote, unquote, urlsplit

import boto3
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    HTTPClientError,
    NoCredentialsError,
)

from chalicelib.web import allowed_origin, answer_headers
from scripts.aws_env import RegionMissingError, caller_region
from scripts.dev import DEFAULT_PORT, STOP_SIGNALS, airplay_hint
from scripts.local_stack import LocalServerError, next_free_port, parse_port, port_in_use
from scripts.seed import NotOurStackError, describe_stack

COMMAND = "make proxy"
HOST = "127.0.0.1"  # loopback only: whoever can reach the port acts with the caller's AWS credentials
CONNECT_TIMEOUT = 5.0
# API Gateway ends an integration after 29 s: a little more, so its own 504 comes back rather than ours.
DEFAULT_TIMEOUT = 35.0
CLIENT_TIMEOUT = 60.0  # a client connection idle (or a body unsent) this long is closed
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding"}
    | {"upgrade", "proxy-connection"}
)
# Not forwarded either: Host is the upstream's; the signature makes its own Authorization and X-Amz-* headers;
# Expect was answered here (the body is read before anything is sent); Content-Length is set to the body forwarded;
# Cookie is the browser's for other local apps on localhost, never the stack's.
NOT_FORWARDED = HOP_BY_HOP | {"host", "authorization", "expect", "content-length", "cookie"}
# The client's headers the signature covers: what the app reads. The rest (Accept-Language, Referer, Sec-Fetch-*,
# ...) go along unsigned, so a CDN in front of an edge endpoint that rewrites one cannot break the signature.
SIGNED_HEADERS = frozenset(
    {"content-type", "origin", "idempotency-key", "access-control-request-method", "access-control-request-headers"}
)
REFUSED_CREDENTIALS = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "IncompleteSignature",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidAccessKeyId",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
AWS_CALLS = Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=15, retries={"total_max_attempts": 3})


class CredentialsMissingError(Exception):
    """No AWS credentials are set, or they cannot be loaded; the message says what to set."""


class CredentialsRefusedError(Exception):
    """AWS refused the caller's credentials, or denied them the stack; the message names AWS's error code only."""


class StackMissingError(Exception):
    """No stack of that name in the caller's region."""


class AwsUnreachableError(Exception):
    """CloudFormation's endpoint did not answer."""


class EndpointInvalidError(Exception):
    """AWS_ENDPOINT_URL is not an http(s) URL."""


class PortTakenError(Exception):
    """Another program listens on the proxy's port."""


class AnswerError(Exception):
    """A request the proxy answers itself, with this status and {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Stopped(BaseException):
    """A stop signal before the proxy serves: a BaseException, so no `except Exception` on the way swallows it."""


FAILURES: tuple[type[Exception], ...] = (
    LocalServerError,
    RegionMissingError,
    CredentialsMissingError,
    CredentialsRefusedError,
    StackMissingError,
    NotOurStackError,
    AwsUnreachableError,
    EndpointInvalidError,
    PortTakenError,
    BotoCoreError,
    ClientError,
)


class StopRequest:
    """The signal handler. Before serving it stops the start-up (which may wait on AWS); once serving it only
    records the request: no lock (a handler runs in the main thread, inside whatever holds one) and no exception
    (a second Ctrl-C must not cut the shutdown short)."""

    def __init__(self) -> None:
        self.requested = False
        self.serving = False

    def __call__(self, *_: object) -> None:
        first = not self.requested
        self.requested = True
        if first and not self.serving:
            raise Stopped

    def __bool__(self) -> bool:
        return self.requested


_output = threading.Lock()


def say(line: str, *, error: bool = False) -> None:
    """One line, whole (request threads print too); a terminal that has gone away must not stop the proxy."""
    with _output, contextlib.suppress(OSError):
        stream = sys.stderr if error else sys.stdout
        stream.write(line + "\n")
        stream.flush()


@dataclass(frozen=True)
class Upstream:
    """Where the stack's API answers, and what its deployment grants."""

    region: str
    base_url: str  # scheme://host[:port]/path, no trailing slash: a client's /x goes to base_url + /x
    stage: str
    origins: tuple[str, ...]  # CorsAllowOrigins: origins, or "*"

    @property
    def netloc(self) -> str:
        return urlsplit(self.base_url).netloc


def configured_endpoint() -> str:
    """The endpoint every service of the AWS CLI and boto3 would use, if one is set: AWS_ENDPOINT_URL, else the
    profile's endpoint_url; none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or the profile's) says to ignore them."""
    profile = boto3._get_default_session()._session.get_scoped_config()
    ignore = os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", str(profile.get("ignore_configured_endpoint_urls")))
    if ignore.strip().lower() == "true":
        return ""
    return str(os.environ.get("AWS_ENDPOINT_URL") or profile.get("endpoint_url") or "").strip().rstrip("/")


def upstream_base(*, rest_api_id: str, endpoint_url: str, stage: str) -> str:
    """The URL a client's paths are appended to: the configured endpoint's API Gateway if one is set (as the AWS
    CLI honours AWS_ENDPOINT_URL, for a stack deployed into ministack), else the stack's EndpointURL."""
    emulator = configured_endpoint()
    if emulator:
        return f"{emulator}/restapis/{rest_api_id}/{stage}/_user_request_"
    return endpoint_url.rstrip("/")


def find_stack(stack: str, region: str) -> Upstream:
    """The stack's API as DescribeStacks gives it, or one of the start-up errors, in one line."""
    described = described_stack(stack, region)
    outputs = {output["OutputKey"]: str(output["OutputValue"]) for output in described.get("Outputs", [])}
    parameters = {item["ParameterKey"]: str(item.get("ParameterValue", "")) for item in described.get("Parameters", [])}
    endpoint_url = outputs.get("EndpointURL", "")
    stage = urlsplit(endpoint_url).path.strip("/").split("/")[0]
    if "RestAPIId" not in outputs or not is_http_url(endpoint_url) or not stage:
        raise NotOurStackError(
            f"stack {stack} ({described.get('StackStatus', 'status unknown')}) has no RestAPIId and EndpointURL "
            "outputs: it is not a study-portal stack `make deploy` created"
        )
    base_url = upstream_base(rest_api_id=outputs["RestAPIId"], endpoint_url=endpoint_url, stage=stage)
    if not is_http_url(base_url):
        raise EndpointInvalidError(f"AWS_ENDPOINT_URL must be an http:// or https:// URL, not {base_url!r}")
    origins = tuple(entry.strip() for entry in parameters.get("CorsAllowOrigins", "").split(",") if entry.strip())
    return Upstream(region=region, base_url=base_url, stage=stage, origins=origins)


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (it raises ValueError for a port that is not a number)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def described_stack(stack: str, region: str) -> dict[str, Any]:
    """seed.describe_stack, its failures turned into one-line errors that name no secret."""
    try:
        return describe_stack(stack)
    except NoCredentialsError:
        raise CredentialsMissingError(no_credentials_message()) from None
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if code == "ValidationError" and "does not exist" in message:
            raise StackMissingError(
                f"no stack {stack} in region {region}: deploy it (`make deploy STAGE=...`), name yours "
                "(`make proxy STACK=<name>`), or set AWS_REGION to the region it is in"
            ) from None
        if code in REFUSED_CREDENTIALS:
            # AWS's own message can quote the string it signed: the code alone says enough.
            raise CredentialsRefusedError(
                f"AWS refused your credentials ({code}) when looking up stack {stack} in {region}: check AWS_PROFILE, "
                "run `aws sso login`, or set current AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ) from None
        if code in DENIED:
            raise CredentialsRefusedError(
                f"AWS denied your credentials cloudformation:DescribeStacks on stack {stack} in {region} ({code}): "
                "use a profile allowed to describe the stack and to invoke its API (execute-api:Invoke)"
            ) from None
        raise
    except (BotoConnectionError, HTTPClientError) as exc:
        raise AwsUnreachableError(
            f"AWS CloudFormation did not answer when looking up stack {stack} in {region} ({exc}): check your "
            "network, and AWS_ENDPOINT_URL if you set it"
        ) from None


def give_aws_calls_timeouts() -> None:
    """A default session whose clients (the stack's lookup: seed.describe_stack's) have short timeouts and few
    retries, with the caller's settings otherwise: botocore's defaults wait minutes on a network that drops packets."""
    session = botocore.session.get_session()
    session.set_default_client_config(AWS_CALLS)
    boto3.setup_default_session(botocore_session=session)


def no_credentials_message() -> str:
    return (
        "no AWS credentials found: set AWS_PROFILE to your profile (and run `aws sso login` for an SSO one), or set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )


def caller_credentials() -> Any:
    """The caller's credentials, as the AWS CLI finds them; refreshable ones (SSO, assume-role) refresh as they
    are used. Loaded now, so missing or unusable ones stop the start."""
    try:
        credentials = boto3._get_default_session().get_credentials()
        if credentials is None:
            raise CredentialsMissingError(no_credentials_message())
        credentials.get_frozen_credentials()
    except BotoCoreError as exc:
        raise CredentialsMissingError(
            f"your AWS credentials could not be loaded ({exc}): run `aws sso login` for an SSO profile, or check "
            "AWS_PROFILE"
        ) from None
    return credentials


def port_taken_message(*, port: int, stack: str) -> str:
    """Why `make proxy` cannot start on a taken port, and the variable that moves it (as make dev says it)."""
    return (
        f"port {port}, which `make proxy` wants for the stack's API, is in use on {HOST} by another program"
        f"{airplay_hint(port)} (a `make dev`?); run `PORT={next_free_port(port)} make proxy STACK={stack}` to use"
        f" another port (the portal's frontend and Typing Tutor call port {DEFAULT_PORT})"
    )


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def error_answer(status: int, message: str, *, origin: str | None, origins: tuple[str, ...]) -> Answer:
    """An answer of the proxy's own in the API's {"error": ...} shape, with the headers the stack's app gives every
    answer, CORS as the stack grants it."""
    headers = [("Content-Type", "application/json"), *answer_headers(origin, origins).items()]
    return Answer(status=status, reason="", headers=headers, body=json.dumps({"error": message}).encode())


def connection_listed(values: list[str]) -> set[str]:
    """The header names Connection headers (these values) mark as hop-by-hop too."""
    return {name.strip().lower() for value in values for name in value.split(",")}


def forwarded_headers(incoming: Message) -> dict[str, str]:
    """The client's headers that go upstream, repeated ones joined (as SigV4 signs them): no hop-by-hop ones, no
    Host, and no Authorization or X-Amz-* of the client's."""
    dropped = NOT_FORWARDED | connection_listed(incoming.get_all("Connection", []))
    kept: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, value in incoming.items():
        lower = name.lower()
        if lower in dropped or lower.startswith("x-amz-"):
            continue
        if lower in names:
            kept[names[lower]] += ("; " if lower == "cookie" else ", ") + value
        else:
            names[lower] = name
            kept[name] = value
    return kept


def canonical_query(query: str) -> str:
    """The query with each name and value percent-encoded as SigV4 canonicalizes them, so the query API Gateway
    receives is the one signed (botocore signs a URL's query as written); the same names, values and order."""
    if not query:
        return ""
    pairs = (pair.partition("=") for pair in query.split("&") if pair)
    return "&".join(
        quote(unquote(name), safe="-_.~") + (f"={quote(unquote(value), safe='-_.~')}" if equals else "")
        for name, equals, value in pairs
    )


def host_header(url: str) -> str:
    """Host as SigV4 signs it and as it is sent: no default port."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    return parts.netloc if parts.port not in (None, default) else str(parts.hostname)


def signed_request(
    *, method: str, url: str, headers: dict[str, str], body: bytes, credentials: Any, region: str
) -> AWSRequest:
    """The request, signed for API Gateway (execute-api) with the credentials as they are now: its host, date,
    body and SIGNED_HEADERS; the other headers sent as they are."""
    signed = {name: value for name, value in headers.items() if name.lower() in SIGNED_HEADERS}
    signed["Host"] = host_header(url)
    if body or method in ("POST", "PUT", "PATCH"):
        signed["Content-Length"] = str(len(body))
    request = AWSRequest(method=method, url=url, headers=signed, data=body)
    try:
        frozen = credentials.get_frozen_credentials()  # refreshes SSO or assume-role credentials when due
    except BotoCoreError as exc:
        raise AnswerError(
            502, f"make proxy could not refresh your AWS credentials ({exc}): run `aws sso login`, then send it again"
        ) from None
    SigV4Auth(frozen, "execute-api", region).add_auth(request)
    for name, value in headers.items():
        if name.lower() not in SIGNED_HEADERS:
            request.headers[name] = value
    return request


def failure_reason(exc: BaseException) -> str:
    """A short reason for an upstream failure: no exception internals."""
    reasons: tuple[tuple[type[BaseException], str], ...] = (
        (http.client.RemoteDisconnected, "it closed the connection without an answer"),
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "connection reset"),
        (BrokenPipeError, "it closed the connection"),
        (http.client.IncompleteRead, "its answer was cut short"),
        (http.client.HTTPException, "its answer was not HTTP"),
        (ssl.SSLCertVerificationError, "its TLS certificate did not verify"),
        (ssl.SSLError, "TLS failed"),
        (socket.gaierror, "its host name did not resolve"),
    )
    for kind, reason in reasons:
        if isinstance(exc, kind):
            return reason
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__).lower()


def send(request: AWSRequest, body: bytes, *, upstream: Upstream, timeout: float) -> Answer:
    """Send the signed request exactly as signed and read the whole answer; an AnswerError (502, 504) if the
    upstream cannot be reached or does not answer."""
    parts = urlsplit(request.url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(str(parts.hostname), parts.port, timeout=CONNECT_TIMEOUT)

    def not_answered(reason: str) -> AnswerError:
        return AnswerError(502, f"the stack at {upstream.netloc} did not answer ({reason}); is it still deployed?")

    try:
        try:
            connection.connect()
        except TimeoutError:
            raise not_answered(f"no connection within {CONNECT_TIMEOUT:g} s") from None
        except OSError as exc:
            raise not_answered(failure_reason(exc)) from None
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.putrequest(
                request.method,
                parts.path + (f"?{parts.query}" if parts.query else ""),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            answered = response.read()
        except TimeoutError:
            raise AnswerError(
                504, f"the stack at {upstream.netloc} did not answer within {timeout:g} s; try again in a moment"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise not_answered(failure_reason(exc)) from None
        return Answer(status=response.status, reason=response.reason, headers=response.getheaders(), body=answered)
    finally:
        connection.close()


def unknown_route(answer: Answer) -> bool:
    """API Gateway's answer to a path or method it has no route for, which behind AWS_IAM is a 403 "Missing
    Authentication Token": this request was signed, so it can only mean the route, and the contract says 404."""
    error_type = next((value for name, value in answer.headers if name.lower() == "x-amzn-errortype"), "")
    return answer.status == 403 and error_type.startswith("MissingAuthenticationToken")


def returned_headers(answer: Answer, *, method: str, stage: str) -> list[tuple[str, str]]:
    """The upstream's headers for the client: no hop-by-hop ones, Content-Length for the body sent, and a Location
    under the stage made one the client can follow through the proxy."""
    dropped = HOP_BY_HOP | {"content-length"}
    dropped |= connection_listed([value for name, value in answer.headers if name.lower() == "connection"])
    headers: list[tuple[str, str]] = []
    for name, value in answer.headers:
        lower = name.lower()
        if lower == "content-length" and method == "HEAD":
            headers.append((name, value))  # the size a GET would have: no body follows
        elif lower in dropped:
            continue
        elif lower == "location" and value.startswith(f"/{stage}/"):
            headers.append((name, value[len(stage) + 1 :]))
        else:
            headers.append((name, value))
    if method != "HEAD" and answer.status >= 200 and answer.status not in (204, 304):
        headers.append(("Content-Length", str(len(answer.body))))
    return headers


@dataclass(frozen=True)
class Proxy:
    upstream: Upstream
    credentials: Any
    timeout: float


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True  # a request in flight does not hold up the stop

    def __init__(self, port: int, proxy: Proxy) -> None:
        self.proxy = proxy
        super().__init__((HOST, port), ProxyHandler)

    def server_bind(self) -> None:
        # HTTPServer's own looks up the host's name (a reverse DNS query, which can be slow): not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):  # a client that went away needs no word
            say(f"{COMMAND}: a request from {client_address[0]} failed: {type(exc).__name__}", error=True)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer has a length
    timeout = CLIENT_TIMEOUT

    def forward(self) -> None:
        started = time.monotonic()
        status = self.answer()
        path = urlsplit(self.path).path  # never the query string: it can hold what the learner typed
        say(f"{self.command} {path} {status} {(time.monotonic() - started) * 1000:.0f} ms")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = forward

    def answer(self) -> int:
        """Forward the request and write the answer; the status written."""
        proxy = cast(ProxyServer, self.server).proxy
        upstream = proxy.upstream
        origin = self.headers.get("Origin")
        try:
            self.check_caller(origin, upstream)
            body = self.read_body()
            parts = urlsplit(self.path)
            url = upstream.base_url + parts.path + (f"?{canonical_query(parts.query)}" if parts.query else "")
            request = signed_request(
                method=self.command,
                url=url,
                headers=forwarded_headers(self.headers),
                body=body,
                credentials=proxy.credentials,
                region=upstream.region,
            )
            answer = send(request, body, upstream=upstream, timeout=proxy.timeout)
            if unknown_route(answer):
                raise AnswerError(404, "Not found")
        except AnswerError as exc:
            answer = error_answer(exc.status, str(exc), origin=origin, origins=upstream.origins)
        except Exception as exc:  # a fault of the proxy's own: an answer all the same, and one line
            say(f"{COMMAND}: {self.command} {urlsplit(self.path).path} failed: {type(exc).__name__}", error=True)
            answer = error_answer(502, "make proxy failed on this request", origin=origin, origins=upstream.origins)
        self.write(answer, returned_headers(answer, method=self.command, stage=upstream.stage))
        return answer.status

    def check_caller(self, origin: str | None, upstream: Upstream) -> None:
        """Only the learner's own pages and tools: a request must name this port on the loopback host (a page of any
        site can make its own name resolve to 127.0.0.1 and call that), and a page's Origin must be one the stack
        grants (another site's page could send a form here without a preflight). Either way, nothing is sent."""
        port = cast(ProxyServer, self.server).server_port
        if (self.headers.get("Host") or "").lower() not in (f"{HOST}:{port}", f"localhost:{port}"):
            self.close_connection = True
            raise AnswerError(403, f"make proxy answers only http://{HOST}:{port} and http://localhost:{port}")
        if origin is not None and allowed_origin(origin, upstream.origins) is None:
            raise AnswerError(403, f"make proxy forwards no request from {origin[:100]}: the stack does not grant it")

    def read_body(self) -> bytes:
        if not self.path.startswith("/"):
            self.close_connection = True
            raise AnswerError(400, "the path must start with /, e.g. GET /study_sessions")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise AnswerError(411, "send the body with a Content-Length")
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if not length.isdigit():
            self.close_connection = True
            raise AnswerError(400, "Content-Length must be a number of bytes")
        if int(length) > MAX_BODY:
            self.close_connection = True
            raise AnswerError(413, f"the body is over {MAX_BODY // (1024 * 1024)} MiB, API Gateway's limit")
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            self.close_connection = True
            raise AnswerError(400, "the body ended before its Content-Length")
        return body

    def write(self, answer: Answer, headers: list[tuple[str, str]]) -> None:
        try:
            self.send_response_only(answer.status, answer.reason or None)  # the upstream's Date and Server only
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.body)
        except OSError:  # the client went away
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line of our own per request instead: never headers or query strings


def serve(*, stack: str, port: int, timeout: float, stop: StopRequest) -> None:
    """Check everything, bind the port, serve until a stop is requested, then release it."""
    give_aws_calls_timeouts()
    region = caller_region()
    credentials = caller_credentials()
    if port_in_use(port):
        raise PortTakenError(port_taken_message(port=port, stack=stack))
    upstream = find_stack(stack, region)
    try:
        server = ProxyServer(port, Proxy(upstream=upstream, credentials=credentials, timeout=timeout))
    except OSError as exc:  # taken since the check above (or, on macOS, held on another address)
        raise PortTakenError(port_taken_message(port=port, stack=stack)) from exc
    try:
        stop.serving = True  # a signal from here on only sets the flag
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        say(
            f"{COMMAND}: http://{HOST}:{port} (also http://localhost:{port}) serves stack {stack} ({region}), each "
            f"request signed with your AWS credentials and sent to {upstream.base_url}. Ctrl-C stops it."
        )
        while not stop:
            time.sleep(0.1)
        server.shutdown()
        thread.join()
    finally:
        server.server_close()


def seconds(value: str) -> float:
    """--timeout's value: a positive number of seconds."""
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


def main(argv: list[str] | None = None) -> int:
    # First of all: a stop signal from here on is ours (no KeyboardInterrupt traceback at any point).
    stop = StopRequest()
    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--stack", required=True, help="the deployed stack whose API to serve (make's STACK)")
    parser.add_argument("--port", default=str(DEFAULT_PORT), help="the local port (make's PORT)")
    parser.add_argument(
        "--timeout", type=seconds, default=DEFAULT_TIMEOUT, help="seconds to wait for the stack's answer (504 after)"
    )
    args = parser.parse_args(argv)
    try:
        try:
            serve(stack=args.stack, port=parse_port(args.port, variable="PORT"), timeout=args.timeout, stop=stop)
        except FAILURES as exc:
            say(f"{COMMAND}: {exc}", error=True)
            return 1
    except Stopped:
        pass
    say(f"{COMMAND}: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

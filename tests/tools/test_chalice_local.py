"""`make dev`'s `chalice local` wrapper over HTTP on loopback: what it answers for paths and methods no route has."""

import http.client
import json
from typing import Any

import pytest

from tests.support.portal import assert_security_headers

PORTAL_ORIGIN = "http://localhost:5173"
UNKNOWN_PATHS = ["/nope", "/api/study-activities/1/nope", "/study_sessions/1/review/x"]


def send(port: int, method: str, path: str, origin: str) -> tuple[int, http.client.HTTPMessage, Any]:
    """One request with an Origin header; the status, headers and JSON body of the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"Origin": origin})
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_answers_404_in_the_error_shape_with_cors_for_the_portal(chalice_port, path, method):
    status, headers, body = send(chalice_port, method, f"{path}?page=2", PORTAL_ORIGIN)
    assert status == 404
    assert body == {"error": f"Not found: {method} {path}"}
    assert headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert headers["Access-Control-Expose-Headers"] == "Location, Retry-After"
    assert headers["Vary"] == "Origin"
    assert_security_headers(headers)


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_grants_no_cors_to_another_origin(chalice_port, path, method):
    status, headers, body = send(chalice_port, method, path, "http://evil.example")
    assert status == 404 and body == {"error": f"Not found: {method} {path}"}
    assert "Access-Control-Allow-Origin" not in headers
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize("origin, allowed", [(PORTAL_ORIGIN, PORTAL_ORIGIN), ("http://evil.example", None)])
def test_a_known_path_answers_a_method_it_lacks_with_405_in_the_error_shape_with_cors(chalice_port, origin, allowed):
    status, headers, body = send(chalice_port, "DELETE", "/study_sessions", origin)
    assert status == 405
    assert body == {"error": "Unsupported method: DELETE"}
    assert headers["Content-Type"] == "application/json"
    assert headers.get("Access-Control-Allow-Origin") == allowed
    assert headers["Vary"] == "Origin"


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_chalice_does_not_route_is_the_apps_405_not_http_servers_html_501(chalice_port, method):
    status, headers, body = send(chalice_port, method, "/groups", PORTAL_ORIGIN)
    assert (status, body) == (405, {"error": f"Unsupported method: {method}"})
    assert headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert_security_headers(headers)

"""The security headers on answers that are not a route's success: errors of every kind, Chalice's own, and on
Lambda, HSTS."""

import pytest

from tests.support.portal import JSON_FROM_PORTAL, VALID, assert_security_headers


@pytest.mark.parametrize(
    "method, path, body, headers, status",
    [
        ("GET", "/study_sessions/99999", None, JSON_FROM_PORTAL, 404),
        ("GET", "/study_sessions/x", None, JSON_FROM_PORTAL, 400),
        ("POST", "/study_sessions", b"{", JSON_FROM_PORTAL, 400),
        ("POST", "/study_sessions", b"{}", {"Content-Type": "text/plain"}, 415),
        ("DELETE", "/study_sessions", None, JSON_FROM_PORTAL, 405),
    ],
)
def test_every_error_carries_the_security_headers(api, method, path, body, headers, status):
    response = api.request(method, path, body=body or b"", headers=headers)
    assert response.status_code == status and set(response.json_body) == {"error"}
    assert_security_headers(response.headers)


def test_a_500_carries_the_security_headers(post_session, botocore_events):
    def explode(**_):
        raise RuntimeError("a bug")

    botocore_events.register("before-call.dynamodb.TransactWriteItems", explode)
    response = post_session(VALID, headers=JSON_FROM_PORTAL)
    assert response.status_code == 500
    assert_security_headers(response.headers)


@pytest.mark.parametrize("path", ["/groups/1", "/study_sessions/99999"])
def test_on_lambda_every_answer_also_tells_the_browser_to_use_https_only(api, monkeypatch, path):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "study-portal-dev")
    response = api.get(path, headers=JSON_FROM_PORTAL)
    assert response.status_code in (200, 404)
    assert_security_headers(response.headers, on_lambda=True)
    preflight = api.request("OPTIONS", path, headers={**JSON_FROM_PORTAL, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204
    assert_security_headers(preflight.headers, on_lambda=True)

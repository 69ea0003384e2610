"""docs/openapi.yaml against the code: a valid OpenAPI 3.1 document, describing exactly the app's routes, with the
app's version; and the conformance check the contract tests use, shown to catch what it names."""

import json

import pytest
from openapi_spec_validator import validate

import app as app_module
from chalicelib.service_routes import VERSION
from tests.support.openapi import assert_conforms, document, documented_path


def test_the_document_is_valid_openapi_3_1():
    validate(document())
    assert document()["openapi"].startswith("3.1.")


def test_the_document_describes_every_route_and_method_the_app_serves_and_no_other():
    served = {
        (path, method.lower())
        for path, methods in app_module.app.routes.items()
        for method in methods
        if method != "OPTIONS"  # every path answers the preflight: the document says so once
    }
    described = {(path, method) for path, operations in document()["paths"].items() for method in operations}
    assert described == served


def test_the_document_has_the_apps_version_and_an_id_for_every_operation():
    assert document()["info"]["version"] == VERSION
    ids = [operation["operationId"] for operations in document()["paths"].values() for operation in operations.values()]
    assert len(ids) == len(set(ids))


def test_every_id_is_described_with_the_bounds_the_app_checks():
    bounds = {key: document()["components"]["schemas"]["Id"][key] for key in ("type", "minimum", "maximum")}
    assert bounds == {"type": "integer", "minimum": 1, "maximum": 2**53 - 1}


@pytest.mark.parametrize(
    "method, path, status, body, wrong",
    [
        ("GET", "/health", 200, {"status": "down"}, "status"),
        ("GET", "/groups/1", 418, {"error": "teapot"}, "does not document"),
        ("GET", "/groups/1", 200, {"id": 1, "group_name": "Core Verbs"}, "word_count"),
        ("POST", "/study_sessions", 404, {"message": "Not Found"}, "error"),
        ("GET", "/dashboard/recent-session", 200, {"id": 0}, "body"),
        ("GET", "/api/study-sessions/reset", 200, {}, None),  # GET is not documented there: not checked
    ],
)
def test_the_conformance_check_catches_an_answer_the_document_does_not_give(method, path, status, body, wrong):
    raw = json.dumps(body).encode()
    if wrong is None:
        assert_conforms(method, path, status, raw)
        return
    with pytest.raises(AssertionError, match=wrong):
        assert_conforms(method, path, status, raw)


def test_a_literal_path_is_matched_before_a_template_that_would_take_it():
    assert documented_path("/api/study-sessions/reset") == "/api/study-sessions/reset"
    assert documented_path("/api/study-sessions/12?page=2") == "/api/study-sessions/{session_id}"
    assert documented_path("/no/such/path") is None

"""GET / and GET /health: what the service is and where its docs are, and a health check that reads no table."""

import re

import pytest

from chalicelib.service_routes import DOCS, VERSION
from scripts.local_stack import ROOT
from tests.support.portal import PORTAL_ORIGIN, access_lines


def test_the_index_names_the_service_its_version_and_where_its_docs_are(bare_api):
    response = bare_api.get("/", headers={"Origin": PORTAL_ORIGIN})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json_body == {
        "name": "study-portal",
        "version": VERSION,
        "docs": ["README.md", "docs/contract.md", "docs/openapi.yaml"],
        "health": "/health",
    }
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN


def test_the_version_is_semantic_and_every_doc_the_index_names_is_in_the_repository():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    assert all((ROOT / path).is_file() for path in DOCS)


def test_health_answers_ok_with_cors_and_sends_no_dynamodb_request(bare_api, dynamodb_sends, app_log):
    # bare_api has no DynamoDB behind it: a request would answer 503.
    response = bare_api.get("/health", headers={"Origin": PORTAL_ORIGIN})
    assert (response.status_code, response.json_body) == (200, {"status": "ok"})
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert dynamodb_sends == []
    [line] = access_lines(app_log())
    assert (line["path"], line["status"], line["dynamodb_requests"]) == ("/health", 200, 0)


@pytest.mark.parametrize("path", ["/", "/health"])
def test_the_service_routes_answer_the_preflight_and_refuse_other_methods_in_json(bare_api, path):
    preflight = bare_api.request(
        "OPTIONS", path, headers={"Origin": PORTAL_ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS"
    refused = bare_api.post(path, headers={"Origin": PORTAL_ORIGIN})
    assert refused.status_code == 405 and "error" in refused.json_body
    assert refused.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN

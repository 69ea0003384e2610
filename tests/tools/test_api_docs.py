"""make dev's API reference: GET /openapi.yaml is docs/openapi.yaml byte for byte, GET /docs the page that renders
it with Swagger UI's own files from the pinned package (no CDN), all with CORS like every route; the deployed stages
have none of these routes."""

import http.client
import json
import re
from typing import Any

import pytest

import app as app_module
from scripts.api_docs import DOCUMENT, SWAGGER_UI
from scripts.local_stack import ROOT
from tests.support.portal import assert_security_headers

PORTAL_ORIGIN = "http://localhost:5173"


def get(port: int, path: str, method: str = "GET", **headers: str) -> tuple[int, Any, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"Origin": PORTAL_ORIGIN, **headers})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_the_document_is_served_as_it_is_in_the_repository(chalice_port):
    status, headers, body = get(chalice_port, "/openapi.yaml")
    assert (status, headers["Content-Type"]) == (200, "application/yaml; charset=utf-8")
    assert body == DOCUMENT.read_bytes()
    assert headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert_security_headers(headers)


def test_the_reference_page_renders_the_document_with_swagger_uis_files_served_here(chalice_port):
    status, headers, page = get(chalice_port, "/docs")
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    html = page.decode()
    assert 'url: "/openapi.yaml"' in html and 'validatorUrl: "none"' in html  # no call to Swagger's validator
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources == ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"]  # nothing from another host
    for source in sources:
        status, headers, asset = get(chalice_port, source)
        assert status == 200 and headers["Content-Type"].startswith(("text/css", "text/javascript"))
        assert asset == (SWAGGER_UI / source.removeprefix("/docs/")).read_bytes()
    # Swagger UI 5 renders OpenAPI 3.1 (4 does not).
    assert re.search(r'version:"5\.\d+\.\d+"|"5\.\d+\.\d+"', (SWAGGER_UI / "swagger-ui-bundle.js").read_text())


@pytest.mark.parametrize("path", ["/docs/../openapi.yaml", "/docs/swagger-editor.js", "/docs/index.html"])
def test_only_the_pages_own_files_are_served(chalice_port, path):
    status, _, body = get(chalice_port, path)
    assert status == 404 and set(json.loads(body)) == {"error"}


@pytest.mark.parametrize("path", ["/openapi.yaml", "/docs", "/docs/swagger-ui.css"])
def test_each_answers_the_preflight(chalice_port, path):
    status, headers, _ = get(chalice_port, path, "OPTIONS", **{"Access-Control-Request-Method": "GET"})
    assert status == 204 and headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert "GET" in headers["Access-Control-Allow-Methods"].split(", ")


def test_only_make_devs_stage_serves_the_reference():
    # A deployed stage that set it would fail every route: scripts/ is not in the Lambda's package.
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    serving = [name for name, stage in stages.items() if "SERVE_API_DOCS" in stage.get("environment_variables", {})]
    assert serving == ["local"] and stages["local"]["environment_variables"]["SERVE_API_DOCS"] == "true"
    # The tests import the app as the deployed stages run it.
    assert not {"/openapi.yaml", "/docs", "/docs/{asset}"} & set(app_module.app.routes)

"""`make dev`'s API reference: GET /openapi.yaml (docs/openapi.yaml, as it is in the repository) and GET /docs (Swagger
UI rendering it, from the pinned swagger-ui-py package's own files: no CDN). app.py registers these routes only
where SERVE_API_DOCS is true, the local stage of .chalice/config.json: a deployed stack serves the API and not its
reference, whose document is in the repository and needs no Lambda (nor would the package fit the Lambda's)."""

from pathlib import Path

import swagger_ui
from chalice import Blueprint, Response

from chalicelib.web import error_response

api_docs = Blueprint(__name__)
DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
SWAGGER_UI = Path(swagger_ui.__file__).parent / "static"
ASSETS = {"swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "text/javascript; charset=utf-8"}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>study-portal API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.yaml", dom_id: "#swagger-ui", validatorUrl: "none"});</script>
</body>
</html>
"""


@api_docs.route("/openapi.yaml", methods=["GET"])
def openapi_document() -> Response:
    """The API's description (OpenAPI 3.1)."""
    return Response(DOCUMENT.read_text(), headers={"Content-Type": "application/yaml; charset=utf-8"})


@api_docs.route("/docs", methods=["GET"])
def reference_page() -> Response:
    """The API's reference, rendered in the browser by Swagger UI from /openapi.yaml."""
    return Response(PAGE, headers={"Content-Type": "text/html; charset=utf-8"})


@api_docs.route("/docs/{asset}", methods=["GET"])
def reference_asset(asset: str) -> Response:
    """Swagger UI's script and style sheet, as the package ships them."""
    if asset not in ASSETS:
        return error_response(404, f"Not found: {asset[:100]}")
    return Response((SWAGGER_UI / asset).read_text(), headers={"Content-Type": ASSETS[asset]})

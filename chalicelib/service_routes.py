"""The service's own routes, for a person or tool finding its way: the index and the health check."""

from chalice import Blueprint, Response

from chalicelib.web import json_response

NAME = "study-portal"
# Raised with each change a client can see (semantic versioning); GET / reports it.
VERSION = "0.22.0"
DOCS = ["README.md", "docs/contract.md", "docs/openapi.yaml"]  # in the repository: routes, fields, errors, schemas

service = Blueprint(__name__)


@service.route("/", methods=["GET"])
def get_index() -> Response:
    """What this service is and where to read about it."""
    return json_response({"name": NAME, "version": VERSION, "docs": DOCS, "health": "/health"})


@service.route("/health", methods=["GET"])
def get_health() -> Response:
    """That the function answers; it reads no table, so a monitor's calls cost nothing in DynamoDB."""
    return json_response({"status": "ok"})

"""docs/openapi.yaml as the tests read it: the operation a request names, and whether an answer conforms to what
the document says that operation answers with that status."""

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from scripts.local_stack import ROOT

DOCUMENT = ROOT / "docs" / "openapi.yaml"
_BASE = "urn:study-portal:openapi"


@functools.cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(_BASE, Resource.from_contents(document(), default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern; literal ones first, so /api/study-sessions/reset is not a session id."""
    paths = sorted(document()["paths"], key=lambda path: (path.count("{"), path))
    return [
        (re.compile("^" + "[^/]+".join(re.escape(part) for part in re.split(r"\{[^/]+\}", path)) + "$"), path)
        for path in paths
    ]


def documented_path(path: str) -> str | None:
    """The document's path (template) for a request's path, without its query string."""
    bare = path.split("?", 1)[0]
    return next((template for pattern, template in _templates() if pattern.match(bare)), None)


def _resolved(node: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A response object, and its JSON pointer, following a $ref to components."""
    ref = node.get("$ref")
    if ref is None:
        return node, ""
    target: Any = document()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target, ref.removeprefix("#")


def assert_conforms(method: str, path: str, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
    """The answer is one the document gives this operation: its status is listed, the headers it marks required are
    there (when the answer's headers are given), and its JSON body matches that status's schema. A method or path
    the document does not have (a preflight, an unknown route) is not checked."""
    template = documented_path(path)
    operation = document()["paths"].get(template or "", {}).get(method.lower())
    if operation is None:
        return
    assert str(status) in operation["responses"], f"{method} {template} answered {status}, which it does not document"
    response, pointer = _resolved(operation["responses"][str(status)])
    if not pointer:
        pointer = "/" + _pointer("paths", template or "", method.lower(), "responses", str(status))
    if headers is not None:
        sent = {name.lower() for name in headers}
        for name, header in response.get("headers", {}).items():
            if _resolved(header)[0].get("required"):
                assert name.lower() in sent, f"{method} {template} {status} answered without its {name} header"
    if "content" not in response:
        assert body == b"", f"{method} {template} {status} documents no body"
        return
    schema = {"$ref": f"{_BASE}#{pointer}/content/application~1json/schema"}
    validator = Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda error: list(error.absolute_path))
    assert not errors, f"{method} {template} {status}: " + "; ".join(
        f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message[:200]}" for error in errors[:5]
    )


class ConformingClient:
    """Chalice's test client, each of whose answers must conform to the document (assert_conforms)."""

    def __init__(self, http: Any) -> None:
        self._http = http

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        assert_conforms(method, path, response.status_code, response.body, response.headers)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", path, **kwargs)

"""`chalice local` as `make dev` serves it (the CLI's arguments pass through), with two patches to chalice's server:

- A listen backlog that fits concurrent clients. Chalice's dev server keeps socketserver's default backlog of 5
  pending connections: with 20 concurrent clients the kernel resets or delays (by a 1 s SYN retry) the connections
  beyond it. API Gateway has no such limit.
- A path no route matches answers 404 in our error shape, with the headers every answer of ours carries
  (NotFoundGateway), and a method Chalice does not route (TRACE) the app's 405."""

import sys
from typing import Any

from chalice import local
from chalice.cli import main

from chalicelib.web import answer_headers, error_response


class NotFoundGateway(local.LocalGateway):
    """Chalice local answers a path no route matches with 403 "Missing Authentication Token" and no CORS headers,
    which a browser cannot even read. The deployed stack answers it through its gateway responses
    (MISSING_AUTHENTICATION_TOKEN in infra/template.yaml); chalice local has none, so this answers in their place,
    with the headers app.py's middleware gives every answer of the app."""

    def handle_request(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> dict[str, Any]:
        try:
            return super().handle_request(method=method, path=path, headers=headers, body=body)
        except local.ForbiddenError as error:
            # Chalice raises it while handling the route matcher's ValueError; an authorizer's denial has no cause.
            if not isinstance(error.__context__, ValueError):
                raise
        origin = next((value for name, value in headers.items() if name.lower() == "origin"), None)
        return error_response(404, f"Not found: {method} {path.split('?')[0]}", answer_headers(origin)).to_dict()


local.ThreadedHTTPServer.request_queue_size = 128


# Chalice's handler takes only the methods API Gateway routes; any other (TRACE, QUERY, ...) got http.server's 501
# HTML page, without CORS. Through the gateway it is the app's 405 (or 404) in our error shape.
def _any_method(handler: local.ChaliceRequestHandler, name: str) -> Any:
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


local.ChaliceRequestHandler.__getattr__ = _any_method  # type: ignore[attr-defined]
# ChaliceRequestHandler builds its gateway from this module-level name for each connection.
local.LocalGateway = NotFoundGateway

if __name__ == "__main__":
    sys.argv[0] = "chalice"
    sys.exit(main())

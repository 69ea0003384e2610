"""The study portal API: the routes' table, and what every request goes through (logging and metrics, CORS and
security headers, error shape).

Routes live by area in chalicelib/*_routes.py:
  sessions_routes.py  POST/GET /study_sessions, GET /study_sessions/{id}, POST /study_sessions/{id}/review,
                      GET /api/study-sessions, GET /api/study-sessions/{id}, POST /api/study-sessions/reset
  catalog_routes.py   GET /api/study-activities, /api/study-activities/{id}, .../{id}/sessions, .../{id}/launch
  words_routes.py     GET /groups, /groups/{id}, /groups/{id}/words, /groups/{id}/words/raw,
                      /groups/{id}/study_sessions, /words, /words/{id}
  dashboard_routes.py GET /dashboard/recent-session, /dashboard/stats
  service_routes.py   GET / (what the service is, where its docs are), GET /health (reads no table)
  scripts/api_docs.py GET /openapi.yaml, GET /docs: the API's reference, under make dev only
Every path also answers the browser's CORS preflight (OPTIONS), below."""

import gc
import os
import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.catalog_routes import catalog
from chalicelib.dashboard_routes import dashboard
from chalicelib.logs import access_metrics, log_json_to_stdout, request_id
from chalicelib.runtime import dynamodb_usage
from chalicelib.service_routes import service
from chalicelib.sessions_routes import sessions
from chalicelib.web import allowed_origin, answer_headers, current_request, error_response
from chalicelib.words_routes import words

app = Chalice(app_name="study-portal", configure_logs=False)
log_json_to_stdout(app.log)
app.register_blueprint(sessions)
app.register_blueprint(catalog)
app.register_blueprint(words)
app.register_blueprint(dashboard)
app.register_blueprint(service)
if os.environ.get("SERVE_API_DOCS") == "true":  # make dev only: the local stage of .chalice/config.json
    from scripts.api_docs import api_docs

    app.register_blueprint(api_docs)


def preflight(**_: str) -> Response:
    """Answer the browser's CORS preflight for this path's methods (path parameters unused)."""
    request = current_request.get()
    headers: dict[str, str | list[str]] = {}
    if allowed_origin(request.headers.get("origin")) is not None:
        methods = sorted(app.routes[request.context["resourcePath"]])
        headers = {
            "Access-Control-Allow-Methods": ", ".join(methods),
            "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
            "Access-Control-Max-Age": "600",
        }
    return Response(body="", status_code=204, headers=headers)


for _path in list(app.routes):
    app.route(_path, methods=["OPTIONS"])(preflight)


@app.middleware("http")
def log_requests(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """One JSON access-log line per request; never the body, headers or query string, which may hold secrets. Its
    `_aws` key makes CloudWatch read the line as metrics (Embedded Metric Format), by route and status class."""
    request_id.set(getattr(request.lambda_context, "aws_request_id", None))
    current_request.set(request)
    usage = {"requests": 0, "capacity": 0.0}
    dynamodb_usage.set(usage)
    started = time.perf_counter()
    response = get_response(request)
    app.log.info(
        "request",
        extra={
            "fields": {
                "method": request.method,
                "path": request.context.get("path"),
                "status": response.status_code,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "dynamodb_requests": usage["requests"],
                "dynamodb_capacity": round(usage["capacity"], 2),  # read + write units, as DynamoDB reports them
                **access_metrics(
                    route=f"{request.method} {request.context.get('resourcePath')}", status=response.status_code
                ),
            }
        },
    )
    return response


@app.middleware("http")
def add_headers(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Every response, errors and preflights included, carries CORS headers for allowed origins, and the security
    headers."""
    response = get_response(request)
    response.headers.update(answer_headers(request.headers.get("origin")))
    return response


@app.middleware("http")
def uniform_errors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Give Chalice's own errors (405, 500, ...) our {"error": ...} shape; a 500 shows only a request id."""
    response = get_response(request)
    if response.status_code == 500:
        # Chalice has logged the traceback, stamped with the same request id.
        return error_response(500, "Internal server error", request_id=request_id.get())
    if response.status_code >= 400 and isinstance(response.body, dict) and "Message" in response.body:
        return error_response(
            response.status_code,
            response.body["Message"] or "Request failed",
            {name: value for name, value in response.headers.items() if name.lower() != "content-type"},
        )
    return response


# Everything imported so far lives as long as the process: the collector need not walk it again. Without this, the
# collections that building the DynamoDB client triggers on a cold start walked it all, about 40 ms (`make bench`).
gc.freeze()

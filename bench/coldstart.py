"""The child processes of `make bench`: copied into the unzipped Lambda package and run there as a script
(`python coldstart.py MODE`), so the package comes first on sys.path as Lambda's task root does. Each prints one
line, RESULT_PREFIX and JSON, after whatever the app logs to stdout.

  app    import the app and serve one API Gateway event as Lambda does (`app.app(event, context)`), timed from this
         script's first line; the app's access-log line on stdout says how many DynamoDB requests it sent.
  floor  the same process doing only what the app's first request needs: import boto3, build a DynamoDB client
         with the app's Config, make the DynamoDB calls the app made (BENCH_FLOOR: config and calls).
  probe  like app, but with botocore hooks registered before the import (which costs time, so it is not timed
         for the comparison): the DynamoDB calls a cold request makes, with their parameters.
  rss    import the app, serve the events on stdin (a JSON list) in process, report the peak resident memory.

The event is BENCH_EVENT (JSON); parsing it is timed, as the Lambda runtime parses its event too."""

import time

STARTED = time.perf_counter()  # before anything else: the cold start is timed from here

# Nothing here that the app or boto3 would not import anyway (no typing): both sides pay the same imports.
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

RESULT_PREFIX = "BENCH-RESULT "


class LambdaContext:
    """The few attributes of the Lambda context object an API handler may read."""

    function_name = "study-portal-dev"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/study-portal-dev"
    log_stream_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:study-portal-dev"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id

    def get_remaining_time_in_millis(self) -> int:
        return 28_000


def _report(**fields: object) -> None:
    print(RESULT_PREFIX + json.dumps(fields), flush=True)


def cold_app() -> None:
    """Import the app and serve its first request, as Lambda does."""
    import app

    event = json.loads(os.environ["BENCH_EVENT"])
    response = app.app(event, LambdaContext(event["requestContext"]["requestId"]))
    elapsed_ms = (time.perf_counter() - STARTED) * 1000
    _report(ms=elapsed_ms, status=response["statusCode"])


def cold_floor() -> None:
    """Only what the app's first request needs: boto3, a client with the app's Config, the same DynamoDB calls."""
    import boto3
    from botocore import xform_name
    from botocore.config import Config

    spec = json.loads(os.environ["BENCH_FLOOR"])
    client = boto3.client("dynamodb", config=Config(**spec["config"]))
    for operation, params in spec["calls"]:
        getattr(client, xform_name(operation))(**params)
    elapsed_ms = (time.perf_counter() - STARTED) * 1000
    _report(ms=elapsed_ms, status=200, calls=len(spec["calls"]))


def cold_probe() -> None:
    """A cold request's DynamoDB calls (operation and parameters, as the app passed them) and HTTP requests sent."""
    import boto3

    calls: list[list[object]] = []
    sent: list[str] = []
    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events  # the app's client, built later from this session, copies its handlers
    # The params themselves, not a copy: the app's own handlers add to them later (ReturnConsumedCapacity).
    events.register("provide-client-params.dynamodb", lambda params, model, **_: calls.append([model.name, params]))
    events.register("before-send.dynamodb", lambda event_name, **_: sent.append(event_name.rsplit(".", 1)[1]))
    import app

    event = json.loads(os.environ["BENCH_EVENT"])
    response = app.app(event, LambdaContext(event["requestContext"]["requestId"]))
    elapsed_ms = (time.perf_counter() - STARTED) * 1000
    _report(ms=elapsed_ms, status=response["statusCode"], requests=len(sent), sent=sent, calls=calls)


def warm_rss() -> None:
    """Serve the events on stdin in one process; report the peak resident set size in MiB."""
    import resource

    import app

    events = json.load(sys.stdin)
    statuses = [app.app(event, LambdaContext(event["requestContext"]["requestId"]))["statusCode"] for event in events]
    # Linux reports ru_maxrss in KiB.
    _report(mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, statuses=statuses)


if __name__ == "__main__":
    {"app": cold_app, "floor": cold_floor, "probe": cold_probe, "rss": warm_rss}[sys.argv[1]]()

"""`make seed`: create the local table if missing and load the seed data, idempotently (starting the local
DynamoDB server for the purpose if `make dev` is not running).
`make seed-stack`: load the seed data into a deployed stack's table, with the caller's AWS settings."""

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.store import StudyRepository
from chalicelib.store.errors import DatabaseBusyError, DatabaseUnavailableError
from chalicelib.store.table import create_table_if_missing
from scripts.aws_env import RegionMissingError, caller_client
from scripts.local_stack import (
    LOCAL_TABLE,
    LocalServerError,
    answers_as_ministack,
    dynamodb_client,
    dynamodb_port,
    endpoint_url,
    local_data_dir,
    port_in_use,
    recorded_servers,
    start_ministack,
    state_locked,
    stop_ministack,
    wait_until_ready,
)
from scripts.seed_data import load_seed


def seed_table(*, endpoint: str, table_name: str) -> str:
    """Create the table if missing, write the seed items, and say what was done."""
    client = dynamodb_client(endpoint)
    created = create_table_if_missing(client, table_name=table_name)
    written = load_seed(StudyRepository(client=client, table_name=table_name))
    return f"table {table_name} {'created' if created else 'already there'}; {written} seed items written"


class NotOurStackError(Exception):
    """The stack named is not one `make deploy` created: it has no TableName output."""


# What a tool working on the local table or a stack's reports in one line (make reset, make import): no local server,
# no region, not our stack, DynamoDB busy or unreachable, and botocore's own errors (credentials, access, ...).
TABLE_TOOL_FAILURES: tuple[type[Exception], ...] = (
    LocalServerError,
    RegionMissingError,
    NotOurStackError,
    DatabaseBusyError,
    DatabaseUnavailableError,
    BotoCoreError,
    ClientError,
)


def describe_stack(stack: str) -> dict[str, Any]:
    """The stack as CloudFormation describes it, with the caller's settings."""
    [described] = caller_client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    return dict(described)


def stack_table(*, stack: str, described: dict[str, Any] | None = None) -> str:
    """The name of the table of a stack `make deploy` created (its output TableName)."""
    described = described or describe_stack(stack)
    for output in described.get("Outputs", []):
        if output["OutputKey"] == "TableName":
            return str(output["OutputValue"])
    raise NotOurStackError(f"stack {stack} has no TableName output: it is not a stack `make deploy` created")


def stack_stage(described: dict[str, Any]) -> str | None:
    """The Stage parameter `make deploy` gave the stack (dev or prod), if it has one."""
    for parameter in described.get("Parameters", []):
        if parameter["ParameterKey"] == "Stage":
            return str(parameter["ParameterValue"])
    return None


def seed_stack(*, stack: str) -> str:
    """Write the seed items into the table of a stack `make deploy` created, and say what was done."""
    table = stack_table(stack=stack)
    written = load_seed(StudyRepository(client=caller_client("dynamodb"), table_name=table))
    return f"table {table} of stack {stack}: {written} seed items written"


@contextmanager
def local_endpoint(*, command: str) -> Iterator[str]:
    """The local DynamoDB server's endpoint: the running `make dev`'s ministack on DYNAMODB_PORT, or one started
    for the purpose on make dev's data folder (DATA_DIR, default .ministack/) and stopped afterwards. command names
    the make target in messages."""
    port = dynamodb_port()
    data_dir = local_data_dir()
    held = state_locked(data_dir / "state")
    recorded = recorded_servers(data_dir).get("dynamodb_port") if held else None
    server = None
    if port_in_use(port):
        if not answers_as_ministack(port):
            raise LocalServerError(
                f"port {port} is in use on 127.0.0.1 by a program that is not ministack "
                f"(LocalStack listens there too); run `DYNAMODB_PORT=<another port> {command}`"
            )
        # A folder named by DATA_DIR is used only through the ministack its own make dev runs (the default folder
        # keeps using whatever ministack answers on DYNAMODB_PORT, as before).
        if os.environ.get("DATA_DIR", "").strip() and recorded != port:
            where = f"its make dev's is on {recorded}" if recorded else f"no server holds {data_dir}"
            fix = f"DYNAMODB_PORT={recorded} {command}" if recorded else f"DYNAMODB_PORT=<a free port> {command}"
            raise LocalServerError(f"the ministack on port {port} does not serve {data_dir} ({where}): run `{fix}`")
    else:
        if held:
            # A make dev on another port holds this history: use its ministack, never a second one on its files.
            hint = f"DYNAMODB_PORT={recorded} {command}" if recorded else f"DYNAMODB_PORT=<its port> {command}"
            raise LocalServerError(
                f"another server holds {data_dir / 'state'} (a `make dev` on another port?): run `{hint}` to use "
                "it, or stop it first"
            )
        server = start_ministack(port=port, log_path=data_dir / "ministack.log", state_dir=data_dir / "state")
    try:
        wait_until_ready(port=port, process=server, log_path=data_dir / "ministack.log")
        yield endpoint_url(port)
    finally:
        if server is not None:
            stop_ministack(server)


def seed_local() -> str:
    """Seed the local table, on the running `make dev`'s ministack or on one started for the purpose."""
    with local_endpoint(command="make seed") as endpoint:
        started = time.monotonic()
        return f"{seed_table(endpoint=endpoint, table_name=LOCAL_TABLE)} ({time.monotonic() - started:.2f} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", help="seed this deployed stack's table instead of the local one")
    args = parser.parse_args(argv)
    command = "make seed-stack" if args.stack else "make seed"
    try:
        print(seed_stack(stack=args.stack) if args.stack else seed_local())
    except (LocalServerError, RegionMissingError, NotOurStackError, BotoCoreError, ClientError) as exc:
        # No region set (ours), missing credentials, an unknown stack, access denied: botocore's own one-line message.
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

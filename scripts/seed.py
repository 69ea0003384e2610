"""`make seed`: create the local table if missing and load the seed data, idempotently.
`make seed-stack`: load the seed data into a deployed stack's table, with the caller's AWS settings."""
import argparse
import sys
import time
from urllib.parse import urlparse

import boto3

from chalicelib.repository import StudyRepository
from chalicelib.seed import load_seed
from chalicelib.table import create_table_if_missing
from scripts.local_stack import (
    LOCAL_LOG,
    LOCAL_STATE_DIR,
    dynamodb_client,
    port_in_use,
    stage_environment,
    start_ministack,
    stop_ministack,
    wait_until_ready,
)


def seed_table(*, endpoint_url: str, table_name: str) -> str:
    """Create the table if missing, write the seed items, and say what was done."""
    client = dynamodb_client(endpoint_url)
    created = create_table_if_missing(client, table_name=table_name)
    written = load_seed(StudyRepository(client=client, table_name=table_name))
    return f"table {table_name} {'created' if created else 'already there'}; {written} seed items written"


def seed_stack(*, stack: str) -> str:
    """Write the seed items into the table of a stack `make deploy` created, and say what was done."""
    [described] = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    table = next(output["OutputValue"] for output in described["Outputs"] if output["OutputKey"] == "TableName")
    written = load_seed(StudyRepository(client=boto3.client("dynamodb"), table_name=table))
    return f"table {table} of stack {stack}: {written} seed items written"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", help="seed this deployed stack's table instead of the local one")
    args = parser.parse_args()
    if args.stack:
        print(seed_stack(stack=args.stack))
        return 0
    env = stage_environment("local")
    endpoint_url = env["AWS_ENDPOINT_URL_DYNAMODB"]
    port = urlparse(endpoint_url).port
    server = None
    if not port_in_use(port):
        # Nothing is serving the local stage: start ministack just for the seed, on the same state.
        server = start_ministack(port=port, log_path=LOCAL_LOG, state_dir=LOCAL_STATE_DIR)
    try:
        wait_until_ready(port=port, process=server)
        started = time.monotonic()
        print(seed_table(endpoint_url=endpoint_url, table_name=env["TABLE_NAME"]),
              f"({time.monotonic() - started:.2f} s)")
    finally:
        if server is not None:
            stop_ministack(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make import`: move the original Flask portal's words.db (DB=) into the local table, starting the local DynamoDB
server if `make dev` is not running, or into a deployed stack's table (STACK=); or load one of its seed files
(WORDS= GROUP=) into a group. Running it again changes nothing. scripts/flask_import/ has the rules."""

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from botocore.config import Config

from chalicelib.store import StudyRepository
from chalicelib.store.table import create_table_if_missing
from scripts.aws_env import caller_client
from scripts.flask_import import (
    ImportInterruptedError,
    InvalidSourceError,
    SessionConflictError,
    UnknownTimeZoneError,
    VerificationError,
    counted,
    import_database,
    import_words,
    read_flask_database,
    read_seed_words,
    time_zone,
)
from scripts.local_stack import LOCAL_TABLE, dynamodb_client
from scripts.seed import TABLE_TOOL_FAILURES, local_endpoint, stack_table

COMMAND = "make import"
USAGE = (
    "usage: make import DB=words.db [TIMEZONE=Europe/Berlin] [STACK=study-portal-dev]\n"
    '       make import WORDS=verbs.json GROUP="Core Verbs" [STACK=study-portal-dev]'
)
# A bulk load meets throttling on a deployed table: more patience than the API's 3 attempts.
_STACK_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 10}, max_pool_connections=16)
_FAILURES = (
    InvalidSourceError,
    UnknownTimeZoneError,
    SessionConflictError,
    ImportInterruptedError,
    VerificationError,
    *TABLE_TOOL_FAILURES,
)


class _Parser(argparse.ArgumentParser):
    def format_usage(self) -> str:
        return USAGE + "\n"


@contextmanager
def target_repository(*, stack: str | None) -> Iterator[tuple[StudyRepository, str]]:
    """The repository over the table to import into, and how to name that table."""
    if stack:
        table = stack_table(stack=stack)
        yield (
            StudyRepository(client=caller_client("dynamodb", config=_STACK_CONFIG), table_name=table),
            f"table {table} of stack {stack}",
        )
        return
    with local_endpoint(command=COMMAND) as endpoint:
        client = dynamodb_client(endpoint)
        create_table_if_missing(client, table_name=LOCAL_TABLE)
        yield StudyRepository(client=client, table_name=LOCAL_TABLE), f"the local table {LOCAL_TABLE}"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def import_db(*, path: Path, stack: str | None, zone_name: str) -> str:
    """Import a words.db and say what was moved."""
    zone = time_zone(name=zone_name)
    data = read_flask_database(path=path)  # checked whole before any server is started or written to
    with target_repository(stack=stack) as (repository, table):
        _say(
            f"importing {path.name} into {table}; the file's times are taken as {zone_name} "
            "(TIMEZONE= / --timezone to change)"
        )
        summary = import_database(repository=repository, data=data, zone=zone, report=_say)
    for warning in summary.warnings:
        _say(f"warning: {warning}")
    written = f"{counted(summary.written, 'item')} written, {summary.unchanged:,} unchanged"
    if summary.deleted:
        written += f", {summary.deleted:,} deleted"
    return (
        f"imported from {path.name}: {counted(summary.groups, 'group')}, {counted(summary.words, 'word')}, "
        f"{counted(summary.activities, 'activity', 'activities')}, {counted(summary.sessions, 'session')}, "
        f"{counted(summary.reviews, 'review')} ({written}) in {summary.seconds:.1f} s; verified"
        + ("" if summary.written or summary.deleted else "; the table already held all of it")
    )


def import_seed_file(*, path: Path, group_name: str, stack: str | None) -> str:
    """Load a seed file into a group and say what was done."""
    if not group_name.strip():
        raise InvalidSourceError("GROUP= must name the group the words go into")
    words, warnings = read_seed_words(path=path)
    with target_repository(stack=stack) as (repository, table):
        summary = import_words(
            repository=repository, words=words, group_name=group_name, warnings=warnings, report=_say
        )
    for warning in summary.warnings:
        _say(f"warning: {warning}")
    group = f"group {summary.group_id} {summary.group_name!r}{' (new)' if summary.group_created else ''}"
    if not summary.written:
        return (
            f"nothing to write: {group} in {table} already holds the {counted(summary.words, 'word')} of "
            f"{path.name}; it has {counted(summary.group_words, 'word')}"
        )
    return (
        f"loaded {path.name} into {group} in {table}: {counted(summary.words, 'word')} "
        f"({summary.new_words:,} new, {summary.words - summary.new_words:,} already stored); the group has "
        f"{counted(summary.group_words, 'word')} ({summary.seconds:.1f} s); verified"
    )


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog=COMMAND, description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="the Flask portal's SQLite file (words.db)")
    source.add_argument("--words", type=Path, help="a seed file: a JSON array of {kanji, romaji, english, parts}")
    parser.add_argument("--group", help="with --words: the group's name (an existing group, or a new one)")
    parser.add_argument("--stack", help="import into this deployed stack's table instead of the local one")
    parser.add_argument("--timezone", default="UTC", help="the zone of the file's times (default UTC)")
    args = parser.parse_args(argv)
    if args.words and args.group is None:
        parser.error("WORDS= needs GROUP=, the group the words go into")
    if args.db and args.group is not None:
        parser.error("GROUP= goes with WORDS=; a words.db brings its own groups")
    try:
        if args.db:
            print(import_db(path=args.db, stack=args.stack, zone_name=args.timezone))
        else:
            print(import_seed_file(path=args.words, group_name=args.group, stack=args.stack))
    except _FAILURES as exc:
        # One line: what is wrong, and for a file the table and row; botocore's own line for AWS settings.
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

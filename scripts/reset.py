"""`make reset`: the Settings page's reset from the command line (every session and review deleted, every word's
counts set to 0): on make dev's local table (DATA_DIR's), starting the local DynamoDB server if `make dev` is not
running, or on a deployed stack's table (STACK=, with the caller's AWS settings; a prod stack, by its Stage
parameter or a name ending in -prod, only with YES_PROD=true)."""

import argparse
import sys
import time

from chalicelib.store import StudyRepository
from chalicelib.store.reset import ResetSummary
from chalicelib.store.table import create_table_if_missing
from scripts.aws_env import caller_client
from scripts.flask_import import counted
from scripts.local_stack import LOCAL_TABLE, dynamodb_client
from scripts.seed import TABLE_TOOL_FAILURES, describe_stack, local_endpoint, stack_stage, stack_table

COMMAND = "make reset"
ROUND_SECONDS = 20.0  # one reset call's budget, as the route's; progress is reported between calls
STALLED_ROUNDS = 5  # calls in a row that delete nothing (writes keep getting in the way): give up, saying so


class ProdStackError(Exception):
    """A prod stack named without --yes-prod."""


class ResetStalledError(Exception):
    """Several reset calls in a row deleted nothing."""


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def reset_until_done(repository: StudyRepository, *, round_seconds: float = ROUND_SECONDS) -> ResetSummary:
    """Call the reset, round_seconds a call, until it is complete (as the Settings page sends the route again on its
    503), saying what is left between calls, and add up what it did. Each call leaves the table consistent."""
    total = ResetSummary(sessions_deleted=0, reviews_deleted=0, words_reset=0, sessions_left=0, complete=False)
    stalled = 0
    while True:
        summary = repository.reset(deadline=time.monotonic() + round_seconds)
        stalled = 0 if summary["complete"] or summary["sessions_deleted"] or summary["words_reset"] else stalled + 1
        if stalled >= STALLED_ROUNDS:
            raise ResetStalledError(
                f"{stalled} calls in a row deleted nothing ({counted(summary['sessions_left'], 'session')} left): "
                "is something writing to the table? Stop it and run the reset again"
            )
        total = ResetSummary(
            sessions_deleted=total["sessions_deleted"] + summary["sessions_deleted"],
            reviews_deleted=total["reviews_deleted"] + summary["reviews_deleted"],
            words_reset=total["words_reset"] + summary["words_reset"],
            sessions_left=summary["sessions_left"],
            complete=summary["complete"],
        )
        if total["complete"]:
            return total
        _say(
            f"{counted(total['sessions_deleted'], 'session')} deleted so far, "
            f"{counted(total['sessions_left'], 'session')} left"
        )


def reset(*, stack: str | None, yes_prod: bool = False) -> str:
    """Reset the local table, or a stack's, and say what was done."""
    started = time.monotonic()
    if stack:
        if stack.endswith("-prod") and not yes_prod:  # refused before any request
            raise ProdStackError(prod_refusal(stack))
        described = describe_stack(stack)
        if stack_stage(described) == "prod" and not yes_prod:
            raise ProdStackError(prod_refusal(stack))
        table = stack_table(stack=stack, described=described)
        summary = reset_until_done(StudyRepository(client=caller_client("dynamodb"), table_name=table))
        name = f"table {table} of stack {stack}"
    else:
        with local_endpoint(command=COMMAND) as endpoint:
            client = dynamodb_client(endpoint)
            # As make dev does: the table made if missing and given any index an older saved state lacks.
            create_table_if_missing(client, table_name=LOCAL_TABLE)
            summary = reset_until_done(StudyRepository(client=client, table_name=LOCAL_TABLE))
        name = f"the local table {LOCAL_TABLE} on {endpoint}"
    return (
        f"reset {name}: deleted {counted(summary['sessions_deleted'], 'session')} and their "
        f"{counted(summary['reviews_deleted'], 'review')}, zeroed every word's counts "
        f"({counted(summary['words_reset'], 'word')} had some) in {time.monotonic() - started:.1f} s"
    )


def prod_refusal(stack: str) -> str:
    return (
        f"{stack} is a prod stack, whose history is the learners': a deployed prod refuses the reset unless "
        f"ALLOW_RESET=true; to reset it anyway run `make reset STACK={stack} YES_PROD=true` (--yes-prod)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--stack", help="reset this deployed stack's table instead of the local one")
    parser.add_argument("--yes-prod", action="store_true", help="with --stack: allow a stack whose name ends in -prod")
    args = parser.parse_args(argv)
    try:
        print(reset(stack=args.stack, yes_prod=args.yes_prod))
    except (ProdStackError, ResetStalledError, *TABLE_TOOL_FAILURES) as exc:
        # One line: what is wrong and what to do; botocore's own line for AWS settings, an unknown stack, access.
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Each call leaves the table consistent: what was deleted is gone, the rest is as it was.
        print(
            f"{COMMAND}: interrupted; the table is consistent, and running it again finishes the reset", file=sys.stderr
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

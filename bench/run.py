"""`make bench` (issue 12): what each route costs in DynamoDB requests and capacity, how fast it answers against
floors measured in the same run, how fast a cold process answers, how big the package is, how much memory a warm
process holds, and a naive port of the Flask portal's create as a yardstick.

One run against a ministack of its own on a free loopback port (stopped at the end; scratch under .ministack/,
removed):
1. per route: DynamoDB HTTP requests per call (botocore's before-send on the app's client), warm and cold, and the
   capacity units ministack reports (after-call), as read (GetItem, BatchGetItem, Query) and write units;
2. latency through the app in process (Chalice's test client): p50/p95/p99 over --calls calls per route, in batches
   alternating with batches of a raw GetItem (read routes) or PutItem (write routes) on the same server, the floors;
   read routes on the arranged data first, then the writes, the reset last;
3. cold start: --cold-runs fresh processes importing the app and serving POST /study_sessions as Lambda invokes it,
   alternating with fresh processes that only import boto3 and make the same DynamoDB calls; one cold process per
   route for its cold request count; an `-X importtime` profile of `import app`; all of them in the unzipped
   package (with the bytecode `make package` compiles into it), writing no .pyc, as Lambda runs it;
4. the Lambda package (`scripts.deploy package`): its size, and whether it bundles boto3 or botocore;
5. the peak memory of a warm process serving 200 mixed requests;
6. the baseline, bench/baseline.py, measured as the routes are;
7. the journal section (bench/journal.py): make dev's write journal, PutItem p50 with and without it, and the
   answered writes a SIGKILL loses with it;
8. the scale section (bench/scale.py): histories of --scale-sizes sessions, each built in a fresh table of the same
   ministack, and every session list and the dashboard at each: requests, items and bytes read, p50 and p95, the
   ratio of p50 at the largest size to the smallest. A quick run (--calls under 100, as the tests make) leaves it
   out unless --scale-sizes is given; `python -m bench.scale` runs it alone.
Writes OUTPUT/latest.json and OUTPUT/latest.png and prints a table and the targets, PASS or FAIL."""

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.journal import measure_journal
from bench.measure import Bench
from bench.processes import TABLE, BenchError, measure_package, profile_imports
from bench.report import assemble, table
from bench.scale import (
    BUILDERS,
    DEFAULT_BUILDER,
    DEFAULT_CALLS,
    DEFAULT_PAGE_SECONDS,
    DEFAULT_SIZES,
    MIN_CALLS,
    Scale,
    parse_sizes,
)
from scripts.aws_env import isolate_aws
from scripts.local_stack import LOCAL_DIR, ROOT, free_port, start_ministack, stop_ministack, wait_until_ready

QUICK_CALLS = 100  # a run with fewer --calls (the tests' 5) leaves the scale section out unless --scale-sizes is given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per route (default 1000)")
    parser.add_argument("--cold-runs", type=int, default=20, help="cold processes each, app and floor (default 20)")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench" / "results",
        help="folder for latest.json and latest.png (default bench/results)",
    )
    parser.add_argument(
        "--scale-sizes",
        type=parse_sizes,
        default=None,
        help="the scale section's history sizes, comma-separated, or none (default 1000,10000,100000; none in a "
        f"quick run, --calls under {QUICK_CALLS})",
    )
    parser.add_argument(
        "--scale-calls", type=int, default=DEFAULT_CALLS, help=f"timed calls a page and size (default {DEFAULT_CALLS})"
    )
    parser.add_argument(
        "--scale-page-seconds",
        type=float,
        default=DEFAULT_PAGE_SECONDS,
        help=f"a page's time budget at each size (default {DEFAULT_PAGE_SECONDS:g}; at least {MIN_CALLS} timed calls)",
    )
    parser.add_argument(
        "--scale-build",
        choices=BUILDERS,
        default=DEFAULT_BUILDER,
        help="how each history is written: the Flask import's plan by its bulk writes, the whole import, or auto "
        f"(bulk if the app shows what it wrote at the smallest size, else import; default {DEFAULT_BUILDER})",
    )
    args = parser.parse_args(argv)
    if args.calls < 1 or args.cold_runs < 1 or args.scale_calls < 1 or args.scale_page_seconds <= 0:
        parser.error("--calls, --cold-runs and --scale-calls must be at least 1, --scale-page-seconds above 0")
    if args.scale_sizes is None:
        args.scale_sizes = list(DEFAULT_SIZES) if args.calls >= QUICK_CALLS else []
    started_at, started = datetime.now(UTC), time.monotonic()
    # Placeholder credentials and region, nothing of the caller's AWS configuration; the app's table, resettable.
    isolate_aws(TABLE_NAME=TABLE, ALLOW_RESET="true")
    work = LOCAL_DIR / f"bench-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = start_ministack(port=port, log_path=work / "ministack.log")
    try:
        print(f"ministack on 127.0.0.1:{port}; meanwhile, the package", file=sys.stderr)
        task_root = work / "task"
        package = measure_package(work / "package", task_root=task_root)
        wait_until_ready(port=port, process=server)
        imports = profile_imports(task_root=task_root)  # once ministack has started, which takes a core while it does
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
        bench = Bench(calls=args.calls, cold_runs=args.cold_runs, task_root=task_root)
        bench.phase_seconds["package_ministack_and_import_profile"] = round(time.monotonic() - started, 1)
        measured = bench.run()
        journal = measure_journal(work / "journal", calls=args.calls)
        bench.lap("journal")
        scale = run_scale(args, bench)
    except BenchError as exc:
        print(f"make bench: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_ministack(server)
        shutil.rmtree(work, ignore_errors=True)
    result = assemble(
        measured,
        package=package,
        imports=imports,
        bench=bench,
        started_at=started_at,
        seconds=time.monotonic() - started,
    )
    result["journal"] = journal
    result["scale"] = scale
    args.output.mkdir(parents=True, exist_ok=True)
    from bench.chart import draw

    draw(result, args.output / "latest.png")
    result["seconds"] = round(time.monotonic() - started, 1)  # the chart included
    (args.output / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {args.output / 'latest.json'} and {args.output / 'latest.png'}")
    return 1 if scale.get("error") or journal["lost_after_sigkill"] else 0


def run_scale(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    """The scale section on the bench's ministack, or why it was left out; a failure of its own is reported in
    its JSON (the other sections' figures are kept) and makes the run's exit status 1."""
    if not args.scale_sizes:
        reason = f"a quick run (--calls {args.calls})" if args.calls < QUICK_CALLS else "--scale-sizes none"
        print(f"scale section left out: {reason}; --scale-sizes runs it", file=sys.stderr)
        return {"skipped": reason}
    try:
        return Scale(
            sizes=args.scale_sizes,
            calls=args.scale_calls,
            page_seconds=args.scale_page_seconds,
            builder=args.scale_build,
        ).run()
    except Exception as exc:  # whatever it was, the other sections' figures are still written
        traceback.print_exc()
        print(f"make bench: the scale section failed: {exc}", file=sys.stderr)
        return {"error": f"{type(exc).__name__}: {exc}", "sizes": args.scale_sizes}
    finally:
        bench.lap("scale")


if __name__ == "__main__":
    sys.exit(main())

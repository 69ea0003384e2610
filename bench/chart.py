"""The bench's picture: each route's latency against the floors, its ratio to its floor, the cold start, and (with
the scale section) each page's latency against the history's size."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: a file only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

READ_COLOUR, WRITE_COLOUR, BASELINE_COLOUR = "#3b75af", "#c0504d", "#7f7f7f"
PASS_COLOUR, FAIL_COLOUR, OTHER_COLOUR = "#4e9a45", "#e08a1e", "#b9c4d0"
PAGE_COLOURS = plt.get_cmap("tab10").colors


def has_scale(result: dict[str, Any]) -> bool:
    return bool((result.get("scale") or {}).get("pages"))


def draw(result: dict[str, Any], path: Path) -> None:
    """Write the one-PNG summary (1400x900) of a bench result to path."""
    rows = {**result["routes"], "baseline: naive port of the Flask create": result["baseline"]}
    labels = list(rows)[::-1]  # the first route on top
    single_reads = set(result["targets"]["single_reads_p50_within_1_5x_getitem"]["value"])
    targeted = single_reads | {"POST /study_sessions"}
    scale = has_scale(result)
    figure = plt.figure(figsize=(14, 14 if scale else 9), dpi=100)
    grid = figure.add_gridspec(
        3 if scale else 2,
        2,
        width_ratios=[1.35, 1],
        height_ratios=[4.2, 1, 3.2] if scale else [4.2, 1],
        wspace=0.06,
        hspace=0.42 if not scale else 0.36,
        left=0.22,
        right=0.98,
        top=0.94 if scale else 0.91,
        bottom=0.05 if scale else 0.07,
    )
    latency = figure.add_subplot(grid[:2, 0])  # the first two rows: the scale panel, if any, has the third
    ratio = figure.add_subplot(grid[0, 1], sharey=latency)
    cold = figure.add_subplot(grid[1, 1])

    positions = range(len(labels))
    for y, label in zip(positions, labels):
        row = rows[label]
        colour = (
            BASELINE_COLOUR if label.startswith("baseline") else READ_COLOUR if row["kind"] == "read" else WRITE_COLOUR
        )
        latency.barh(y, row["p50_ms"], color=colour, height=0.6)
        latency.plot([row["p50_ms"], row["p99_ms"]], [y, y], color="black", linewidth=1)
        latency.plot(row["p95_ms"], y, marker="|", color="black", markersize=9)
        latency.plot(row["p99_ms"], y, marker="|", color="black", markersize=14)
    latency.axvline(result["getitem_p50_ms"], color=READ_COLOUR, linestyle="--", linewidth=1.2)
    latency.axvline(result["putitem_p50_ms"], color=WRITE_COLOUR, linestyle="--", linewidth=1.2)
    latency.set_xscale("log")
    lowest = min([result["getitem_p50_ms"], result["putitem_p50_ms"]] + [rows[label]["p50_ms"] for label in labels])
    highest = max(rows[label]["p99_ms"] for label in labels)
    latency.set_xlim(lowest / 1.6, highest * 1.3)
    latency.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    latency.xaxis.set_minor_locator(LogLocator(subs="auto"))
    latency.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    latency.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    latency.set_yticks(list(positions), labels, fontsize=8.5)
    latency.set_xlabel("ms per call, log scale: bar p50, ticks p95 and p99")
    latency.set_title("Latency through the app in process", fontsize=11)
    latency.grid(axis="x", which="both", alpha=0.25)
    latency.legend(
        handles=[
            Line2D([], [], color=READ_COLOUR, linewidth=6, label="read route"),
            Line2D([], [], color=WRITE_COLOUR, linewidth=6, label="write route"),
            Line2D(
                [], [], color=READ_COLOUR, linestyle="--", label=f"raw GetItem p50 {result['getitem_p50_ms']:.2f} ms"
            ),
            Line2D(
                [], [], color=WRITE_COLOUR, linestyle="--", label=f"raw PutItem p50 {result['putitem_p50_ms']:.2f} ms"
            ),
        ],
        loc="upper right",
        fontsize=8,
        framealpha=0.95,
    )

    for y, label in zip(positions, labels):
        value = rows[label]["ratio_to_floor"] or 0
        colour = (PASS_COLOUR if value <= 1.5 else FAIL_COLOUR) if label in targeted else OTHER_COLOUR
        ratio.barh(y, value, color=colour, height=0.6)
        ratio.text(value, y, f" {value:.1f}x", va="center", fontsize=7.5)
    ratio.axvline(1.5, color="black", linestyle=":", linewidth=1.2)
    ratio.axvline(1.0, color="black", linewidth=0.6)
    ratio.tick_params(axis="y", labelleft=False)
    ratio.set_xlabel("p50 / floor p50 (reads: GetItem, writes: PutItem); dotted: 1.5x")
    ratio.set_title("Ratio to the floor (green/orange: routes with a target)", fontsize=11)
    ratio.grid(axis="x", alpha=0.25)
    ratio.set_xlim(0, max((rows[label]["ratio_to_floor"] or 0) for label in labels) * 1.15 + 0.5)

    sides = [
        ("floor", result["cold_start_floor_ms"], result["cold_start_floor_process_ms"]),
        ("app", result["cold_start_ms"], result["cold_start_process_ms"]),
    ]
    for y, (_label, measured, process) in enumerate(sides):
        cold.barh(y, process, color=OTHER_COLOUR, height=0.6)
        cold.barh(y, measured, color=WRITE_COLOUR if y else READ_COLOUR, height=0.6)
        cold.text(measured / 2, y, f"{measured:.0f} ms", va="center", ha="center", fontsize=8, color="white")
        cold.text(process, y, f" process {process:.0f} ms", va="center", fontsize=8)
    cold.axvline(result["cold_start_floor_ms"] * 1.2, color="black", linestyle=":", linewidth=1.2)
    cold.set_yticks([0, 1], [label for label, _, _ in sides], fontsize=8.5)
    cold.set_xlim(0, max(process for _, _, process in sides) * 1.35)
    cold.set_xlabel("ms, median: import + first POST vs boto3 + the same calls (grey: whole process)", fontsize=8)
    cold.set_title(
        f"Cold start {result['cold_start_ratio_to_floor']}x its floor (dotted: 1.2x), "
        f"cold POST {result['cold_post_ddb_requests']} requests",
        fontsize=11,
    )
    cold.grid(axis="x", alpha=0.25)
    if scale:
        scale_panel(figure.add_subplot(grid[2, :]), result["scale"])

    figure.suptitle(
        f"make bench, {result['started_at'][:10]}: {result['calls_per_route']} calls per route, "
        f"{result['cold_runs']} cold runs, ministack {result['ministack_version']}, "
        f"{result['machine']['cpu_count']} CPUs; package {result['package_bytes'] / 1024:.0f} KB, "
        f"warm RSS {result['warm_peak_rss_mib']} MiB",
        fontsize=12,
    )
    figure.savefig(path)
    plt.close(figure)


def scale_panel(axes: Any, scale: dict[str, Any]) -> None:
    """Each page's p50 against the history's size, both axes log: a flat line is the target. A size at which the
    page did not answer 200 is an x at the failed call's time, with its status."""
    sizes = scale["sizes"]
    for index, (name, page) in enumerate(scale["pages"].items()):
        colour = PAGE_COLOURS[index % len(PAGE_COLOURS)]
        answered = [(size, p50) for size, p50 in zip(sizes, page["p50_ms"]) if p50 is not None]
        ratio = page["ratio_largest_to_smallest"]
        label = f"{name} ({'-' if ratio is None else f'{ratio:.2f}x'})"
        axes.plot([size for size, _ in answered], [p50 for _, p50 in answered], marker="o", color=colour, label=label)
        for size, status, failed_ms in zip(sizes, page["status"], page["failed_ms"]):
            if status != 200 and failed_ms:
                axes.plot(size, failed_ms, marker="x", color=colour, markersize=10, markeredgewidth=2)
                axes.annotate(f" {status}", (size, failed_ms), fontsize=7.5, color=colour)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    axes.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.set_xlim(sizes[0] / 1.5, sizes[-1] * 1.5)
    shown = [value for page in scale["pages"].values() for value in [*page["p50_ms"], *page["failed_ms"]] if value]
    if shown:  # room above the lines for the legend
        axes.set_ylim(min(shown) / 1.5, max(shown) * 4)
    axes.set_xlabel("history size, sessions (log scale)")
    axes.set_ylabel("p50 ms (log scale)")
    axes.set_title(
        f"Scale: each page's p50 against the history (legend: largest/smallest, target at most 1.5x; "
        f"x: a failed call), {scale['calls_per_page']} calls a page",
        fontsize=11,
    )
    axes.grid(which="both", alpha=0.25)
    axes.legend(fontsize=8, ncol=3, loc="upper left", framealpha=0.95)


def draw_scale(scale: dict[str, Any], path: Path) -> None:
    """The scale section alone (python -m bench.scale): its one panel."""
    figure, axes = plt.subplots(figsize=(12, 6.5), dpi=100)
    scale_panel(axes, scale)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)

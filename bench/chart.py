"""The bench's picture: each route's latency against the floors, its ratio to its floor, the cold start, and (with
the scale section) each page's latency against the history's size."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: a file only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.patheffects import withStroke  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: E402

READ_COLOUR, WRITE_COLOUR, BASELINE_COLOUR = "#3b75af", "#c0504d", "#7f7f7f"
PASS_COLOUR, FAIL_COLOUR, OTHER_COLOUR = "#4e9a45", "#e08a1e", "#b9c4d0"
BAND_COLOUR = "#f1f3f5"
PAGE_COLOURS = plt.get_cmap("tab10").colors
BASELINE_LABEL = "baseline: naive port of the Flask create"


def has_scale(result: dict[str, Any]) -> bool:
    return bool((result.get("scale") or {}).get("pages"))


def draw(result: dict[str, Any], path: Path) -> None:
    """Write the one-PNG summary (1400x1000, 1400x1500 with the scale section) of a bench result to path."""
    figure = build_figure(result)
    figure.savefig(path)
    plt.close(figure)


def build_figure(result: dict[str, Any]) -> Figure:
    """The summary's figure, not saved: the latency and ratio panels share one y axis (one row a route, the first on
    top), then the cold start and, with the scale section, the scale panel. Each panel's axes carry a label
    ("latency", "ratio", "cold", "scale"); each title and legend names only what is drawn."""
    rows = {**result["routes"], BASELINE_LABEL: result["baseline"]}
    labels = list(rows)[::-1]  # the first route on top
    targets = result["targets"]
    single_reads = targets["single_reads_p50_within_1_5x_getitem"]
    limits = {label: single_reads.get("limit", 1.5) for label in single_reads["value"]}
    if "POST /study_sessions" in rows:
        limits["POST /study_sessions"] = targets.get("post_p50_within_1_5x_putitem", {}).get("limit", 1.5)
    scale = has_scale(result)
    figure = plt.figure(figsize=(14, 15 if scale else 10), dpi=100)
    grid = figure.add_gridspec(
        3 if scale else 2,
        2,
        width_ratios=[1.35, 1],
        height_ratios=[5.4, 1, 3.4] if scale else [5.4, 1],
        wspace=0.04,
        hspace=0.3 if scale else 0.34,
        left=0.235,
        right=0.98,
        top=0.94 if scale else 0.91,
        bottom=0.04 if scale else 0.06,
    )
    latency = figure.add_subplot(grid[0, 0], label="latency")
    ratio = figure.add_subplot(grid[0, 1], sharey=latency, label="ratio")  # the same rows at the same heights
    cold = figure.add_subplot(grid[1, :], label="cold")

    positions = list(range(len(labels)))
    # Empty rows above the first route, where the legends sit over no bar: a legend is a fixed height, so more
    # routes (thinner rows) need more of them.
    headroom = max(1.6, 0.08 * len(labels))
    for axes in (latency, ratio):
        for y in positions[::2]:  # a band every other row leads the eye from a route's label across both panels
            axes.axhspan(y - 0.5, y + 0.5, color=BAND_COLOUR, zorder=0, linewidth=0)
        axes.axhline(0.5, color="black", linewidth=0.6)  # the baseline's row apart from the app's routes
    latency.set_ylim(-0.5, len(labels) - 0.5 + headroom)

    kinds = [
        "baseline" if label == BASELINE_LABEL else "read" if rows[label]["kind"] == "read" else "write"
        for label in labels
    ]
    kind_colour = {"read": READ_COLOUR, "write": WRITE_COLOUR, "baseline": BASELINE_COLOUR}
    kind_name = {"read": "read route", "write": "write route", "baseline": "baseline: naive Flask port"}
    latency.barh(
        positions,
        [rows[label]["p50_ms"] for label in labels],
        color=[kind_colour[k] for k in kinds],
        height=0.6,
        zorder=2,
    )
    for y, label in zip(positions, labels):
        row = rows[label]
        latency.plot([row["p50_ms"], row["p99_ms"]], [y, y], color="black", linewidth=1, zorder=3)
        latency.plot(row["p95_ms"], y, marker="|", color="black", markersize=9, zorder=3)
        latency.plot(row["p99_ms"], y, marker="|", color="black", markersize=14, zorder=3)
    latency.axvline(result["getitem_p50_ms"], color=READ_COLOUR, linestyle="--", linewidth=1.2, zorder=1)
    latency.axvline(result["putitem_p50_ms"], color=WRITE_COLOUR, linestyle="--", linewidth=1.2, zorder=1)
    latency.set_xscale("log")
    lowest = min([result["getitem_p50_ms"], result["putitem_p50_ms"]] + [rows[label]["p50_ms"] for label in labels])
    highest = max(rows[label]["p99_ms"] for label in labels)
    latency.set_xlim(lowest / 1.6, highest * 1.3)
    latency.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    latency.xaxis.set_minor_locator(LogLocator(subs="auto"))
    latency.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    latency.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    latency.set_yticks(positions, labels, fontsize=9)
    latency.tick_params(axis="y", length=0)
    latency.set_xlabel("ms per call, log scale: bar p50, ticks p95 and p99")
    latency.set_title("Latency through the app in process", fontsize=11)
    latency.grid(axis="x", which="both", alpha=0.25)
    floors = {"read": ("GetItem", result["getitem_p50_ms"]), "write": ("PutItem", result["putitem_p50_ms"])}
    handles: list[Artist] = []
    for kind, (operation, p50) in floors.items():  # filled a column at a time: each kind of route above its floor
        if kind in kinds:
            handles.append(Patch(color=kind_colour[kind], label=kind_name[kind]))
        handles.append(
            Line2D([], [], color=kind_colour[kind], linestyle="--", label=f"raw {operation} p50 {p50:.2f} ms")
        )
    handles.append(Patch(color=BASELINE_COLOUR, label=kind_name["baseline"]))
    latency.legend(
        handles=handles,
        loc="upper left",
        ncol=3,
        fontsize=8,
        framealpha=0.95,
    )

    values = [rows[label]["ratio_to_floor"] for label in labels]
    verdicts = [
        "none" if label not in limits or value is None else "pass" if value <= limits[label] else "fail"
        for label, value in zip(labels, values)
    ]
    verdict_colour = {"pass": PASS_COLOUR, "fail": FAIL_COLOUR, "none": OTHER_COLOUR}
    ratio.barh(
        positions, [value or 0 for value in values], color=[verdict_colour[v] for v in verdicts], height=0.6, zorder=2
    )
    for y, value in zip(positions, values):
        ratio.text(
            value or 0,
            y,
            " -" if value is None else f" {value:.1f}x",
            va="center",
            fontsize=8,
            zorder=3,
            path_effects=[withStroke(linewidth=2.5, foreground="white")],  # legible over the dotted line
        )
    limit_lines = sorted(set(limits.values()))
    for limit in limit_lines:
        ratio.axvline(limit, color="black", linestyle=":", linewidth=1.2, zorder=1)
    ratio.axvline(1.0, color="black", linewidth=0.6, zorder=1)
    ratio.tick_params(axis="y", labelleft=False, length=0)
    shown_limits = "/".join(f"{limit:g}x" for limit in limit_lines)
    ratio.set_xlabel(
        "p50 / floor p50 (reads: GetItem, writes: PutItem)" + (f"; dotted: {shown_limits}" if limit_lines else "")
    )
    targeted, failing = sum(v != "none" for v in verdicts), sum(v == "fail" for v in verdicts)
    if not targeted:
        summary = "no route has a target"
    elif failing:
        summary = f"{failing} of {targeted} targeted routes over {shown_limits}"
    else:
        summary = f"all {targeted} targeted routes within {shown_limits}"
    ratio.set_title(f"Ratio to the floor: {summary}", fontsize=11)
    verdict_name = {
        "pass": f"within its {shown_limits} target",
        "fail": f"over its {shown_limits} target",
        "none": "no target",
    }
    ratio.legend(
        handles=[Patch(color=verdict_colour[v], label=verdict_name[v]) for v in verdict_colour if v in verdicts],
        loc="upper left",
        ncol=3,
        fontsize=8,
        framealpha=0.95,
    )
    ratio.grid(axis="x", alpha=0.25)
    ratio.set_xlim(0, max(value or 0 for value in values) * 1.12 + 0.4)

    sides = [
        ("floor: boto3 + the same calls", result["cold_start_floor_ms"], result["cold_start_floor_process_ms"]),
        ("app: import + first POST", result["cold_start_ms"], result["cold_start_process_ms"]),
    ]
    for y, (_label, measured, process) in enumerate(sides):
        cold.barh(y, process, color=OTHER_COLOUR, height=0.6)
        cold.barh(y, measured, color=WRITE_COLOUR if y else READ_COLOUR, height=0.6)
        cold.text(measured / 2, y, f"{measured:.0f} ms", va="center", ha="center", fontsize=8.5, color="white")
        cold.text(process, y, f" process {process:.0f} ms", va="center", fontsize=8.5)
    cold.axvline(result["cold_start_floor_ms"] * 1.2, color="black", linestyle=":", linewidth=1.2)
    cold.set_yticks([0, 1], [label for label, _, _ in sides], fontsize=9)
    cold.set_xlim(0, max(process for _, _, process in sides) * 1.2)
    cold.set_xlabel("ms, median of the cold runs (grey: the whole process)")
    cold.set_title(
        f"Cold start {result['cold_start_ratio_to_floor']}x its floor (dotted: 1.2x the floor), "
        f"cold POST {result['cold_post_ddb_requests']} DynamoDB requests",
        fontsize=11,
    )
    cold.grid(axis="x", alpha=0.25)
    if scale:
        scale_panel(figure.add_subplot(grid[2, :], label="scale"), result["scale"])

    figure.suptitle(
        f"make bench, {result['started_at'][:10]}: {result['calls_per_route']} calls per route, "
        f"{result['cold_runs']} cold runs, ministack {result['ministack_version']}, "
        f"{result['machine']['cpu_count']} CPUs; package {result['package_bytes'] / 1024:.0f} KB, "
        f"warm RSS {result['warm_peak_rss_mib']} MiB",
        fontsize=12,
    )
    return figure


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
    axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
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

"""The bench chart reads at a glance: the ratio panel's rows are the latency panel's rows (one y axis, one row a
route, same order, same heights), and its title and legends name only the colours its bars have.

A small result stands in for bench/results/latest.json: no bench runs here."""

import json
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bench.chart import BASELINE_LABEL, FAIL_COLOUR, PASS_COLOUR, build_figure, draw
from scripts.local_stack import ROOT

LATEST = ROOT / "bench" / "results" / "latest.json"

SINGLE_READS = ("GET /groups/{id}", "GET /words/{id}")
COLOUR_WORDS = ("green", "orange", "red", "blue", "grey", "gray")


def _row(kind: str, p50: float, ratio: float | None) -> dict[str, Any]:
    return {"kind": kind, "p50_ms": p50, "p95_ms": p50 * 1.3, "p99_ms": p50 * 1.6, "ratio_to_floor": ratio}


def _result(post_ratio: float = 1.2, reads_ratio: float = 1.1) -> dict[str, Any]:
    routes = {
        "GET /groups": _row("read", 6.0, 2.0),
        "GET /groups/{id}": _row("read", 3.3, reads_ratio),
        "GET /words/{id}": _row("read", 3.1, 1.05),
        "POST /study_sessions": _row("write", 3.2, post_ratio),
        "POST /study_sessions/{id}/review (one)": _row("write", 4.0, 1.6),
    }
    return {
        "routes": routes,
        "baseline": _row("write", 14.0, 5.2),
        "targets": {
            "single_reads_p50_within_1_5x_getitem": {
                "value": {label: routes[label]["ratio_to_floor"] for label in SINGLE_READS},
                "limit": 1.5,
            },
            "post_p50_within_1_5x_putitem": {"value": post_ratio, "limit": 1.5},
        },
        "getitem_p50_ms": 3.0,
        "putitem_p50_ms": 2.7,
        "cold_start_ms": 320.0,
        "cold_start_process_ms": 370.0,
        "cold_start_floor_ms": 307.0,
        "cold_start_floor_process_ms": 381.0,
        "cold_start_ratio_to_floor": 1.04,
        "cold_post_ddb_requests": 2,
        "started_at": "2026-12-04T10:00:00+00:00",
        "calls_per_route": 1000,
        "cold_runs": 20,
        "ministack_version": "1.5.33",
        "machine": {"cpu_count": 2},
        "package_bytes": 230_000,
        "warm_peak_rss_mib": 50.8,
    }


@pytest.fixture
def figures():
    made: list[Figure] = []

    def make(result: dict[str, Any]) -> Figure:
        made.append(build_figure(result))
        return made[-1]

    yield make
    for figure in made:
        plt.close(figure)


def _axes(figure: Figure, label: str) -> Axes:
    (axes,) = [axes for axes in figure.axes if axes.get_label() == label]
    return axes


def _bars(axes: Axes) -> list[Any]:
    (bars,) = axes.containers  # one bar a row, drawn by one barh
    return list(bars)


def _texts(axes: Axes) -> list[str]:
    """The words a reader takes the colours' meaning from: the title, the axis label and the legend."""
    legend = axes.get_legend()
    return [axes.get_title(), axes.get_xlabel(), *(text.get_text() for text in (legend.get_texts() if legend else []))]


def _legend(axes: Axes) -> dict[str, str]:
    """Each legend entry's text and its swatch's colour (lines, such as the floors, left out)."""
    legend = axes.get_legend()
    return {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles)
        if isinstance(handle, Patch)
    }


def _small_or_latest(which: str) -> dict[str, Any]:
    """The small result, or the checked-in one (every route, the longest labels)."""
    return _result() if which == "small" else json.loads(LATEST.read_text())


@pytest.mark.parametrize("which", ["small", "latest"])
def test_the_ratio_panel_has_the_latency_panels_rows(figures, which):
    result = _small_or_latest(which)
    figure = figures(result)
    latency, ratio = _axes(figure, "latency"), _axes(figure, "ratio")
    rows = {**result["routes"], BASELINE_LABEL: result["baseline"]}
    labels = list(rows)[::-1]  # the first route on top

    assert ratio.get_shared_y_axes().joined(latency, ratio)
    assert [text.get_text() for text in latency.get_yticklabels()] == labels
    assert list(ratio.get_yticks()) == list(latency.get_yticks()) == list(range(len(labels)))
    assert ratio.get_ylim() == latency.get_ylim()
    # Side by side at the same heights on the page, so a row's bar in one panel is level with its bar in the other.
    assert (ratio.get_position().y0, ratio.get_position().y1) == (latency.get_position().y0, latency.get_position().y1)
    latency_bars, ratio_bars = _bars(latency), _bars(ratio)
    assert len(latency_bars) == len(ratio_bars) == len(labels)
    for y, label, left, right in zip(latency.get_yticks(), labels, latency_bars, ratio_bars):
        assert left.get_y() + left.get_height() / 2 == pytest.approx(y)
        assert (right.get_y(), right.get_height()) == (left.get_y(), left.get_height())
        assert right.get_width() == pytest.approx(rows[label]["ratio_to_floor"])  # the route's own ratio


def test_with_every_target_met_no_title_or_legend_speaks_of_a_failing_bar(figures):
    figure = figures(_result())
    ratio = _axes(figure, "ratio")

    colours = {to_hex(bar.get_facecolor()) for bar in _bars(ratio)}
    assert FAIL_COLOUR not in colours and PASS_COLOUR in colours
    assert set(_legend(ratio).values()) == colours  # the legend explains exactly the colours drawn
    assert "all 3 targeted routes within 1.5x" in ratio.get_title()
    for text in [figure.get_suptitle(), *(text for axes in figure.axes for text in _texts(axes))]:
        assert "orange" not in text.lower() and "over" not in text.lower(), text


def test_a_failing_bar_is_in_the_failing_colour_and_the_title_and_legend_say_so(figures):
    result = _result(post_ratio=1.8)
    figure = figures(result)
    ratio = _axes(figure, "ratio")
    labels = [*result["routes"], BASELINE_LABEL][::-1]

    colour_of = {label: to_hex(bar.get_facecolor()) for label, bar in zip(labels, _bars(ratio))}
    assert colour_of["POST /study_sessions"] == FAIL_COLOUR
    assert [label for label, colour in colour_of.items() if colour == FAIL_COLOUR] == ["POST /study_sessions"]
    assert {colour_of[label] for label in SINGLE_READS} == {PASS_COLOUR}
    legend = _legend(ratio)
    assert set(legend.values()) == set(colour_of.values())
    assert legend["over its 1.5x target"] == FAIL_COLOUR
    assert "1 of 3 targeted routes over 1.5x" in ratio.get_title()


def test_with_every_target_missed_no_legend_entry_speaks_of_a_passing_bar(figures):
    result = _result(post_ratio=2.0, reads_ratio=1.7)
    result["routes"]["GET /words/{id}"]["ratio_to_floor"] = 1.9
    ratio = _axes(figures(result), "ratio")

    colours = {to_hex(bar.get_facecolor()) for bar in _bars(ratio)}
    assert PASS_COLOUR not in colours
    assert set(_legend(ratio).values()) == colours
    assert not any("within" in text for text in _texts(ratio))
    assert "3 of 3 targeted routes over 1.5x" in ratio.get_title()


def test_the_latency_legend_names_only_the_kinds_of_bar_drawn(figures):
    result = _result()
    result["routes"] = {label: row for label, row in result["routes"].items() if row["kind"] == "read"}
    result["baseline"] = result["baseline"] | {"kind": "read"}
    latency = _axes(figures(result), "latency")

    colours = {to_hex(bar.get_facecolor()) for bar in _bars(latency)}
    assert set(_legend(latency).values()) == colours
    assert "write route" not in _legend(latency)


def test_the_only_colour_a_text_names_is_the_cold_starts_grey_whole_process(figures):
    # The other colours are explained by legends whose swatches are the bars' own colours.
    figure = figures(_result())
    named = {
        (axes.get_label(), word)
        for axes in figure.axes
        for text in _texts(axes)
        for word in COLOUR_WORDS
        if word in text.lower()
    }
    assert named == {("cold", "grey")}


def test_draw_writes_the_png(tmp_path):
    path = tmp_path / "latest.png"
    draw(_result(), path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("which", ["small", "latest"])
def test_the_route_labels_and_legends_overlap_nothing(figures, which):
    figure = figures(_small_or_latest(which))
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    latency, ratio = _axes(figure, "latency"), _axes(figure, "ratio")
    boxes = [label.get_window_extent(renderer) for label in latency.get_yticklabels()]
    assert min(box.x0 for box in boxes) >= 0  # the longest route's label is on the page
    assert all(below.y1 <= above.y0 + 0.5 for below, above in zip(boxes, boxes[1:]))  # each on its own line
    for axes in (latency, ratio):
        legend = axes.get_legend().get_window_extent(renderer)
        top = max(bar.get_window_extent(renderer).y1 for bar in _bars(axes))
        assert legend.y0 >= top  # above the first row: over no bar
        assert legend.x0 >= axes.get_window_extent(renderer).x0 and legend.x1 <= axes.get_window_extent(renderer).x1

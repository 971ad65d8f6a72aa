"""Draw the chart's Grafana dashboard (charts/mcp-servers/dashboards/mcp-servers.json) from
Prometheus data, as a PNG laid out on Grafana's 24-column grid, in the colours of Grafana's dark
theme. No Grafana runs here (no image can be pulled, and building it from source needs its whole
frontend toolchain), so matplotlib draws each panel: time series as lines, state timelines as
coloured bands with the panel's value mappings. The queries are the dashboard's own, run by
harness.dashboard as Grafana runs them (query_range, variables filled in).

    # from the data tests/cluster/test_cluster_monitoring.py saved (the docs' screenshot):
    uv run python scripts/render_dashboard.py --data .run/monitoring/dashboard-data.json \\
        --out docs/images/mcp-servers-dashboard.png
    # from a live Prometheus, the last 15 minutes of one namespace:
    uv run python scripts/render_dashboard.py --prometheus http://10.244.0.1:30090 \\
        --namespace prom-apps --minutes 15 --out dashboard.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from harness.dashboard import fetch
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

BACKGROUND = "#111217"
PANEL = "#181b1f"
BORDER = "#2c3235"
TEXT = "#ccccdc"
MUTED = "#8e8e98"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
           "#705da0", "#37872d", "#fade2a", "#1f60c4", "#c4162a"]  # fmt: skip
NAMED_COLOURS = {"green": "#73bf69", "yellow": "#fade2a", "red": "#f2495c", "blue": "#5794f2"}
GRID_WIDTH_INCHES = 22.0
ROW_HEIGHT_INCHES = 0.36  # one of Grafana's grid rows (30 px at its default scale)
MIN_STEP = 5.0


def unit_formatter(unit: str) -> FuncFormatter:
    def fmt(value: float, _: object) -> str:
        if unit == "percentunit":
            return f"{value * 100:.0f}%"
        if unit == "s":
            return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.1f} s"
        if unit == "bytes":
            return f"{value / 2**20:.0f} MiB"
        if unit == "reqps":
            return f"{value:.3g}/s"
        if unit == "cores":
            return f"{value:.2g}"
        return f"{value:.3g}"

    return FuncFormatter(fmt)


def times(values: list[list[float]]) -> list[datetime]:
    return [datetime.fromtimestamp(t, UTC) for t, _ in values]


def style_axes(ax: Any, start: float, end: float) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(colors=MUTED, labelsize=7, length=0)
    ax.grid(color=BORDER, linewidth=0.6)
    ax.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    ax.xaxis.set_major_formatter(
        mdates.DateFormatter("%H:%M" if end - start > 3600 else "%H:%M:%S", tz=UTC)
    )


def with_gaps(values: list[list[float]], step: float) -> list[tuple[float, float]]:
    """The finite points, with a NaN where samples are missing, so that the line breaks there
    as Grafana's does (a series absent for a while, e.g. no pod)."""
    points: list[tuple[float, float]] = []
    for t, v in values:
        if not math.isfinite(v):
            continue
        if points and t - points[-1][0] > 1.5 * step:
            points.append((points[-1][0] + step, math.nan))
        points.append((t, v))
    return points


def draw_timeseries(ax: Any, panel: dict[str, Any], start: float, end: float, step: float):
    style_axes(ax, start, end)
    colour = 0
    drawn = [
        (series, with_gaps(series["values"], step))
        for target in panel["targets"]
        for series in target["series"]
    ]
    # Series that stay at zero (methods nobody called, tools without errors) are left out, as
    # Grafana's legend option "hide series with only zeros" does, unless all are zero.
    if any(v for _, points in drawn for _, v in points if math.isfinite(v)):
        drawn = [
            (s, points) for s, points in drawn if any(v for _, v in points if math.isfinite(v))
        ]
    for series, points in drawn:
        if not points:
            continue
        dashed = series["legend"].endswith(("limit", "request"))
        ax.plot(
            times(points), [v for _, v in points], linewidth=1.2,
            linestyle="--" if dashed else "-", color=PALETTE[colour % len(PALETTE)],
            label=series["legend"],
        )  # fmt: skip
        colour += 1
    ax.yaxis.set_major_formatter(unit_formatter(panel["unit"]))
    ax.set_ylim(bottom=0)
    if colour:
        ax.legend(
            loc="upper left", fontsize=6, labelcolor=TEXT, ncol=2 if colour > 4 else 1,
            handlelength=1.2, frameon=True, facecolor=PANEL, edgecolor=PANEL, framealpha=0.8,
        )  # fmt: skip


def value_names(panel: dict[str, Any]) -> dict[float, tuple[str, str]]:
    names: dict[float, tuple[str, str]] = {}
    for mapping in panel["mappings"]:
        for value, option in mapping.get("options", {}).items():
            colour = NAMED_COLOURS.get(option.get("color", ""), option.get("color", MUTED))
            names[float(value)] = (option.get("text", value), colour)
    return names


def draw_state_timeline(ax: Any, panel: dict[str, Any], start: float, end: float, step: float):
    style_axes(ax, start, end)
    ax.grid(False)
    names = value_names(panel)
    rows = [s for target in panel["targets"] for s in target["series"]]
    for row, series in enumerate(rows):
        for t, value in series["values"]:
            if not math.isfinite(value):
                continue
            _, colour = names.get(value, (f"{value:g}", MUTED))
            left = mdates.date2num(datetime.fromtimestamp(t, UTC))
            width = mdates.date2num(datetime.fromtimestamp(t + step, UTC)) - left
            ax.add_patch(Rectangle((left, row + 0.1), width, 0.8, color=colour, linewidth=0))
    ax.set_ylim(len(rows), 0)
    ax.set_yticks([row + 0.5 for row in range(len(rows))])
    ax.set_yticklabels([series["legend"] for series in rows], fontsize=7, color=TEXT)
    used = {names[v] for s in rows for _, v in s["values"] if v in names}
    if used:
        handles = [Rectangle((0, 0), 1, 1, color=colour) for _, colour in sorted(used)]
        ax.legend(
            handles, [text for text, _ in sorted(used)], loc="lower right", fontsize=6,
            frameon=False, labelcolor=TEXT, ncol=len(used),
        )  # fmt: skip


def render(data: dict[str, Any], out: Path) -> None:
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in data["panels"])
    header = 1.0
    height = rows * ROW_HEIGHT_INCHES + header
    fig = plt.figure(figsize=(GRID_WIDTH_INCHES, height), facecolor=BACKGROUND)
    variables = "   ".join(f"{k}: {v}" for k, v in data["variables"].items())
    span = (
        f"{datetime.fromtimestamp(data['start'], UTC):%Y-%m-%d %H:%M}"
        f" to {datetime.fromtimestamp(data['end'], UTC):%H:%M} UTC"
    )
    fig.text(0.01, 1 - 0.35 / height, data["title"], color=TEXT, fontsize=14, weight="bold")
    fig.text(0.01, 1 - 0.7 / height, f"{variables}   ({span})", color=MUTED, fontsize=8)
    fig.text(
        0.99, 1 - 0.35 / height,
        "rendered by scripts/render_dashboard.py (matplotlib) from Prometheus data",
        color=MUTED, fontsize=7, ha="right",
    )  # fmt: skip
    pad_x, pad_top, pad_bottom = 0.004, 0.32, 0.28
    for panel in data["panels"]:
        grid = panel["gridPos"]
        left = grid["x"] / 24 + pad_x
        width = grid["w"] / 24 - 2 * pad_x
        top_in = header + grid["y"] * ROW_HEIGHT_INCHES
        box_h = grid["h"] * ROW_HEIGHT_INCHES
        fig.patches.append(Rectangle(
            (left - pad_x / 2, 1 - (top_in + box_h - 0.05) / height), width + pad_x,
            (box_h - 0.1) / height, transform=fig.transFigure, color=PANEL, zorder=-1,
        ))  # fmt: skip
        fig.text(left + 0.004, 1 - (top_in + 0.22) / height, panel["title"], color=TEXT,
                 fontsize=9, weight="bold")  # fmt: skip
        margin = 0.55 / GRID_WIDTH_INCHES
        if panel["type"] == "state-timeline":
            # Room for the longest row name (7-point text: about 0.06 inch a character).
            names = [s["legend"] for target in panel["targets"] for s in target["series"]]
            margin = (0.2 + 0.06 * max(map(len, names), default=10)) / GRID_WIDTH_INCHES
        ax = fig.add_axes((
            left + margin,
            1 - (top_in + box_h - pad_bottom) / height,
            width - margin - 0.006,
            (box_h - pad_top - pad_bottom) / height,
        ))  # fmt: skip
        if panel["type"] == "state-timeline":
            draw_state_timeline(ax, panel, data["start"], data["end"], data["step"])
        else:
            draw_timeseries(ax, panel, data["start"], data["end"], data["step"])
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, facecolor=BACKGROUND)
    plt.close(fig)


def live_data(url: str, namespace: str, minutes: float) -> dict[str, Any]:
    end = time.time()
    start = end - minutes * 60
    step = max(MIN_STEP, round(minutes * 60 / 300))

    def query_range(expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{url}/api/v1/query_range",
            params={"query": expr, "start": start, "end": end, "step": step}, timeout=60,
        )  # fmt: skip
        response.raise_for_status()
        return response.json()["data"]["result"]

    variables = {"namespace": namespace, "server": ".+", "tool": ".+"}
    return fetch(query_range, variables, start, end, step)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a JSON document harness.dashboard.fetch made")
    source.add_argument("--prometheus", help="base URL of a Prometheus to query")
    parser.add_argument("--namespace", help="with --prometheus: the servers' namespace")
    parser.add_argument("--minutes", type=float, default=15, help="with --prometheus: the range")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    if args.data:
        if not args.data.exists():
            parser.error(f"--data: {args.data} does not exist (run tests/cluster/"
                         "test_cluster_monitoring.py, which writes it)")  # fmt: skip
        data = json.loads(args.data.read_text())
    else:
        if not args.namespace:
            parser.error("--namespace is required with --prometheus")
        data = live_data(args.prometheus.rstrip("/"), args.namespace, args.minutes)
    render(data, args.out)
    print(f"render_dashboard: wrote {args.out} ({len(data['panels'])} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

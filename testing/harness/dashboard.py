"""The chart's Grafana dashboard (charts/mcp-servers/dashboards/mcp-servers.json) run against a
Prometheus the way Grafana runs it: each panel's queries, with the dashboard's variables filled
in, over a time range (the HTTP API's query_range). tests/cluster/test_cluster_monitoring.py
checks that every query returns data; scripts/render_dashboard.py draws the result.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "charts" / "mcp-servers" / "dashboards" / "mcp-servers.json"

# `$__rate_interval`: Grafana takes the larger of four scrape intervals and the step plus one.
# The servers are scraped every 5 s, but cAdvisor refreshes a container's stats only every 10 s
# or so (the kubelet's housekeeping): 30 s holds at least two of its samples.
RATE_INTERVAL_SECONDS = 30

QueryRange = Callable[[str, float, float, float], list[dict[str, Any]]]


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text())


def concrete(expr: str, variables: Mapping[str, str]) -> str:
    """EXPR with `$name` replaced by VARIABLES[name] (longest names first, as `$__rate_interval`
    must not be read as `$__rate`); an unknown variable is an error naming it."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${name}", variables[name])
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise KeyError(f"no value for {sorted(set(left))} in {expr!r}")
    return expr


def legend(template: str, labels: Mapping[str, str]) -> str:
    """Grafana's legend format: `{{label}}` replaced by the series' label value."""
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def fetch(
    query_range: QueryRange,
    variables: Mapping[str, str],
    start: float,
    end: float,
    step: float,
    board: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every panel's series over [start, end]: a JSON-able document scripts/render_dashboard.py
    draws, with the variables and range it was made with."""
    board = board or load()
    values = {**variables, "__rate_interval": f"{RATE_INTERVAL_SECONDS}s"}
    panels = []
    for panel in board["panels"]:
        targets = []
        for target in panel["targets"]:
            expr = concrete(target["expr"], values)
            result = query_range(expr, start, end, step)
            targets.append({
                "refId": target["refId"],
                "expr": expr,
                "series": [
                    {
                        "legend": legend(target.get("legendFormat", ""), series["metric"]),
                        "labels": series["metric"],
                        "values": [[float(t), float(v)] for t, v in series["values"]],
                    }
                    for series in result
                ],
            })  # fmt: skip
        panels.append({
            "title": panel["title"],
            "type": panel["type"],
            "gridPos": panel["gridPos"],
            "unit": panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short"),
            "mappings": panel.get("fieldConfig", {}).get("defaults", {}).get("mappings", []),
            "targets": targets,
        })  # fmt: skip
    return {
        "title": board["title"],
        "variables": dict(variables),
        "start": start,
        "end": end,
        "step": step,
        "panels": panels,
    }


def queries_without_data(data: Mapping[str, Any]) -> list[str]:
    """`<panel title> <refId>: <query>` of each query with no finite sample in the range."""
    empty = []
    for panel in data["panels"]:
        for target in panel["targets"]:
            finite = any(
                math.isfinite(value) for series in target["series"] for _, value in series["values"]
            )
            if not finite:
                empty.append(f"{panel['title']} {target['refId']}: {target['expr']}")
    return empty

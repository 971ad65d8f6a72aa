"""How long `helm template` takes for a release of 50 MCP servers (goal: under 1.5 s).

Baseline measured side by side: the same chart with 1 server, so the ratio shows what the
fleet costs beyond helm's own start-up. Servers cycle through the example files in values/.
Prints the median of several runs, wall clock and CPU.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HELM = ROOT / ".tools" / "bin" / "helm"
CHART = ROOT / "charts" / "mcp-servers"
RUNS = 7
GOAL_SECONDS = 1.5


def fleet(count: int) -> dict[str, Any]:
    examples = [
        yaml.safe_load(p.read_text())["servers"] for p in sorted((ROOT / "values").glob("*.yaml"))
    ]
    servers = {}
    for index in range(count):
        ((name, server),) = examples[index % len(examples)].items()
        servers[f"{name}-{index}"] = server
    return {"servers": servers}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_render(values: Path) -> tuple[float, float, int]:
    """Median wall seconds, median CPU seconds, and the number of objects rendered."""
    walls, cpus = [], []
    objects = 0
    for _ in range(RUNS):
        cpu_before = children_cpu()
        start = time.perf_counter()
        result = subprocess.run(
            [str(HELM), "template", "bench", str(CHART), "--namespace", "mcp", "-f", str(values)],
            capture_output=True,
            text=True,
            check=True,
        )
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu() - cpu_before)
        objects = result.stdout.count("\nkind: ")
    return statistics.median(walls), statistics.median(cpus), objects


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for count in (1, 50):
            path = Path(tmp) / f"fleet-{count}.yaml"
            path.write_text(yaml.safe_dump(fleet(count)))
            results[count] = time_render(path)
    (base_wall, base_cpu, base_objects), (wall, cpu, objects) = results[1], results[50]
    print(f"helm template, median of {RUNS} runs")
    print(f"  1 server  : {base_wall:.3f} s wall, {base_cpu:.3f} s CPU, {base_objects} objects")
    print(f"  50 servers: {wall:.3f} s wall, {cpu:.3f} s CPU, {objects} objects")
    print(f"  ratio 50/1: {wall / base_wall:.1f}x wall, {cpu / base_cpu:.1f}x CPU")
    print(f"  per extra server: {(wall - base_wall) / 49 * 1000:.1f} ms wall")
    verdict = "meets" if wall < GOAL_SECONDS else "MISSES"
    print(f"  goal < {GOAL_SECONDS} s for 50 servers: {verdict}")


if __name__ == "__main__":
    main()

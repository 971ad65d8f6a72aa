"""chart-testing's values files derive from values/ plus an overlay, and are kept in sync."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml


def ci_values(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"),
         str(root / "scripts" / "ci_values.py"), *args],
        capture_output=True,
        text=True,
    )  # fmt: skip


def test_the_ci_values_files_are_up_to_date(repo_root: Path) -> None:
    result = ci_values(repo_root, "--check")
    assert result.returncode == 0, result.stderr


def test_a_changed_values_file_makes_its_ci_variant_stale(repo_root: Path, tmp_path: Path) -> None:
    for part in ("scripts", "values", "charts/mcp-servers/ci"):
        shutil.copytree(repo_root / part, tmp_path / part, symlinks=True)
    shutil.copy(repo_root / "pyproject.toml", tmp_path)
    todo = tmp_path / "values" / "todo.yaml"
    values = yaml.safe_load(todo.read_text())
    values["servers"]["todo"]["port"] = 9001
    todo.write_text(yaml.safe_dump(values))

    stale = ci_values(tmp_path, "--check")
    assert stale.returncode == 1
    assert "out of date: charts/mcp-servers/ci/todo-values.yaml; run `make ci-values`" in (
        stale.stderr
    )
    assert ci_values(tmp_path).returncode == 0
    regenerated = yaml.safe_load((tmp_path / "charts/mcp-servers/ci/todo-values.yaml").read_text())
    todo_ci = regenerated["servers"]["todo"]
    # The shared part follows values/todo.yaml; the overlay's changes and removals still apply.
    assert todo_ci["port"] == 9001
    assert todo_ci["existingSecret"] == "mcp-todo-database"
    assert "externalSecret" not in todo_ci and "autoscaling" not in todo_ci

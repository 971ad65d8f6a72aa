"""chart-testing's values files are the values/ files users install: links to first-party files,
the runnable catalog entries merged into one release; kept in sync by scripts/ci_values.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from harness.catalog import load_catalog

# scripts/ is no package: the one place that says which values/ files ct leaves out.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from ci_values import NOT_INSTALLED


def ci_values(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"),
         str(root / "scripts" / "ci_values.py"), *args],
        capture_output=True,
        text=True,
    )  # fmt: skip


def copy_repo(repo_root: Path, tmp_path: Path) -> Path:
    for part in ("scripts", "values", "charts/mcp-servers/ci"):
        shutil.copytree(repo_root / part, tmp_path / part, symlinks=True)
    shutil.copy(repo_root / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_ci_values_files_are_up_to_date(repo_root: Path) -> None:
    result = ci_values(repo_root, "--check")
    assert result.returncode == 0, result.stderr


def test_first_party_values_files_are_installed_as_they_are(repo_root: Path) -> None:
    ci = repo_root / "charts/mcp-servers/ci"
    for name in ("todo", "postgres", "memory-cpu", "greeter-code"):
        link = ci / f"{name}-values.yaml"
        assert link.is_symlink(), link.name
        assert link.resolve() == (repo_root / "values" / f"{name}.yaml").resolve()


def test_a_changed_catalog_values_file_makes_the_catalog_release_stale(
    repo_root: Path, tmp_path: Path
) -> None:
    root = copy_repo(repo_root, tmp_path)
    time_file = root / "values" / "time.yaml"
    values = yaml.safe_load(time_file.read_text())
    values["servers"]["time"]["port"] = 9001
    time_file.write_text(yaml.safe_dump(values))

    stale = ci_values(root, "--check")
    assert stale.returncode == 1
    assert "out of date: charts/mcp-servers/ci/catalog-values.yaml; run `make ci-values`" in (
        stale.stderr
    )
    assert ci_values(root).returncode == 0
    merged = yaml.safe_load((root / "charts/mcp-servers/ci/catalog-values.yaml").read_text())
    assert merged["servers"]["time"]["port"] == 9001
    assert merged["servers"]["time"]["resources"] == values["servers"]["time"]["resources"]


def test_a_new_values_file_is_linked_and_a_removed_one_unlinked(
    repo_root: Path, tmp_path: Path
) -> None:
    root = copy_repo(repo_root, tmp_path)
    shutil.copy(root / "values" / "greeter-code.yaml", root / "values" / "hello.yaml")
    (root / "values" / "todo.yaml").unlink()

    stale = ci_values(root, "--check")
    assert stale.returncode == 1
    assert "charts/mcp-servers/ci/hello-values.yaml" in stale.stderr
    assert "charts/mcp-servers/ci/todo-values.yaml (no values/ file of that name)" in stale.stderr
    assert ci_values(root).returncode == 0
    ci = root / "charts/mcp-servers/ci"
    assert str((ci / "hello-values.yaml").readlink()) == "../../../values/hello.yaml"
    assert not (ci / "todo-values.yaml").is_symlink()


def test_a_stale_not_installed_entry_is_named(repo_root: Path, tmp_path: Path) -> None:
    root = copy_repo(repo_root, tmp_path)
    (root / "values" / "memory.yaml").unlink()
    result = ci_values(root, "--check")
    assert result.returncode == 1
    assert "NOT_INSTALLED names missing values/ files: ['memory']" in result.stderr


def test_the_readme_lists_every_values_file_ct_does_not_install(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    section = readme[
        readme.index("<!-- not-installed -->") : readme.index("<!-- /not-installed -->")
    ]
    others = [e.values for e in load_catalog() if not e.runnable]
    for path in [f"values/{name}.yaml" for name in NOT_INSTALLED] + others:
        assert f"`{path}`" in section, path

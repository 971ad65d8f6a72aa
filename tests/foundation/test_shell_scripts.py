"""The shell scripts: shellcheck-clean, and long steps say what they do while they run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest


def test_every_script_passes_shellcheck(repo_root: Path) -> None:
    scripts = sorted(str(path) for path in (repo_root / "scripts").glob("*.sh"))
    result = subprocess.run(
        ["shellcheck", "--external-sources", *scripts, str(repo_root / ".ci" / "run")],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def run_with_lib(repo_root: Path, tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run BODY in a script named step.sh that sources scripts/lib.sh, in a throwaway checkout."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "lib.sh").write_text((repo_root / "scripts" / "lib.sh").read_text())
    script = tmp_path / "scripts" / "step.sh"
    script.write_text(
        'set -euo pipefail\nsource "$(dirname "$0")/lib.sh"\nHEARTBEAT_SECONDS=1\n' + body
    )
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)


def test_a_long_step_announces_itself_beats_and_reports_its_time(
    repo_root: Path, tmp_path: Path
) -> None:
    result = run_with_lib(
        repo_root, tmp_path, 'long "compiling the moon" "about 3 s" bash -c "echo out; sleep 3"\n'
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("step: compiling the moon (usually about 3 s; output in .run/logs/")
    assert any(line.startswith("step:   still compiling the moon: ") for line in lines), lines
    assert lines[-1].startswith("step:   compiling the moon: done in ")
    # The step's own output is kept, not thrown away.
    assert "out" in (tmp_path / ".run" / "logs" / "step.log").read_text()


@pytest.mark.parametrize("status", [1, 7])
def test_a_failing_long_step_shows_its_output_and_status(
    repo_root: Path, tmp_path: Path, status: int
) -> None:
    result = run_with_lib(
        repo_root,
        tmp_path,
        f'long "linking" "a moment" bash -c "echo the-reason >&2; exit {status}"\necho after\n',
    )
    assert result.returncode == status
    assert re.search(rf"step: linking failed after \d+s \(exit {status}\)", result.stderr)
    assert "the-reason" in result.stderr
    assert "after" not in result.stdout


def test_another_architecture_gets_its_own_tag_and_an_unknown_one_is_named(
    repo_root: Path, tmp_path: Path
) -> None:
    host = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    other = "arm64" if host == "amd64" else "amd64"
    result = run_with_lib(
        repo_root,
        tmp_path,
        f"arch_tag localhost/mcp-servers/todo:0.1.0 {host}\n"
        f"arch_tag localhost/mcp-servers/todo:0.1.0 {other}\n"
        "check_arches amd64 arm64\ncheck_arches amd64 riscv64\necho unreachable\n",
    )
    assert result.returncode == 1
    assert result.stdout.split() == [
        "localhost/mcp-servers/todo:0.1.0",
        f"localhost/mcp-servers/todo:0.1.0-{other}",
    ]
    assert (
        "step: error: unknown architecture 'riscv64' in ARCHES (known: amd64 arm64)"
        in result.stderr
    )


def other_arch() -> str:
    host = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return "arm64" if host == "amd64" else "amd64"


def test_an_old_registered_qemu_is_named_to_a_user_who_cannot_replace_it(
    repo_root: Path, tmp_path: Path
) -> None:
    # As Debian 12's qemu 7.2 would answer the probe, for a user who is not root.
    result = run_with_lib(
        repo_root,
        tmp_path,
        f"emulator_major() {{ echo 7; }}\nid() {{ echo 1000; }}\nrequire_emulation {other_arch()}\n"
        "echo unreachable\n",
    )
    assert result.returncode == 1
    assert "unreachable" not in result.stdout
    machine = {"arm64": "aarch64", "amd64": "x86_64"}[other_arch()]
    assert (
        f"step: error: building for {other_arch()} needs qemu-user 10 or newer registered for"
        f" {machine} (found: 7); run this as root once to install and register it"
    ) in result.stderr


def test_the_foreign_architecture_runs_on_a_qemu_new_enough_for_onnxruntime(
    repo_root: Path, tmp_path: Path
) -> None:
    # The real kernel registration, set up (as root) the way every arm64 build sets it up.
    result = run_with_lib(
        repo_root,
        tmp_path,
        f"require_emulation {other_arch()}\n"
        f"emulator_major {'aarch64' if other_arch() == 'arm64' else 'x86_64'}\n",
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10

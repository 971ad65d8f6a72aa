"""The foundation's promises: make targets, their errors, and the pinned toolchain."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REQUIRED_TARGETS = {
    "help",
    "tools",
    "lint",
    "test",
    "build-images",
    "kind-up",
    "kind-down",
    "install",
    "ct-lint",
    "ct-install",
    "cluster-tools",
    "cluster-up",
    "cluster-load",
    "cluster-down",
    "demo",
    "bench",
    "up",
    "down",
    "base-image",
    "docker-engine",
}


def make(
    repo_root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-C", str(repo_root), *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=600,
    )


def test_help_is_the_default_and_lists_every_target(repo_root: Path) -> None:
    result = make(repo_root)
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^  ([a-z-]+)\s{2,}\S", result.stdout, re.MULTILINE))
    assert listed >= REQUIRED_TARGETS, REQUIRED_TARGETS - listed


def test_install_without_server_lists_valid_servers(repo_root: Path) -> None:
    result = make(repo_root, "install")
    assert result.returncode != 0
    assert "SERVER is required" in result.stderr
    assert re.search(r"valid: .*\btodo\b", result.stderr)


def test_install_with_unknown_server_names_it(repo_root: Path) -> None:
    result = make(repo_root, "install", "SERVER=nope")
    assert result.returncode != 0
    assert "unknown SERVER 'nope'" in result.stderr
    assert re.search(r"valid: .*\bpostgres\b", result.stderr)


def test_missing_tool_names_the_target_that_installs_it(repo_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    result = make(repo_root, "ct-lint", f"TOOLS_BIN={tmp_path}", env=env)
    assert result.returncode != 0
    assert "'ct' is not installed; run 'make tools'" in result.stderr


def test_cluster_script_rejects_an_unknown_provider(repo_root: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "cluster.sh"), "up"],
        capture_output=True,
        text=True,
        env={**os.environ, "CLUSTER_PROVIDER": "minikube"},
    )
    assert result.returncode == 2
    assert "CLUSTER_PROVIDER must be kind, local or auto, not 'minikube'" in result.stderr


def test_cluster_script_usage_lists_its_commands(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "cluster.sh"), "start"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "usage: cluster.sh up|down|status|health|load IMAGE...|postgresql|env" in result.stderr


def test_helm_reports_its_real_version_and_kubernetes(repo_root: Path, tmp_path: Path) -> None:
    version = subprocess.run(
        ["helm", "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.fullmatch(r"v3\.\d+\.\d+", version), version

    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\n"
        "data: {kube: {{ .Capabilities.KubeVersion.Version | quote }}}\n"
    )
    rendered = subprocess.run(
        ["helm", "template", str(chart)], capture_output=True, text=True, check=True
    ).stdout
    minor = int(re.search(r'kube: "v1\.(\d+)', rendered).group(1))
    assert minor >= 30, rendered


def test_second_tools_run_installs_nothing(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "install-tools.sh")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    installing = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("install-tools: ") and "tools ready" not in line
    ]
    assert installing == [], installing
    assert "tools ready" in result.stderr


def test_tools_are_on_the_pinned_versions(repo_root: Path) -> None:
    script = (repo_root / "scripts" / "install-tools.sh").read_text()
    for tool, command in {
        "KUBECONFORM_VERSION": ["kubeconform", "-v"],
        "KIND_VERSION": ["kind", "version"],
        "CT_VERSION": ["ct", "version"],
        "REGISTRY_VERSION": ["registry", "--version"],
        "COSIGN_VERSION": ["cosign", "version"],
        "SYFT_VERSION": ["syft", "version"],
    }.items():
        pinned = re.search(rf"^{tool}=(\S+)$", script, re.MULTILINE).group(1)
        output = subprocess.run(command, capture_output=True, text=True, check=True)
        assert pinned.lstrip("v") in output.stdout + output.stderr, (tool, output.stdout)


def test_tools_script_rejects_an_unknown_tool(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "install-tools.sh"), "kubectl-ai"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown tool 'kubectl-ai'; valid: uv helm helm4 ct" in result.stderr


def test_lock_file_matches_pyproject(repo_root: Path) -> None:
    result = subprocess.run(
        [str(repo_root / ".tools" / "bin" / "uv"), "lock", "--check"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "command", [["ruff", "check"], ["ruff", "format", "--check"]], ids=["check", "format"]
)
def test_python_code_passes_ruff(repo_root: Path, command: list[str]) -> None:
    result = subprocess.run(
        [
            str(repo_root / ".venv" / "bin" / command[0]),
            *command[1:],
            "servers",
            "tests",
            "bench",
            "scripts",
            "testing",
            "hatch_build.py",
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def script_in_empty_checkout(repo_root: Path, tmp_path: Path, name: str) -> Path:
    """A copy of scripts/NAME in a checkout with no .run/ and no .tools/: nothing built or up."""
    (tmp_path / "scripts").mkdir()
    for script in (repo_root / "scripts").glob("*.sh"):
        shutil.copy(script, tmp_path / "scripts" / script.name)
    return tmp_path / "scripts" / name


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        (
            "cluster.sh",
            ["load", "localhost/mcp-servers/todo:0.1.0"],
            "no cluster; run 'make cluster-up'",
        ),
        ("cluster.sh", ["postgresql"], "no cluster; run 'make cluster-up'"),
        ("ct-install.sh", [], "no cluster; run 'make cluster-up'"),
        ("demo.sh", [], "no cluster; run 'make cluster-up'"),
        ("local-node.sh", ["up"], "in .tools/bin; run 'make cluster-tools'"),
        ("local-node.sh", ["start"], "usage: local-node.sh up|down|status|health"),
    ],
)
def test_cluster_scripts_say_what_is_missing(
    repo_root: Path, tmp_path: Path, script: str, args: list[str], message: str
) -> None:
    result = subprocess.run(
        ["bash", str(script_in_empty_checkout(repo_root, tmp_path, script)), *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert message in result.stderr


def test_cold_ci_refuses_while_a_docker_engine_answers(repo_root: Path, tmp_path: Path) -> None:
    # In a checkout that is no git repository: were the check gone, the clone would stop it.
    subprocess.run(["bash", str(repo_root / "scripts" / "docker-engine.sh")], check=True)
    script = script_in_empty_checkout(repo_root, tmp_path, "cold-ci.sh")
    cold = tmp_path / "cold"
    result = subprocess.run(
        ["bash", str(script), str(cold)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "a Docker engine answers; stop it first" in result.stderr
    assert not cold.exists()


def test_cold_ci_refuses_to_run_but_as_root(repo_root: Path) -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as readable:
        os.chmod(readable, 0o755)
        script = script_in_empty_checkout(repo_root, Path(readable), "cold-ci.sh")
        cold = Path(readable) / "cold"
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*nobody, "bash", str(script), str(cold)], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert "run it as root: .ci/run installs packages" in result.stderr
    assert not cold.exists()


def test_loading_an_image_the_engine_lacks_names_it(repo_root: Path, tmp_path: Path) -> None:
    subprocess.run(["bash", str(repo_root / "scripts" / "docker-engine.sh")], check=True)
    script = script_in_empty_checkout(repo_root, tmp_path, "cluster-images.sh")
    result = subprocess.run(
        ["bash", str(script), "load", "localhost/mcp-servers/no-such-server:0.0.0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert (
        "localhost/mcp-servers/no-such-server:0.0.0 is not in the Docker engine;"
        " run 'make build-images'" in result.stderr
    )


def corefile_directives(manifest: str) -> set[str]:
    """The plugins a Corefile names: the first word of each line directly inside a server
    block (deeper lines configure a plugin)."""
    corefile = manifest.split("Corefile: |", 1)[1].split("\n---", 1)[0]
    directives, depth = set(), 0
    for line in corefile.splitlines():
        words = line.split()
        if depth == 1 and words and words[0] != "}":
            directives.add(words[0])
        depth += line.count("{") - line.count("}")
    return directives


def test_the_coredns_build_holds_exactly_the_plugins_the_corefile_names(repo_root: Path) -> None:
    """A plugin the Corefile names but the build lacks stops CoreDNS on the cluster only
    ("Unknown directive"); one the build has but nothing names is compile time for nothing."""
    directives = corefile_directives((repo_root / "cluster/manifests/coredns.yaml").read_text())
    main = (repo_root / "cluster/coredns/main.go").read_text()
    built = set(re.findall(r'"github\.com/coredns/coredns/plugin/(\w+)"', main))
    assert directives == {"errors", "health", "ready", "kubernetes", "cache"}
    assert built == directives

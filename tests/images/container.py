"""Run an image with `docker run` the way the kubelet runs the chart's pod spec."""

from __future__ import annotations

import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from harness.processes import free_port
from pod_spec import PodSpec

# Importing FastMCP (and, for memory, loading the model) on a busy 2-core machine.
READY_TIMEOUT_SECONDS = 120


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True)


def security_flags(context: dict[str, Any]) -> list[str]:
    """`docker run` flags equal to a container securityContext; unknown keys are an error."""
    flags: list[str] = []
    known = {
        "runAsUser",
        "runAsGroup",
        "runAsNonRoot",
        "readOnlyRootFilesystem",
        "allowPrivilegeEscalation",
        "privileged",
        "capabilities",
        "seccompProfile",
    }
    unknown = set(context) - known
    assert not unknown, f"securityContext keys without a docker equivalent here: {unknown}"
    if "runAsUser" in context:
        flags += ["--user", f"{context['runAsUser']}:{context.get('runAsGroup', 0)}"]
    if context.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    if context.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    if context.get("privileged"):
        flags.append("--privileged")
    for cap in context.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", cap]
    for cap in context.get("capabilities", {}).get("add", []):
        flags += ["--cap-add", cap]
    # seccompProfile RuntimeDefault is docker's default profile; runAsNonRoot is a kubelet check
    # that runAsUser already satisfies.
    return flags


@dataclass
class Container:
    name: str
    spec: PodSpec
    base_url: str
    # Where Prometheus scrapes it: the chart serves /metrics on a port of its own.
    metrics_url: str

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        status: int | None = None
        while time.monotonic() < deadline:
            state = docker("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip()
            if state != "true":
                raise AssertionError(f"{self.name} exited before ready:\n{self.logs()[-4000:]}")
            try:
                status = httpx.get(f"{self.base_url}/ready", timeout=5).status_code
                if status == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"/ready stayed {status}:\n{self.logs()[-4000:]}")

    def terminate(self) -> tuple[int, float]:
        """The kubelet's pod deletion: preStop hook, then SIGTERM with the grace period left.

        Returns the exit code and the seconds from the start of the preStop hook to exit.
        """
        started = time.monotonic()
        if self.spec.pre_stop:
            hook = docker("exec", self.name, *self.spec.pre_stop, check=False)
            assert hook.returncode == 0, f"preStop {self.spec.pre_stop} failed: {hook.stderr}"
        left = max(1, int(self.spec.grace_seconds - (time.monotonic() - started)))
        docker("stop", "-t", str(left), self.name)
        elapsed = time.monotonic() - started
        code = int(docker("inspect", "-f", "{{.State.ExitCode}}", self.name).stdout.strip())
        return code, elapsed

    def remove(self) -> None:
        docker("rm", "-f", self.name, check=False)


def run_pod(spec: PodSpec, files_dir: Path, secrets: dict[str, str]) -> Container:
    """Start `spec` detached. Secrets stand in for the ExternalSecret the chart renders.

    With a DATABASE_URL the container shares the host's network, because the project's
    PostgreSQL listens on 127.0.0.1 only; the server then listens on free host ports.
    Otherwise its ports are published on 127.0.0.1, as a Service would expose them.
    """
    missing = set(spec.secret_keys) - set(secrets)
    assert not missing, f"the pod needs secret keys {missing} (an empty value means unset)"
    name = f"mcp-contract-{uuid.uuid4().hex[:10]}"
    env = {**spec.env, **secrets}
    host_port, metrics_host_port = free_port(), free_port()
    args = ["run", "-d", "--name", name, *security_flags(spec.security_context)]
    for path in spec.tmpfs:
        args += ["--tmpfs", path]
    if secrets.get("DATABASE_URL"):
        args += ["--network", "host"]
        env["MCP_PORT"] = str(host_port)
        env["MCP_METRICS_PORT"] = str(metrics_host_port)
    else:
        args += ["-p", f"127.0.0.1:{host_port}:{spec.port}"]
        args += ["-p", f"127.0.0.1:{metrics_host_port}:{spec.metrics_port}"]
    for index, (path, content) in enumerate(sorted(spec.files.items())):
        source = files_dir / f"{index}-{Path(path).name}"
        source.write_text(content, encoding="utf-8")
        source.chmod(0o644)
        args += ["-v", f"{source}:{path}:ro"]
    for key, value in sorted(env.items()):
        args += ["-e", f"{key}={value}"]
    docker(*args, spec.image)
    return Container(
        name=name,
        spec=spec,
        base_url=f"http://127.0.0.1:{host_port}",
        metrics_url=f"http://127.0.0.1:{metrics_host_port}/metrics",
    )

"""kubectl and helm against the test cluster's kubeconfig."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any


class Kube:
    def __init__(self, kubeconfig: Path) -> None:
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, input=input, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def kubectl(self, *args: str, **kwargs: Any) -> str:
        return self.run("kubectl", *args, **kwargs).stdout

    def helm(self, *args: str, **kwargs: Any) -> str:
        return self.run("helm", *args, **kwargs).stdout

    def get(self, *args: str) -> dict[str, Any]:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def apply(self, manifest: dict[str, Any], namespace: str) -> None:
        self.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(manifest))

    def pods(self, namespace: str, selector: str) -> dict[str, dict[str, Any]]:
        items = self.get("pods", "-n", namespace, "-l", selector)["items"]
        return {pod["metadata"]["name"]: pod for pod in items}

    def wait_for(self, what: str, condition, timeout: float = 180) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(1)

    def pod_phase(self, namespace: str, name: str) -> str:
        return self.get("pod", "-n", namespace, name)["status"].get("phase", "")

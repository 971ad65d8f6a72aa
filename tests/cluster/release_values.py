"""Values and pod fields the cluster tests share: settings that make a release quick to start,
roll and stop, and the restricted container security context of the tests' own client pods."""

from __future__ import annotations

from typing import Any

# No preStop pause, a one-second drain, probes every second: a test's rollouts and uninstalls
# take seconds, not the production defaults' half minute.
FAST: dict[str, Any] = {
    "drain": {"preStopSleepSeconds": 0, "timeoutSeconds": 1},
    "terminationGracePeriodSeconds": 6,
    "readinessProbe": {"periodSeconds": 1},
    "startupProbe": {"periodSeconds": 1, "failureThreshold": 60},
    "test": {"enabled": False},
}

# What the Pod Security Standards' restricted profile asks of a container.
RESTRICTED: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}

"""Bad values fail the render with a message that names the key.

Schema failures come from values.schema.json (helm prints the JSON path); template failures come
from `fail` in templates/_helpers.tpl and name `servers.<name>.<key>`.
"""

from __future__ import annotations

import pytest
from helm_render import VALUES_DIR, render_error

TODO = (VALUES_DIR / "todo.yaml",)
GREETER = (VALUES_DIR / "greeter-code.yaml",)
EVERYTHING = (VALUES_DIR / "everything.yaml",)
MINIMAL = '{"image":{"repository":"mcp-servers/todo"}}'
OPT_OUT = " or set servers.todo.allowPrivileged: true only for an image that cannot run otherwise"

SCHEMA_CASES = [
    (
        "unknown-server-key",
        TODO,
        ["servers.todo.prot=1"],
        "at '/servers/todo': additional properties 'prot' not allowed",
    ),
    (
        "port-not-integer",
        TODO,
        ['servers.todo.port="8001"'],
        "at '/servers/todo/port': got string, want integer",
    ),
    (
        "port-too-high",
        TODO,
        ["servers.todo.port=70000"],
        "at '/servers/todo/port': maximum: got 70,000, want 65,535",
    ),
    (
        "replicas-negative",
        TODO,
        ["servers.todo.replicas=-1"],
        "at '/servers/todo/replicas': minimum: got -1, want 0",
    ),
    (
        "stateless-not-bool",
        TODO,
        ['servers.todo.stateless="yes"'],
        "at '/servers/todo/stateless': got string, want boolean",
    ),
    (
        "log-level-unknown",
        TODO,
        ['servers.todo.logLevel="verbose"'],
        "at '/servers/todo/logLevel': value must be one of 'debug', 'info', 'warning', 'error'",
    ),
    (
        "service-type-unknown",
        TODO,
        ['servers.todo.service={"type":"LoadBalancer"}'],
        "at '/servers/todo/service/type': value must be one of 'ClusterIP', 'NodePort'",
    ),
    (
        "node-port-out-of-range",
        TODO,
        ['servers.todo.service={"type":"NodePort","nodePort":40000}'],
        "at '/servers/todo/service/nodePort': maximum: got 40,000, want 32,767",
    ),
    (
        "external-secret-api-unknown",
        TODO,
        ['servers.todo.externalSecret.apiVersion="external-secrets.io/v1alpha1"'],
        "at '/servers/todo/externalSecret/apiVersion': value must be one of",
    ),
    (
        "secret-store-kind-unknown",
        TODO,
        ['servers.todo.externalSecret.secretStoreRef.kind="Vault"'],
        "at '/servers/todo/externalSecret/secretStoreRef/kind': value must be one of",
    ),
    (
        "secret-without-remote-ref",
        TODO,
        ['servers.todo.secrets=[{"name":"DATABASE_URL"}]'],
        "at '/servers/todo/secrets/0': missing property 'remoteRef'",
    ),
    (
        "secret-remote-ref-without-key",
        TODO,
        ['servers.todo.secrets=[{"name":"DATABASE_URL","remoteRef":{"property":"url"}}]'],
        "at '/servers/todo/secrets/0/remoteRef': missing property 'key'",
    ),
    (
        "secret-name-not-env-name",
        TODO,
        ['servers.todo.secrets=[{"name":"database-url","remoteRef":"k"}]'],
        "at '/servers/todo/secrets/0/name': 'database-url' does not match pattern",
    ),
    (
        "pull-policy-unknown",
        TODO,
        ['servers.todo.image.pullPolicy="Sometimes"'],
        "at '/servers/todo/image/pullPolicy': value must be one of "
        "'Always', 'IfNotPresent', 'Never'",
    ),
    (
        "digest-malformed",
        TODO,
        ['servers.todo.image.digest="abc"'],
        "at '/servers/todo/image/digest': 'abc' does not match pattern",
    ),
    (
        "tag-not-string",
        TODO,
        ["servers.todo.image.tag=1.2"],
        "at '/servers/todo/image/tag': got number, want string",
    ),
    (
        "autoscaling-typo",
        TODO,
        ["servers.todo.autoscaling.targetCPU=70"],
        "at '/servers/todo/autoscaling': additional properties 'targetCPU' not allowed",
    ),
    (
        "gpu-count-zero",
        TODO,
        ["servers.todo.gpu.count=0"],
        "at '/servers/todo/gpu/count': minimum: got 0, want 1",
    ),
    (
        "error-rate-above-one",
        TODO,
        ["servers.todo.metrics.prometheusRule.errorRateThreshold=5"],
        "at '/servers/todo/metrics/prometheusRule/errorRateThreshold': maximum: got 5, want 1",
    ),
    (
        "unknown-top-level-key",
        TODO,
        ['server={"todo":{}}'],
        "at '': additional properties 'server' not allowed",
    ),
    (
        "unknown-defaults-key",
        TODO,
        ["defaults.replica=2"],
        "at '/defaults': additional properties 'replica' not allowed",
    ),
    (
        "probe-typo",
        TODO,
        ["servers.todo.livenessProbe.periodSecond=5"],
        "at '/servers/todo/livenessProbe': additional properties 'periodSecond' not allowed",
    ),
    (
        "env-value-list",
        TODO,
        ['servers.todo.env={"A":["x"]}'],
        "at '/servers/todo/env/A': got array, want boolean or number or string",
    ),
    (
        "refresh-interval-malformed",
        TODO,
        ['servers.todo.externalSecret.refreshInterval="hourly"'],
        "at '/servers/todo/externalSecret/refreshInterval': 'hourly' does not match pattern",
    ),
    (
        "origin-without-scheme",
        TODO,
        ['servers.todo.allowedOrigins=["chat.example.com"]'],
        "at '/servers/todo/allowedOrigins/0': 'chat.example.com' does not match pattern",
    ),
    (
        "cluster-domain-empty",
        TODO,
        ['global.clusterDomain=""'],
        "at '/global/clusterDomain': minLength: got 0, want 1",
    ),
    (
        "pdb-max-unavailable-malformed",
        TODO,
        ['servers.todo.podDisruptionBudget.maxUnavailable="half"'],
        "at '/servers/todo/podDisruptionBudget/maxUnavailable': 'half' does not match pattern",
    ),
    (
        "server-not-object",
        (),
        ['servers={"todo":"mcp-servers/todo"}'],
        "at '/servers/todo': got string, want object",
    ),
]

TEMPLATE_CASES = [
    (
        "name-not-dns-label",
        (),
        [f'servers={{"Todo_1":{MINIMAL}}}'],
        'servers.Todo_1: server name "Todo_1" must be a DNS-1035 label',
    ),
    (
        "name-starts-with-digit",
        (),
        [f'servers={{"1todo":{MINIMAL}}}'],
        'servers.1todo: server name "1todo" must be a DNS-1035 label',
    ),
    (
        "name-too-long",
        (),
        [f'servers={{"{"a" * 64}":{MINIMAL}}}'],
        f'servers.{"a" * 64}: server name "{"a" * 64}" must be a DNS-1035 label',
    ),
    (
        "stateful-replicas",
        EVERYTHING,
        ["servers.everything.replicas=2"],
        "servers.everything.replicas: a stateful server (stateless: false) cannot run more than "
        "1 replica; its MCP sessions live in one pod",
    ),
    (
        "stateful-autoscaling",
        TODO,
        ["servers.todo.stateless=false"],
        "servers.todo.autoscaling.enabled: a stateful server (stateless: false) cannot be "
        "autoscaled",
    ),
    (
        "image-repository-missing",
        (),
        ['servers={"todo":{"port":8001}}'],
        "servers.todo.image.repository: required (or set servers.todo.code",
    ),
    (
        "node-port-missing",
        TODO,
        ['servers.todo.service={"type":"NodePort"}'],
        "servers.todo.service.nodePort: required (30000-32767) when servers.todo.service.type is "
        "NodePort",
    ),
    (
        "node-port-with-cluster-ip",
        TODO,
        ["servers.todo.service.nodePort=30001"],
        "servers.todo.service.nodePort: only valid when servers.todo.service.type is NodePort",
    ),
    (
        "node-port-duplicate",
        TODO + GREETER,
        [
            'servers.todo.service={"type":"NodePort","nodePort":30080}',
            'servers.greeter.service={"type":"NodePort","nodePort":30080}',
        ],
        "servers.todo.service.nodePort: 30080 is already used by servers.greeter",
    ),
    (
        "fullname-duplicate",
        TODO + GREETER,
        ['servers.todo.fullnameOverride="greeter-mcp"'],
        'servers.todo.fullnameOverride: object name "greeter-mcp" is already used by '
        "servers.greeter",
    ),
    (
        "fullname-not-dns-label",
        TODO,
        ['servers.todo.fullnameOverride="Todo_Server"'],
        'servers.todo.fullnameOverride: "Todo_Server" is not a DNS-1035 label',
    ),
    (
        "secret-store-missing",
        TODO,
        ['servers.todo.externalSecret.secretStoreRef.name=""'],
        "servers.todo.externalSecret.secretStoreRef.name: required when "
        "servers.todo.secrets is set",
    ),
    (
        "env-chart-owned",
        TODO,
        ['servers.todo.env={"MCP_PORT":"9000"}'],
        "servers.todo.env.MCP_PORT: set by the chart",
    ),
    (
        "env-name-invalid",
        TODO,
        ['servers.todo.env={"1A":"x"}'],
        "servers.todo.env.1A: not a valid environment variable name",
    ),
    (
        "secret-also-in-env",
        TODO,
        ['servers.todo.env={"DATABASE_URL":"postgresql://x"}'],
        "servers.todo.secrets[0].name: DATABASE_URL is also set in servers.todo.env",
    ),
    (
        "secret-listed-twice",
        TODO,
        ['servers.todo.secrets=[{"name":"A","remoteRef":"a"},{"name":"A","remoteRef":"b"}]'],
        "servers.todo.secrets[1].name: A is already listed at servers.todo.secrets[0]",
    ),
    (
        "secret-chart-owned",
        TODO,
        ['servers.todo.secrets=[{"name":"MCP_HOST","remoteRef":"a"}]'],
        "servers.todo.secrets[0].name: MCP_HOST is set by the chart",
    ),
    (
        "autoscaling-min-above-max",
        TODO,
        ["servers.todo.autoscaling.minReplicas=5"],
        "servers.todo.autoscaling.minReplicas: 5 is greater than "
        "servers.todo.autoscaling.maxReplicas (3)",
    ),
    (
        "autoscaling-without-target",
        TODO,
        ["servers.todo.autoscaling.targetCPUUtilizationPercentage=0"],
        "servers.todo.autoscaling: set targetCPUUtilizationPercentage and/or "
        "targetMemoryUtilizationPercentage",
    ),
    (
        "memory-limit-missing",
        TODO,
        ['servers.todo.resources.limits.memory=""'],
        "servers.todo.resources.limits.memory: required",
    ),
    (
        "startup-probe-too-short",
        TODO,
        ["servers.todo.startupProbe.failureThreshold=2"],
        "servers.todo.startupProbe: allows 10s (periodSeconds x failureThreshold); "
        "it must allow at least 40s",
    ),
    (
        "grace-period-too-short",
        TODO,
        ["servers.todo.terminationGracePeriodSeconds=10"],
        "servers.todo.terminationGracePeriodSeconds: 10 is too short; it must be at least 30 "
        "(drain.preStopSleepSeconds 5 + drain.timeoutSeconds 20 + 5 for the runtime's shutdown "
        "after draining)",
    ),
    (
        "grace-period-without-shutdown-margin",
        TODO,
        ["servers.todo.terminationGracePeriodSeconds=32", "servers.todo.drain.timeoutSeconds=25"],
        "servers.todo.terminationGracePeriodSeconds: 32 is too short; it must be at least 35 "
        "(drain.preStopSleepSeconds 5 + drain.timeoutSeconds 25 + 5",
    ),
    (
        "code-entrypoint-missing",
        GREETER,
        ['servers.greeter.codeEntrypoint="main.py"'],
        'servers.greeter.codeEntrypoint: "main.py" is not a file in servers.greeter.code '
        "(files: server.py)",
    ),
    (
        "code-file-name-invalid",
        GREETER,
        ['servers.greeter.code={"lib/x.py":"x = 1"}'],
        "servers.greeter.code.lib/x.py: not a valid ConfigMap key",
    ),
    (
        "probe-two-handlers",
        TODO,
        [
            'servers.todo.livenessProbe={"httpGet":{"path":"/health","port":"http"},'
            '"tcpSocket":{"port":"http"}}'
        ],
        "servers.todo.livenessProbe: set exactly one handler (httpGet, tcpSocket, exec or grpc), "
        "not httpGet and tcpSocket",
    ),
    (
        "privileged",
        TODO,
        ["servers.todo.securityContext.privileged=true"],
        "servers.todo.securityContext.privileged: true gives the server the node's devices and "
        "kernel; remove it" + OPT_OUT,
    ),
    (
        "container-runs-as-root",
        TODO,
        ["servers.todo.securityContext.runAsUser=0"],
        "servers.todo.securityContext.runAsUser: 0 runs the server as root; use a non-root UID"
        + OPT_OUT,
    ),
    (
        "pod-runs-as-root-by-default",
        TODO,
        ["defaults.podSecurityContext.runAsUser=0"],
        "servers.todo.podSecurityContext.runAsUser: 0 runs the server as root; use a non-root UID"
        + OPT_OUT,
    ),
    (
        "pod-may-run-as-root",
        TODO,
        ["servers.todo.podSecurityContext.runAsNonRoot=false"],
        "servers.todo.podSecurityContext.runAsNonRoot: false lets the server run as root; "
        "remove it" + OPT_OUT,
    ),
    (
        "privilege-escalation",
        TODO,
        ["servers.todo.securityContext.allowPrivilegeEscalation=true"],
        "servers.todo.securityContext.allowPrivilegeEscalation: true lets the server gain "
        "privileges (setuid); remove it" + OPT_OUT,
    ),
    (
        "capabilities-added",
        TODO,
        ['servers.todo.securityContext.capabilities={"add":["NET_ADMIN"]}'],
        'servers.todo.securityContext.capabilities.add: ["NET_ADMIN"] adds Linux capabilities; '
        "remove it" + OPT_OUT,
    ),
]


@pytest.mark.parametrize(
    ("values_files", "set_json", "message"),
    [pytest.param(files, args, message, id=case) for case, files, args, message in SCHEMA_CASES],
)
def test_schema_rejects_and_names_the_path(values_files, set_json, message):
    error = render_error(values_files, tuple(set_json))
    assert "values don't meet the specifications of the schema" in error
    assert message in error


@pytest.mark.parametrize(
    ("values_files", "set_json", "message"),
    [pytest.param(files, args, message, id=case) for case, files, args, message in TEMPLATE_CASES],
)
def test_template_check_fails_naming_the_key(values_files, set_json, message):
    error = render_error(values_files, tuple(set_json))
    assert message in error


def test_there_are_at_least_thirty_cases():
    assert len(SCHEMA_CASES) + len(TEMPLATE_CASES) >= 30

"""Bad values fail the render with a message that names the key; valid but unusual ones render.

Schema failures come from values.schema.json (helm prints the JSON path); template failures come
from `fail` in templates/_validate.tpl and name `servers.<name>.<key>`. Everything Kubernetes
itself accepts must keep rendering (UNUSUAL_CASES), and those renders pass kubeconform.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from crd_schemas import CRD_SCHEMAS
from helm_render import (
    KUBERNETES_VERSIONS,
    VALUES_DIR,
    RenderError,
    kubeconform,
    render,
    render_error,
)

TODO = (VALUES_DIR / "todo.yaml",)
GREETER = (VALUES_DIR / "greeter-code.yaml",)
EVERYTHING = (VALUES_DIR / "everything.yaml",)
KNOWLEDGE_GRAPH = (VALUES_DIR / "knowledge-graph.yaml",)
MINIMAL = '{"image":{"repository":"mcp-servers/todo"}}'
OPT_OUT = " or set servers.todo.allowPrivileged: true only for an image that cannot run otherwise"
DIGEST = "sha256:" + "0123456789abcdef" * 4
DATA = "servers.greeter.persistence.data"
TYPES = (
    "use persistentVolumeClaim (a claim the chart creates), existingClaim, emptyDir, configMap"
    " or secret"
)
CONTAINER = {"image": {"repository": "busybox", "tag": "1.37"}}
PROXY = "servers.todo.sidecars.proxy"


def containers(kind: str = "sidecars", **entries: dict) -> str:
    """A --set-json of `sidecars` or `initContainers` for todo (values/todo.yaml autoscales on
    CPU, so each sidecar here requests some)."""
    if kind == "sidecars":
        entries = {
            name: {"resources": {"requests": {"cpu": "10m"}}, **entry}
            for name, entry in entries.items()
        }
    return f"servers.todo.{kind}={json.dumps(entries)}"


def volumes(**entries: dict) -> str:
    """A --set-json of `persistence` for the greeter (values/greeter-code.yaml)."""
    return f"servers.greeter.persistence={json.dumps(entries)}"


def claim(**keys) -> dict:
    return {"type": "persistentVolumeClaim", "mountPath": "/data", **keys}


SCHEMA_CASES = [
    (
        "extra-object-a-number",
        TODO,
        ["extraObjects=[3]"],
        "at '/extraObjects/0': got number, want string or object",
    ),
    (
        "runtime-class-not-a-name",
        TODO,
        ['servers.todo.runtimeClassName="Bad_Name"'],
        "at '/servers/todo/runtimeClassName': 'Bad_Name' does not match pattern",
    ),
    (
        "dns-policy-host-network",
        TODO,
        ['servers.todo.dnsPolicy="ClusterFirstWithHostNet"'],
        "at '/servers/todo/dnsPolicy': value must be one of",
    ),
    (
        "rolling-update-not-a-percentage",
        TODO,
        ['servers.todo.rollingUpdate.maxSurge="two"'],
        "at '/servers/todo/rollingUpdate/maxSurge': 'two' does not match pattern",
    ),
    (
        "sidecar-unknown-field",
        TODO,
        [containers(proxy={**CONTAINER, "stdin": True})],
        "at '/servers/todo/sidecars/proxy': additional properties 'stdin' not allowed",
    ),
    (
        "sidecar-image-as-string",
        TODO,
        ['servers.todo.sidecars={"proxy":{"image":"busybox:1.37"}}'],
        "at '/servers/todo/sidecars/proxy/image': got string, want object",
    ),
    (
        "request-state-secret-not-a-name",
        TODO,
        ['servers.todo.requestState.existingSecret="Todo_State"'],
        "at '/servers/todo/requestState/existingSecret': 'Todo_State' does not match pattern",
    ),
    (
        "request-state-key-empty",
        TODO,
        ['servers.todo.requestState.key=""'],
        "at '/servers/todo/requestState/key': minLength: got 0, want 1",
    ),
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
        # Prometheus (and the ServiceMonitor CRD) take whole numbers, units largest first.
        "scrape-timeout-a-fraction",
        TODO,
        ['servers.todo.metrics.serviceMonitor.scrapeTimeout="2.5s"'],
        "at '/servers/todo/metrics/serviceMonitor/scrapeTimeout': '2.5s' does not match pattern",
    ),
    (
        "scrape-interval-units-out-of-order",
        TODO,
        ['servers.todo.metrics.serviceMonitor.interval="30s1m"'],
        "at '/servers/todo/metrics/serviceMonitor/interval': '30s1m' does not match pattern",
    ),
    (
        "metrics-port-too-high",
        TODO,
        ["servers.todo.metrics.port=70000"],
        "at '/servers/todo/metrics/port': maximum: got 70,000, want 65,535",
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
        ['servers.todo.service={"type":"ExternalName"}'],
        "at '/servers/todo/service/type': value must be one of 'ClusterIP', 'NodePort', "
        "'LoadBalancer'",
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
        "image-digests-value-malformed",
        TODO,
        ['global.imageDigests={"mcp-servers/todo":"latest"}'],
        "at '/global/imageDigests/mcp-servers~1todo': 'latest' does not match pattern",
    ),
    (
        "image-digests-key-with-tag",
        TODO,
        [f'global.imageDigests={{"mcp-servers/todo:1.0":"{"sha256:" + "0" * 64}"}}'],
        # Helm's validator names the key but not where it is (a location of its own choosing).
        "invalid propertyName 'mcp-servers/todo:1.0'",
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
        "common-annotation-not-a-string",
        TODO,
        ['global.commonAnnotations={"example.com/owner":{"team":"platform"}}'],
        "at '/global/commonAnnotations/example.com~1owner': got object, want string",
    ),
    (
        "autoscaling-scope-unknown",
        TODO,
        ['servers.todo.autoscaling.scope="node"'],
        "at '/servers/todo/autoscaling/scope': value must be one of 'server', 'pod'",
    ),
    (
        "autoscaling-behavior-window",
        TODO,
        ['servers.todo.autoscaling.behavior={"scaleDown":{"stabilizationWindowSeconds":7200}}'],
        "at '/servers/todo/autoscaling/behavior/scaleDown/stabilizationWindowSeconds': "
        "maximum: got 7,200, want 3,600",
    ),
    (
        "autoscaling-behavior-policy-type",
        TODO,
        [
            'servers.todo.autoscaling.behavior={"scaleUp":{"policies":'
            '[{"type":"Replicas","value":1,"periodSeconds":15}]}}'
        ],
        "at '/servers/todo/autoscaling/behavior/scaleUp/policies/0/type': value must be one of",
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
        "at '/servers/todo/metrics/prometheusRule/errorRateThreshold': exclusiveMaximum: got 5,"
        " want 1",
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
    # Kubernetes' own definitions (generated into values.schema.json from its OpenAPI schemas).
    (
        "egress-to-written-as-a-map",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"to":{"podSelector":{}},"ports":[{"port":5432}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/to': got object, want",
    ),
    (
        "ingress-rule-pasted-as-a-peer",
        TODO,
        [
            'servers.todo.networkPolicy.ingressFrom=[{"from":[{"podSelector":{}}],'
            '"ports":[{"port":8001}]}]'
        ],
        # helm's validator names 'from' and 'ports' in either order, from run to run.
        "at '/servers/todo/networkPolicy/ingressFrom/0': additional properties '",
    ),
    (
        "peer-pasted-as-an-egress-rule",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"podSelector":{"matchLabels":{"app":"db"}}}]'],
        "at '/servers/todo/networkPolicy/egress/0': additional properties 'podSelector' not "
        "allowed",
    ),
    (
        "metrics-peers-written-as-a-map",
        TODO,
        ['servers.todo.networkPolicy.metricsFrom={"podSelector":{}}'],
        "at '/servers/todo/networkPolicy/metricsFrom': got object, want",
    ),
    (
        "peer-empty",
        TODO,
        ["servers.todo.networkPolicy.ingressFrom=[{}]"],
        "at '/servers/todo/networkPolicy/ingressFrom/0': minProperties: got 0, want 1",
    ),
    (
        "peer-ip-block-and-selector",
        TODO,
        [
            'servers.todo.networkPolicy.ingressFrom=[{"ipBlock":{"cidr":"10.0.0.0/8"},'
            '"podSelector":{}}]'
        ],
        "at '/servers/todo/networkPolicy/ingressFrom/0': maxProperties: got 2, want 1",
    ),
    (
        "cidr-prefix-too-long",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"10.0.0.0/33"}}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/to/0/ipBlock/cidr': '10.0.0.0/33' does not "
        "match pattern",
    ),
    (
        "cidr-octet-too-big",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"10.0.0.256/24"}}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/to/0/ipBlock/cidr': '10.0.0.256/24' does not "
        "match pattern",
    ),
    (
        "cidr-without-prefix",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"10.1.2.3"}}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/to/0/ipBlock/cidr': '10.1.2.3' does not "
        "match pattern",
    ),
    (
        "cidr-except-invalid",
        TODO,
        [
            'servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"2001:db8::/32",'
            '"except":["2001:db8::/129"]}}]}]'
        ],
        "at '/servers/todo/networkPolicy/egress/0/to/0/ipBlock/except/0': '2001:db8::/129' "
        "does not match pattern",
    ),
    (
        "protocol-lower-case",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"ports":[{"port":5432,"protocol":"tcp"}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/ports/0/protocol': value must be one of "
        "'TCP', 'UDP', 'SCTP'",
    ),
    (
        "port-number-as-string",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"ports":[{"port":"8080","protocol":"TCP"}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/ports/0/port': '8080' does not match pattern",
    ),
    (
        "port-out-of-range",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"ports":[{"port":70000}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/ports/0/port': maximum: got 70,000, want 65,535",
    ),
    (
        "end-port-with-a-named-port",
        TODO,
        ['servers.todo.networkPolicy.egress=[{"ports":[{"port":"postgres","endPort":5440}]}]'],
        "at '/servers/todo/networkPolicy/egress/0/ports/0/port': got string, want integer",
    ),
    (
        "probe-port-number-as-string",
        TODO,
        ['servers.todo.livenessProbe={"httpGet":{"path":"/health","port":"8001"}}'],
        "at '/servers/todo/livenessProbe/httpGet/port': '8001' does not match pattern",
    ),
    (
        "probe-handler-without-port",
        TODO,
        ['servers.todo.readinessProbe={"httpGet":{"path":"/ready"}}'],
        "at '/servers/todo/readinessProbe/httpGet': missing property 'port'",
    ),
    (
        "toleration-operator-lower-case",
        TODO,
        ['servers.todo.tolerations=[{"key":"pool","operator":"exists"}]'],
        "at '/servers/todo/tolerations/0/operator': value must be one of '', 'Equal', 'Exists'",
    ),
    (
        "toleration-seconds-without-no-execute",
        TODO,
        [
            'servers.todo.tolerations=[{"key":"pool","operator":"Exists","effect":"NoSchedule",'
            '"tolerationSeconds":60}]'
        ],
        "at '/servers/todo/tolerations/0/effect': value must be 'NoExecute'",
    ),
    (
        "affinity-field-misspelt",
        TODO,
        ['servers.todo.affinity={"nodeAfinity":{}}'],
        "at '/servers/todo/affinity': additional properties 'nodeAfinity' not allowed",
    ),
    (
        "affinity-operator-unknown",
        TODO,
        [
            'servers.todo.affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":'
            '{"nodeSelectorTerms":[{"matchExpressions":[{"key":"pool","operator":"Equals",'
            '"values":["mcp"]}]}]}}}'
        ],
        "/matchExpressions/0/operator': value must be one of 'In', 'NotIn', 'Exists', "
        "'DoesNotExist', 'Gt', 'Lt'",
    ),
    (
        "topology-spread-when-unsatisfiable-unknown",
        TODO,
        [
            'servers.todo.topologySpreadConstraints=[{"maxSkew":1,'
            '"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"Schedule"}]'
        ],
        "at '/servers/todo/topologySpreadConstraints/0/whenUnsatisfiable': value must be one of "
        "'DoNotSchedule', 'ScheduleAnyway'",
    ),
    (
        "topology-spread-max-skew-zero",
        TODO,
        [
            'servers.todo.topologySpreadConstraints=[{"maxSkew":0,'
            '"topologyKey":"kubernetes.io/hostname","whenUnsatisfiable":"ScheduleAnyway"}]'
        ],
        "at '/servers/todo/topologySpreadConstraints/0/maxSkew': minimum: got 0, want 1",
    ),
    (
        "security-context-field-misspelt",
        TODO,
        ["servers.todo.securityContext.runAsNonroot=true"],
        "at '/servers/todo/securityContext': additional properties 'runAsNonroot' not allowed",
    ),
    (
        "seccomp-type-lower-case",
        TODO,
        ['servers.todo.podSecurityContext.seccompProfile={"type":"runtime/default"}'],
        "at '/servers/todo/podSecurityContext/seccompProfile/type': value must be one of "
        "'Localhost', 'RuntimeDefault', 'Unconfined'",
    ),
    (
        "seccomp-localhost-without-profile",
        TODO,
        ['servers.todo.securityContext.seccompProfile={"type":"Localhost"}'],
        "at '/servers/todo/securityContext/seccompProfile': missing property 'localhostProfile'",
    ),
    (
        "run-as-user-negative",
        TODO,
        ["servers.todo.podSecurityContext.runAsUser=-1"],
        "at '/servers/todo/podSecurityContext/runAsUser': minimum: got -1, want 0",
    ),
    (
        "resources-key-misspelt",
        TODO,
        ['servers.todo.resources.limit={"cpu":"1"}'],
        "at '/servers/todo/resources': additional properties 'limit' not allowed",
    ),
    (
        "resources-quantity-not-scalar",
        TODO,
        ['servers.todo.resources.limits.cpu={"cores":1}'],
        "at '/servers/todo/resources/limits/cpu': got object, want",
    ),
    (
        "env-value-from-misspelt",
        TODO,
        ['servers.todo.env={"TOKEN":{"valueFrom":{"secretRef":{"name":"s","key":"k"}}}}'],
        "at '/servers/todo/env/TOKEN/valueFrom': additional properties 'secretRef' not allowed",
    ),
    (
        "sessions-max-zero",
        EVERYTHING,
        ["servers.everything.sessions.max=0"],
        "at '/servers/everything/sessions/max': minimum: got 0, want 1",
    ),
    (
        "sessions-idle-timeout-as-duration",
        EVERYTHING,
        ['servers.everything.sessions.idleTimeoutSeconds="30m"'],
        "at '/servers/everything/sessions/idleTimeoutSeconds': got string, want integer",
    ),
    (
        "max-request-bytes-below-an-initialize",
        TODO,
        ["servers.todo.maxRequestBytes=512"],
        "at '/servers/todo/maxRequestBytes': minimum: got 512, want 1,024",
    ),
    (
        "sessions-max-above-the-runtime-bound",
        EVERYTHING,
        ["servers.everything.sessions.max=2000000"],
        "at '/servers/everything/sessions/max': maximum: got 2",
    ),
    (
        "persistence-type-unknown",
        GREETER,
        [volumes(data={"type": "hostPath", "mountPath": "/data"})],
        "at '/servers/greeter/persistence/data/type': value must be one of "
        "'persistentVolumeClaim', 'existingClaim', 'emptyDir'",
    ),
    (
        "persistence-key-misspelt",
        GREETER,
        [volumes(data=claim(accesMode="ReadWriteMany"))],
        "at '/servers/greeter/persistence/data': additional properties 'accesMode' not allowed",
    ),
    (
        "persistence-access-mode-unknown",
        GREETER,
        [volumes(data=claim(accessMode="RWX"))],
        "at '/servers/greeter/persistence/data/accessMode': value must be one of "
        "'ReadWriteOnce', 'ReadWriteOncePod', 'ReadWriteMany', 'ReadOnlyMany'",
    ),
    (
        "persistence-written-as-a-list",
        GREETER,
        ['servers.greeter.persistence=[{"type":"emptyDir","mountPath":"/data"}]'],
        "at '/servers/greeter/persistence': got array, want object",
    ),
    (
        "pdb-allows-no-eviction-in-pods",
        TODO,
        ["servers.todo.podDisruptionBudget.maxUnavailable=0"],
        "at '/servers/todo/podDisruptionBudget/maxUnavailable': minimum: got 0, want 1",
    ),
    (
        "dns-name-server-not-an-address",
        TODO,
        ['servers.todo.dnsPolicy="None"', 'servers.todo.dnsConfig={"nameservers":["dns.example"]}'],
        "at '/servers/todo/dnsConfig/nameservers/0': 'dns.example' does not match pattern",
    ),
    (
        "service-account-name-not-dns",
        TODO,
        ['servers.todo.serviceAccount.name="MCP_Runner"'],
        "at '/servers/todo/serviceAccount/name': 'MCP_Runner' does not match pattern",
    ),
    (
        "part-of-not-a-label-value",
        TODO,
        ['global.partOf="mcp servers"'],
        "at '/global/partOf': 'mcp servers' does not match pattern",
    ),
]

SECRET_REF = {"secretKeyRef": {"name": "s", "key": "k"}}

TEMPLATE_CASES = [
    (
        "scrape-timeout-longer-than-the-interval",
        TODO,
        [
            "servers.todo.metrics.serviceMonitor.enabled=true",
            'servers.todo.metrics.serviceMonitor.interval="5s"',
        ],
        "servers.todo.metrics.serviceMonitor.scrapeTimeout: 10s is longer than its interval, 5s;"
        " Prometheus refuses such a scrape job, and nothing would scrape the server. Set it to 5s"
        " or less",
    ),
    (
        "persistence-kept-out-of-the-server-and-mounted-nowhere",
        TODO,
        ['servers.todo.persistence={"creds":{"type":"secret","name":"key","mountInServer":false}}'],
        "servers.todo.persistence.creds.mountInServer: false, and no servers.todo.sidecars or"
        " servers.todo.initContainers entry mounts creds; mount it in one of them or leave the"
        " entry out",
    ),
    (
        "extra-object-without-a-name",
        TODO,
        ['extraObjects=[{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"}}]'],
        "extraObjects[0]: apiVersion, kind and metadata.name are required (it has apiVersion,"
        " data, kind)",
    ),
    (
        "extra-object-not-yaml",
        TODO,
        ['extraObjects=["kind: [ConfigMap"]'],
        "extraObjects[0]: not a YAML object once rendered: error converting YAML to JSON",
    ),
    (
        "sidecar-named-server",
        TODO,
        [containers(server=CONTAINER)],
        "servers.todo.sidecars.server: server is the name of the server's own container; choose"
        " another identifier",
    ),
    (
        "sidecar-and-init-container-share-a-name",
        TODO,
        [containers(proxy=CONTAINER), containers("initContainers", proxy=CONTAINER)],
        "servers.todo.initContainers.proxy: proxy is also the identifier of"
        " servers.todo.sidecars.proxy; the containers of a pod need distinct names",
    ),
    (
        "sidecar-identifier-not-a-label",
        TODO,
        [containers(Proxy=CONTAINER)],
        'servers.todo.sidecars.Proxy: "Proxy" cannot name a container; use a DNS-1123 label',
    ),
    (
        "sidecar-without-repository",
        TODO,
        [containers(proxy={"image": {"tag": "1.37"}})],
        f"{PROXY}.image.repository: required (the container's image",
    ),
    (
        "sidecar-without-tag-or-digest",
        TODO,
        [containers(proxy={"image": {"repository": "busybox"}})],
        f"{PROXY}.image.tag: required, or {PROXY}.image.digest: the chart has no version to give"
        " another project's image",
    ),
    (
        "init-container-tag-not-a-tag",
        TODO,
        [containers("initContainers", wait={"image": {"repository": "busybox", "tag": "1.37 x"}})],
        'servers.todo.initContainers.wait.image.tag: "1.37 x" is not an image tag; use up to 128'
        " letters, digits, '_', '.' and '-'",
    ),
    (
        "sidecar-repository-with-tag",
        TODO,
        [containers(proxy={"image": {"repository": "busybox:1.37", "tag": "1.37"}})],
        f'{PROXY}.image.repository: "busybox:1.37" contains a tag; set the repository to "busybox"',
    ),
    (
        "sidecar-as-root",
        TODO,
        [containers(proxy={**CONTAINER, "securityContext": {"runAsUser": 0}})],
        f"{PROXY}.securityContext.runAsUser: 0 runs the container proxy as root; use a non-root"
        f" UID{OPT_OUT}",
    ),
    (
        "init-container-privileged",
        TODO,
        [
            containers(
                "initContainers", setup={**CONTAINER, "securityContext": {"privileged": True}}
            )
        ],
        "servers.todo.initContainers.setup.securityContext.privileged: true gives the container"
        f" setup the node's devices and kernel; remove it{OPT_OUT}",
    ),
    (
        "sidecar-port-is-the-servers",
        TODO,
        [containers(proxy={**CONTAINER, "ports": [{"name": "admin", "containerPort": 9464}]})],
        f"{PROXY}.ports[0].containerPort: 9464 is servers.todo.metrics.port, the server's own;"
        " the pod's containers share one network, so choose another port for the sidecar",
    ),
    (
        "sidecars-share-a-port",
        TODO,
        [
            containers(
                proxy={**CONTAINER, "ports": [{"name": "pg", "containerPort": 5432}]},
                vault={**CONTAINER, "ports": [{"name": "pg", "containerPort": 5432}]},
            )
        ],
        "servers.todo.sidecars.vault.ports[0].containerPort: 5432/TCP is also a port of"
        f" {PROXY}; the pod's containers share one network, so each port is bound once",
    ),
    (
        "sidecar-keeps-capabilities",
        TODO,
        [containers(proxy={**CONTAINER, "securityContext": {"capabilities": {"drop": []}}})],
        f"{PROXY}.securityContext.capabilities.drop: [] keeps the Linux capabilities the"
        f" container runtime grants by default; include ALL (the restricted profile){OPT_OUT}",
    ),
    (
        "sidecar-adds-capabilities",
        TODO,
        [
            containers(
                proxy={**CONTAINER, "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}
            )
        ],
        f'{PROXY}.securityContext.capabilities.add: ["NET_ADMIN"] adds Linux capabilities',
    ),
    (
        "init-container-with-a-probe",
        TODO,
        [
            containers(
                "initContainers", setup={**CONTAINER, "readinessProbe": {"tcpSocket": {"port": 1}}}
            )
        ],
        "servers.todo.initContainers.setup.readinessProbe: an init container runs to completion"
        " before the server starts, and Kubernetes refuses probes and lifecycle hooks for it;"
        " remove it, or make the container one of servers.todo.sidecars",
    ),
    (
        "sidecar-metrics-on-a-port-it-does-not-name",
        TODO,
        [
            containers(
                proxy={
                    **CONTAINER,
                    "ports": [{"name": "m", "containerPort": 9102}],
                    "metrics": {"port": "stats"},
                }
            )
        ],
        'servers.todo.sidecars.proxy.metrics.port: "stats" is not the name of one of'
        " servers.todo.sidecars.proxy.ports (named: m); name the port the sidecar serves its"
        " metrics on",
    ),
    *(
        (
            f"sidecar-metrics-on-the-servers-{name}-port-name",
            TODO,
            [
                containers(
                    proxy={
                        **CONTAINER,
                        "ports": [{"name": name, "containerPort": 9102}],
                        "metrics": {"port": name},
                    }
                )
            ],
            f"servers.todo.sidecars.proxy.metrics.port: {name} is the name of one of the server's"
            " own ports; name the sidecar's metrics port otherwise (in its ports and here)",
        )
        for name in ("http", "metrics")
    ),
    (
        "two-sidecars-metrics-on-one-port-name",
        TODO,
        [
            containers(
                **{
                    name: {
                        **CONTAINER,
                        "ports": [{"name": "m", "containerPort": number}],
                        "metrics": {"port": "m"},
                    }
                    for name, number in (("a", 9102), ("b", 9103))
                }
            )
        ],
        "servers.todo.sidecars.b.metrics.port: m is also the metrics port of"
        " servers.todo.sidecars.a; the Service's ports need distinct names",
    ),
    (
        "metrics-port-is-the-mcp-port",
        TODO,
        ["servers.todo.metrics.port=8001"],
        "servers.todo.metrics.port: 8001 is also servers.todo.port; /metrics is served on a port"
        " of its own, which MCP clients do not reach",
    ),
    (
        "sidecar-metrics-on-a-udp-port",
        TODO,
        [
            containers(
                proxy={
                    **CONTAINER,
                    "ports": [{"name": "m", "containerPort": 9125, "protocol": "UDP"}],
                    "metrics": {"port": "m"},
                }
            )
        ],
        "servers.todo.sidecars.proxy.metrics.port: m is a UDP port, and Prometheus scrapes over"
        " HTTP (TCP); name the sidecar's TCP metrics port",
    ),
    (
        "init-container-metrics",
        TODO,
        [containers("initContainers", setup={**CONTAINER, "metrics": {"port": "m"}})],
        "servers.todo.initContainers.setup.metrics: an init container ends before the server"
        " starts, so there is nothing to scrape; move the container to servers.todo.sidecars, or"
        " remove metrics",
    ),
    (
        "sidecar-metrics-path-not-absolute",
        TODO,
        [containers(proxy={**CONTAINER, "metrics": {"port": "m", "path": "metrics"}})],
        "at '/servers/todo/sidecars/proxy/metrics/path': 'metrics' does not match pattern",
    ),
    (
        "sidecar-metrics-port-too-long-for-a-service",
        TODO,
        [containers(proxy={**CONTAINER, "metrics": {"port": "a-very-long-port-name"}})],
        "at '/servers/todo/sidecars/proxy/metrics/port': 'a-very-long-port-name' does not match",
    ),
    (
        "sidecar-mounts-an-unknown-volume",
        TODO,
        [containers(proxy={**CONTAINER, "volumeMounts": [{"name": "data", "mountPath": "/d"}]})],
        f'{PROXY}.volumeMounts[0].name: "data" is not a volume of the pod; mount tmp or a'
        " servers.todo.persistence identifier (the pod has tmp)",
    ),
    (
        "sidecar-without-requests-under-an-autoscaler-of-the-pod",
        TODO,
        [
            f"servers.todo.sidecars={json.dumps({'proxy': CONTAINER})}",
            'servers.todo.autoscaling.scope="pod"',
        ],
        f"{PROXY}.resources.requests.cpu: required while servers.todo.autoscaling scales on cpu"
        " utilization, which Kubernetes measures against the requests of every container in the"
        " pod",
    ),
    (
        "rolling-update-cannot-move",
        TODO,
        ['servers.todo.rollingUpdate={"maxSurge":"0%","maxUnavailable":0}'],
        "servers.todo.rollingUpdate: maxSurge and maxUnavailable are both 0, so a rollout could"
        " neither add a pod nor take one away; set one of them above 0",
    ),
    (
        "rolling-update-unavailable-above-all",
        TODO,
        ['servers.todo.rollingUpdate.maxUnavailable="150%"'],
        'servers.todo.rollingUpdate.maxUnavailable: "150%" is more than 100%',
    ),
    (
        "dns-policy-default-without-an-egress-rule",
        TODO,
        ['servers.todo.dnsPolicy="Default"'],
        "servers.todo.dnsPolicy: Default sends lookups to the node's resolver, which the"
        " NetworkPolicy admits only through servers.todo.networkPolicy.egress; add a rule to it"
        " with port 53 (UDP and TCP) to the resolver's address, or set"
        " servers.todo.networkPolicy.allowDNS: false if DNS is admitted otherwise",
    ),
    (
        "service-account-created-twice",
        TODO + GREETER,
        ['defaults.serviceAccount={"name":"mcp-runner"}'],
        'servers.todo.serviceAccount.name: ServiceAccount "mcp-runner" is already created by'
        " servers.greeter; set serviceAccount.create: false on all but one server that shares"
        " it, or give each its own name",
    ),
    (
        "dns-policy-none-without-name-servers",
        TODO,
        ['servers.todo.dnsPolicy="None"'],
        "servers.todo.dnsConfig.nameservers: required when servers.todo.dnsPolicy is None, which"
        " gives the pods no other name server",
    ),
    (
        "persistence-config-map-without-name",
        GREETER,
        [volumes(data={"type": "configMap", "mountPath": "/data"})],
        f"{DATA}.name: required when {DATA}.type is configMap (the ConfigMap in the release"
        " namespace whose keys become files)",
    ),
    (
        "persistence-secret-name-not-a-name",
        GREETER,
        [volumes(data={"type": "secret", "name": "Data_Key", "mountPath": "/data"})],
        f'{DATA}.name: "Data_Key" is not a Secret name',
    ),
    (
        "persistence-secret-writable",
        GREETER,
        [volumes(data={"type": "secret", "name": "key", "mountPath": "/data", "readOnly": False})],
        f"{DATA}.readOnly: false, but a secret volume is always read-only; remove it",
    ),
    (
        "request-state-keys-in-env",
        TODO,
        [f"servers.todo.env={json.dumps({'MCP_REQUEST_STATE_KEYS': {'valueFrom': SECRET_REF}})}"],
        "servers.todo.env.MCP_REQUEST_STATE_KEYS: set by the chart from servers.todo.requestState"
        " (the Secret named by requestState.existingSecret, else one the chart keeps); remove it",
    ),
    (
        "request-state-keys-in-secrets",
        TODO,
        [
            'servers.todo.secrets=[{"name":"MCP_REQUEST_STATE_KEYS","remoteRef":"todo/state"}]',
            'servers.todo.externalSecret.secretStoreRef.name="store"',
        ],
        "servers.todo.secrets[0].name: MCP_REQUEST_STATE_KEYS is set by the chart from"
        " servers.todo.requestState",
    ),
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
        TODO,
        [
            "servers.todo.stateless=false",
            "servers.todo.autoscaling.enabled=false",
            "servers.todo.replicas=2",
        ],
        "servers.todo.replicas: a stateful server (stateless: false) cannot run more than "
        "1 replica; its MCP sessions live in one pod",
    ),
    (
        "stateful-workers",
        KNOWLEDGE_GRAPH,
        ["servers.knowledge-graph.workers=2"],
        "servers.knowledge-graph.workers: a stateful server (stateless: false) cannot run more "
        "than 1 worker; its MCP sessions live in one process",
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
        "metrics-service-names-alike",
        TODO,
        [
            'servers.todo.fullnameOverride="' + "a" * 55 + 'x1"',
            'servers.second={"image":{"repository":"mcp-servers/todo","tag":"0.1.0"},'
            '"fullnameOverride":"' + "a" * 55 + 'x2"}',
        ],
        'servers.todo: the name of its metrics Service, "' + "a" * 55 + '-metrics" (the'
        " fullname cut to leave room for -metrics), is also servers.second's; shorten one of the"
        " two names, or set fullnameOverride",
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
        "targetMemoryUtilizationPercentage above 0, or metrics, when autoscaling is enabled",
    ),
    (
        "autoscaling-metric-without-its-source",
        TODO,
        [
            'servers.todo.autoscaling.metrics=[{"type":"Pods","resource":{"name":"cpu",'
            '"target":{"type":"Utilization","averageUtilization":50}}}]'
        ],
        "servers.todo.autoscaling.metrics[0]: a Pods metric is described in "
        "servers.todo.autoscaling.metrics[0].pods, which is missing",
    ),
    (
        "autoscaling-metric-type-unknown",
        TODO,
        ['servers.todo.autoscaling.metrics=[{"type":"Queue"}]'],
        'servers.todo.autoscaling.metrics[0].type: "Queue" is not a metric source type; use '
        "Resource, ContainerResource, Pods, Object or External",
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
    (
        "capabilities-not-all-dropped",
        TODO,
        ['servers.todo.securityContext.capabilities={"drop":["NET_RAW"]}'],
        'servers.todo.securityContext.capabilities.drop: ["NET_RAW"] keeps the Linux capabilities'
        " the container runtime grants by default; include ALL (the restricted profile)" + OPT_OUT,
    ),
    # Resource quantities: Kubernetes' grammar, not negative, memory a container can run in,
    # requests within limits.
    (
        "cpu-not-a-quantity",
        TODO,
        ['servers.todo.resources.limits.cpu="half a core"'],
        'servers.todo.resources.limits.cpu: "half a core" is not a Kubernetes quantity; use a '
        "number with an optional suffix",
    ),
    (
        "memory-not-a-quantity",
        TODO,
        ['servers.todo.resources.requests.memory="lots"'],
        'servers.todo.resources.requests.memory: "lots" is not a Kubernetes quantity',
    ),
    (
        "memory-unit-not-kubernetes",
        TODO,
        ['servers.todo.resources.limits.memory="512MB"'],
        'servers.todo.resources.limits.memory: "512MB" is not a Kubernetes quantity',
    ),
    (
        "memory-unit-lower-case",
        TODO,
        ['servers.todo.resources.requests.memory="256mi"'],
        'servers.todo.resources.requests.memory: "256mi" is not a Kubernetes quantity',
    ),
    (
        "cpu-negative",
        TODO,
        ['servers.todo.resources.requests.cpu="-100m"'],
        'servers.todo.resources.requests.cpu: "-100m" is negative; a resource quantity cannot '
        "be below 0",
    ),
    (
        "memory-negative-number",
        TODO,
        ["servers.todo.resources.limits.memory=-1"],
        "servers.todo.resources.limits.memory: -1 is negative",
    ),
    (
        "memory-limit-without-unit",
        TODO,
        ["servers.todo.resources.limits.memory=512"],
        "servers.todo.resources.limits.memory: 512 is 512 bytes (a memory quantity without a "
        "unit counts bytes); a container cannot run in less than 6Mi (runc's container init is "
        "OOM-killed below a few MiB and Docker refuses memory limits under 6 MiB): give a unit, "
        "e.g. 512Mi",
    ),
    (
        "memory-request-without-unit",
        TODO,
        ['servers.todo.resources.requests.memory="256"'],
        "servers.todo.resources.requests.memory: 256 is 256 bytes",
    ),
    (
        "memory-limit-below-runc-minimum",
        TODO,
        ['servers.todo.resources.limits.memory="4Mi"'],
        "servers.todo.resources.limits.memory: 4Mi is 4194304 bytes",
    ),
    (
        "cpu-request-above-limit",
        TODO,
        ['servers.todo.resources.requests.cpu="2"'],
        "servers.todo.resources.requests.cpu: 2 is more than servers.todo.resources.limits.cpu "
        "(500m); a request cannot exceed its limit",
    ),
    (
        "memory-request-above-limit",
        TODO,
        ['servers.todo.resources.requests.memory="1Gi"'],
        "servers.todo.resources.requests.memory: 1Gi is more than "
        "servers.todo.resources.limits.memory (512Mi)",
    ),
    (
        "request-above-limit-from-defaults",
        GREETER,
        ["defaults.resources.requests.cpu=1"],
        "servers.greeter.resources.requests.cpu: 1 is more than "
        "servers.greeter.resources.limits.cpu (500m)",
    ),
    (
        "extended-resource-request-above-limit",
        TODO,
        [
            'servers.todo.resources.requests.ephemeral-storage="2Gi"',
            'servers.todo.resources.limits.ephemeral-storage="1Gi"',
        ],
        "servers.todo.resources.requests.ephemeral-storage: 2Gi is more than "
        "servers.todo.resources.limits.ephemeral-storage (1Gi)",
    ),
    # PodDisruptionBudget.
    (
        "pdb-percentage-above-100",
        TODO,
        ['servers.todo.podDisruptionBudget.maxUnavailable="150%"'],
        'servers.todo.podDisruptionBudget.maxUnavailable: "150%" is more than 100%; use a '
        "percentage from 1% to 100% or a number of pods",
    ),
    (
        "pdb-allows-no-eviction",
        TODO,
        ['servers.todo.podDisruptionBudget.maxUnavailable="0%"'],
        'servers.todo.podDisruptionBudget.maxUnavailable: "0%" lets no pod be evicted, so every '
        "node drain waits until the budget is changed; use 1 or more pods or a percentage above "
        "0%",
    ),
    # Probes aimed at a port the container does not expose.
    (
        "probe-port-number-not-exposed",
        TODO,
        ['servers.todo.livenessProbe={"httpGet":{"path":"/health","port":8080}}'],
        "servers.todo.livenessProbe.httpGet.port: 8080 is not a port the container exposes; "
        "use http or 8001 (servers.todo.port)",
    ),
    (
        "probe-port-name-not-exposed",
        TODO,
        ['servers.todo.readinessProbe={"tcpSocket":{"port":"metrics"}}'],
        'servers.todo.readinessProbe.tcpSocket.port: "metrics" is not a port the container '
        "exposes; use http or 8001 (servers.todo.port)",
    ),
    (
        "probe-grpc-port-not-exposed",
        TODO,
        ['servers.todo.startupProbe={"grpc":{"port":9090}}'],
        "servers.todo.startupProbe.grpc.port: 9090 is not a port the container exposes; use "
        "8001 (servers.todo.port)",
    ),
    (
        "probe-port-from-defaults-not-exposed",
        GREETER,
        ["defaults.livenessProbe.httpGet.port=9000"],
        "servers.greeter.livenessProbe.httpGet.port: 9000 is not a port the container exposes; "
        "use http or 8000 (servers.greeter.port)",
    ),
    # Image references.
    (
        "repository-with-tag",
        TODO,
        ['servers.todo.image.repository="mcp-servers/todo:0.2.0"'],
        'servers.todo.image.repository: "mcp-servers/todo:0.2.0" contains a tag; set the '
        'repository to "mcp-servers/todo" and servers.todo.image.tag to "0.2.0"',
    ),
    (
        "repository-with-registry-port-and-tag",
        TODO,
        ['servers.todo.image.repository="localhost:5000/mcp-servers/todo:0.2.0"'],
        'servers.todo.image.repository: "localhost:5000/mcp-servers/todo:0.2.0" contains a tag',
    ),
    (
        "repository-with-digest",
        TODO,
        [f'servers.todo.image.repository="mcp-servers/todo@{DIGEST}"'],
        f'servers.todo.image.repository: "mcp-servers/todo@{DIGEST}" contains a digest; set the '
        f'repository to "mcp-servers/todo" and servers.todo.image.digest to "{DIGEST}"',
    ),
    (
        "repository-with-tag-and-digest",
        TODO,
        [f'servers.todo.image.repository="ghcr.io/acme/todo:1.0@{DIGEST}"'],
        f'servers.todo.image.repository: "ghcr.io/acme/todo:1.0@{DIGEST}" contains a digest; set '
        f'the repository to "ghcr.io/acme/todo" and servers.todo.image.digest to "{DIGEST}"',
    ),
    (
        "repository-with-url-scheme",
        TODO,
        ['servers.todo.image.repository="https://ghcr.io/acme/todo"'],
        'servers.todo.image.repository: "https://ghcr.io/acme/todo" starts with a URL scheme; an '
        'image reference has none: use "ghcr.io/acme/todo"',
    ),
    (
        "repository-upper-case",
        TODO,
        ['servers.todo.image.repository="Acme/MCP-Todo"'],
        'servers.todo.image.repository: "Acme/MCP-Todo" has upper-case letters; repository '
        "paths are lower case",
    ),
    (
        "repository-with-space",
        TODO,
        ['servers.todo.image.repository="mcp servers/todo"'],
        'servers.todo.image.repository: "mcp servers/todo" is not an image repository',
    ),
    (
        "digest-in-tag",
        TODO,
        [f'servers.todo.image.tag="{DIGEST}"'],
        f'servers.todo.image.tag: "{DIGEST}" is a digest; put it in servers.todo.image.digest',
    ),
    (
        "digest-with-at-in-tag",
        TODO,
        [f'servers.todo.image.tag="@{DIGEST}"'],
        f'servers.todo.image.tag: "@{DIGEST}" is a digest; put it in servers.todo.image.digest',
    ),
    (
        "tag-invalid",
        TODO,
        ['servers.todo.image.tag="0.1.0 beta"'],
        'servers.todo.image.tag: "0.1.0 beta" is not an image tag',
    ),
    (
        "registry-with-url-scheme",
        TODO,
        ['servers.todo.image.registry="https://registry.example.com"'],
        'servers.todo.image.registry: "https://registry.example.com" starts with a URL scheme; '
        'give the registry host (and port or path) without it: "registry.example.com"',
    ),
    (
        "registry-and-a-repository-that-names-one",
        TODO,
        [
            'servers.todo.image.registry="registry.example.com"',
            'servers.todo.image.repository="ghcr.io/acme/todo"',
        ],
        'servers.todo.image.registry: "registry.example.com", and servers.todo.image.repository: '
        '"ghcr.io/acme/todo" names the registry "ghcr.io" too; keep one of them',
    ),
    (
        "global-registry-with-url-scheme",
        TODO,
        ['global.imageRegistry="http://registry.example.com:5000"'],
        'global.imageRegistry: "http://registry.example.com:5000" starts with a URL scheme',
    ),
    (
        "test-image-repository-with-tag",
        TODO,
        ['servers.todo.test.image.repository="mcp-servers/runtime:0.1.0"'],
        'servers.todo.test.image.repository: "mcp-servers/runtime:0.1.0" contains a tag',
    ),
    # The restricted pod: no seccomp opt-out, no null slipping past the non-root guard.
    (
        "seccomp-unconfined-container",
        TODO,
        ['servers.todo.securityContext.seccompProfile={"type":"Unconfined"}'],
        "servers.todo.securityContext.seccompProfile.type: Unconfined runs the server without a "
        "seccomp filter; use RuntimeDefault or Localhost" + OPT_OUT,
    ),
    (
        "seccomp-unconfined-pod",
        TODO,
        ['servers.todo.podSecurityContext.seccompProfile={"type":"Unconfined"}'],
        "servers.todo.podSecurityContext.seccompProfile.type: Unconfined runs the server without "
        "a seccomp filter",
    ),
    (
        "seccomp-removed-everywhere",
        TODO,
        [
            "defaults.podSecurityContext.seccompProfile=null",
            "defaults.securityContext.seccompProfile=null",
        ],
        "servers.todo.podSecurityContext.seccompProfile: unset here and in "
        "servers.todo.securityContext, so the server runs without a seccomp filter; set type "
        "RuntimeDefault or Localhost" + OPT_OUT,
    ),
    (
        "run-as-non-root-null",
        TODO,
        ["servers.todo.securityContext.runAsNonRoot=null"],
        "servers.todo.securityContext.runAsNonRoot: null drops the check that the server runs as "
        "non-root; remove it to keep the default, set true" + OPT_OUT,
    ),
    (
        "run-as-user-null",
        TODO,
        ["servers.todo.podSecurityContext.runAsUser=null"],
        "servers.todo.podSecurityContext.runAsUser: null leaves the UID to the image, which may "
        "be root; remove it to keep the default, use a non-root UID" + OPT_OUT,
    ),
    (
        "run-as-non-root-removed-everywhere",
        TODO,
        [
            "defaults.podSecurityContext.runAsNonRoot=null",
            "defaults.securityContext.runAsNonRoot=null",
        ],
        "servers.todo.podSecurityContext.runAsNonRoot: unset here and in "
        "servers.todo.securityContext, so nothing stops the image from running as root; set it "
        "to true" + OPT_OUT,
    ),
    (
        "security-context-null",
        TODO,
        ["servers.todo.securityContext=null"],
        "servers.todo.securityContext: null drops the restricted defaults (non-root user, no "
        "privilege escalation, seccomp); remove it to keep them, override single fields" + OPT_OUT,
    ),
    (
        "privilege-escalation-null",
        TODO,
        ["servers.todo.securityContext.allowPrivilegeEscalation=null"],
        "servers.todo.securityContext.allowPrivilegeEscalation: null lets the server gain "
        "privileges (setuid), as true does; remove it to keep the default, set false" + OPT_OUT,
    ),
    # NetworkPolicy: what a schema cannot compare.
    (
        "end-port-below-port",
        TODO,
        [
            'servers.todo.networkPolicy.egress=[{"ports":[{"port":53},{"port":8100,"endPort":8000}]}]'
        ],
        "servers.todo.networkPolicy.egress[0].ports[1].endPort: 8000 is below port 8100",
    ),
    # Secret-looking variables as literal env values (they would sit in a ConfigMap).
    *[
        (
            f"secret-looking-env-{name.lower()}{'' if value else '-empty'}",
            GREETER,
            [f'servers.greeter.env={{"{name}":"{value}"}}'],
            f"servers.greeter.env.{name}: looks like a secret, and a literal value is stored in "
            "clear text in the ConfigMap greeter-mcp; list it in servers.greeter.secrets (an "
            "ExternalSecret) or in the Secret named by servers.greeter.existingSecret, or give "
            "it as {valueFrom: {secretKeyRef: ...}}",
        )
        for name, value in [
            ("MCP_AUTH_TOKEN", "s3cr3t"),
            ("DATABASE_URL", "postgresql://app:pw@db/app"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("DB_PASSWORD", "pw"),
            ("JWT_SECRET", "x"),
            ("OPENAI_API_KEY", "sk-x"),
            ("api_key", "x"),
            ("MCP_AUTH_TOKEN", ""),
        ]
    ],
    (
        "session-env-set-by-the-chart",
        EVERYTHING,
        ['servers.everything.env={"MCP_MAX_SESSIONS":"10"}'],
        "servers.everything.env.MCP_MAX_SESSIONS: set by the chart",
    ),
    # persistence: what depends on the merge with `defaults` or compares entries.
    (
        "persistence-identifier-not-a-volume-name",
        GREETER,
        [volumes(Data_1=claim())],
        'servers.greeter.persistence.Data_1: "Data_1" cannot name a volume; use a DNS-1123 label '
        "(lowercase letters, digits and '-', starting and ending with a letter or digit, at most "
        "63 characters)",
    ),
    (
        "persistence-identifier-of-the-chart",
        GREETER,
        [volumes(config=claim())],
        'servers.greeter.persistence.config: "config" is the name of a volume the chart mounts '
        "itself (tmp, config, code); choose another identifier",
    ),
    (
        "persistence-type-missing",
        GREETER,
        [volumes(data={"mountPath": "/data"})],
        f"{DATA}.type: required; {TYPES}",
    ),
    (
        "persistence-mount-path-missing",
        GREETER,
        [volumes(data={"type": "emptyDir"})],
        f"{DATA}.mountPath: required (the absolute path of the volume in the server container, "
        "e.g. /data)",
    ),
    (
        "persistence-mount-path-relative",
        GREETER,
        [volumes(data=claim(mountPath="data"))],
        f'{DATA}.mountPath: "data" is not an absolute path; start it with /',
    ),
    (
        "persistence-mount-path-inside-tmp",
        GREETER,
        [volumes(data=claim(mountPath="/tmp/cache"))],
        f"{DATA}.mountPath: /tmp/cache overlaps /tmp, where the chart mounts the server's "
        "writable emptyDir; mount the volume elsewhere (not at, above or inside /tmp)",
    ),
    (
        "persistence-mount-path-above-the-config",
        GREETER,
        [volumes(data=claim(mountPath="/etc"))],
        f"{DATA}.mountPath: /etc overlaps /etc/mcp, where the chart mounts server-config.json "
        "read-only; mount the volume elsewhere (not at, above or inside /etc/mcp)",
    ),
    (
        "persistence-mount-path-at-the-code",
        GREETER,
        [volumes(data=claim(mountPath="/opt/mcp/code/"))],
        f"{DATA}.mountPath: /opt/mcp/code overlaps /opt/mcp/code, where the chart mounts "
        "servers.greeter.code read-only; mount the volume elsewhere (not at, above or inside "
        "/opt/mcp/code)",
    ),
    (
        "persistence-mount-path-root",
        GREETER,
        [volumes(data=claim(mountPath="/"))],
        f"{DATA}.mountPath: / overlaps /tmp, where the chart mounts the server's writable emptyDir",
    ),
    (
        "persistence-mount-paths-overlap",
        GREETER,
        [volumes(data=claim(), logs={"type": "emptyDir", "mountPath": "/data/logs"})],
        "servers.greeter.persistence.logs.mountPath: /data/logs overlaps "
        "servers.greeter.persistence.data.mountPath (/data); mount each entry at its own path, "
        "not at, above or inside another's",
    ),
    (
        "persistence-mount-paths-equal",
        GREETER,
        [volumes(data=claim(), more=claim(mountPath="/data/"))],
        "servers.greeter.persistence.more.mountPath: /data overlaps "
        "servers.greeter.persistence.data.mountPath (/data)",
    ),
    (
        "persistence-existing-claim-without-name",
        GREETER,
        [volumes(data={"type": "existingClaim", "mountPath": "/data"})],
        f"{DATA}.claimName: required when {DATA}.type is existingClaim (a PersistentVolumeClaim "
        "in the release namespace)",
    ),
    (
        "persistence-existing-claim-name-invalid",
        GREETER,
        [volumes(data={"type": "existingClaim", "mountPath": "/data", "claimName": "Team_Data"})],
        f'{DATA}.claimName: "Team_Data" is not a PersistentVolumeClaim name; use lowercase '
        "letters, digits, '-' and '.' (a DNS-1123 subdomain)",
    ),
    (
        "persistence-size-zero",
        GREETER,
        [volumes(data=claim(size=0))],
        f"{DATA}.size: 0 is not above 0; a claim requests some storage, e.g. 1Gi",
    ),
    (
        "persistence-size-not-a-quantity",
        GREETER,
        [volumes(data=claim(size="10GB"))],
        f'{DATA}.size: "10GB" is not a Kubernetes quantity',
    ),
    (
        "persistence-size-limit-negative",
        GREETER,
        [volumes(data={"type": "emptyDir", "mountPath": "/data", "sizeLimit": "-1Gi"})],
        f"{DATA}.sizeLimit: -1Gi is negative; use a size, e.g. 256Mi",
    ),
    (
        "persistence-one-writer-and-replicas",
        GREETER,
        [volumes(data=claim()), "servers.greeter.replicas=2"],
        f"{DATA}: a ReadWriteOnce claim has one writer; set servers.greeter.replicas: 1 (it is "
        f"2), or share the volume between pods with {DATA}.accessMode ReadWriteMany (a storage "
        "class that offers it)",
    ),
    (
        "persistence-one-writer-and-an-autoscaler",
        TODO,
        [
            'servers.todo.persistence={"data":{"type":"existingClaim","claimName":"todo-data",'
            '"accessMode":"ReadWriteOncePod","mountPath":"/data"}}'
        ],
        "servers.todo.persistence.data: a ReadWriteOncePod claim has one writer; set "
        "servers.todo.autoscaling.enabled: false (an autoscaler adds pods), or share the volume "
        "between pods with servers.todo.persistence.data.accessMode ReadWriteMany (a storage "
        "class that offers it)",
    ),
    (
        "persistence-existing-claim-is-one-writer-by-default",
        GREETER,
        [
            volumes(data={"type": "existingClaim", "claimName": "shared", "mountPath": "/data"}),
            "servers.greeter.replicas=3",
        ],
        f"{DATA}: a ReadWriteOnce claim has one writer; set servers.greeter.replicas: 1 (it is 3)",
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


def test_an_unknown_volume_type_is_refused_without_the_schema_too():
    """The schema lists the types; the template says the same when helm skips the schema."""
    with pytest.raises(RenderError) as error:
        render(
            GREETER,
            set_json=(volumes(data={"type": "hostPath", "mountPath": "/data"}),),
            extra=("--skip-schema-validation",),
        )
    assert f'{DATA}.type: "hostPath" is not a volume type; {TYPES}' in str(error.value)


def test_there_are_at_least_thirty_cases():
    assert len(SCHEMA_CASES) + len(TEMPLATE_CASES) >= 30


# Values Kubernetes accepts, however unusual: the checks above must not refuse any of them.
UNUSUAL_CASES = [
    (
        "scrape-timeout-equal-to-the-interval-in-other-units",
        TODO,
        [
            "servers.todo.metrics.serviceMonitor.enabled=true",
            'servers.todo.metrics.serviceMonitor.interval="1m"',
            'servers.todo.metrics.serviceMonitor.scrapeTimeout="59s1000ms"',
        ],
    ),
    (
        "dns-policy-default-with-a-rule-to-the-resolver",
        TODO,
        [
            'servers.todo.dnsPolicy="Default"',
            'servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"169.254.20.10/32"}}],'
            '"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]}]',
        ],
    ),
    (
        "service-account-created-by-one-server-and-shared",
        TODO + GREETER,
        [
            'defaults.serviceAccount={"name":"mcp-runner"}',
            "servers.todo.serviceAccount.create=false",
        ],
    ),
    ("part-of-that-reads-as-a-number", TODO, ['global.partOf="2024"']),
    (
        "cpu-as-numbers-and-exponent",
        TODO,
        ['servers.todo.resources={"requests":{"cpu":0.5},"limits":{"cpu":"1e3"}}'],
    ),
    (
        "cpu-request-equal-to-limit-in-other-notation",
        TODO,
        ['servers.todo.resources={"requests":{"cpu":"100m"},"limits":{"cpu":0.1}}'],
    ),
    (
        "cpu-request-zero",
        TODO,
        ['servers.todo.resources={"requests":{"cpu":0},"limits":{"cpu":"250m"}}'],
    ),
    (
        "memory-decimal-binary-suffix",
        TODO,
        ['servers.todo.resources={"requests":{"memory":"1.5Gi"},"limits":{"memory":"1.5Gi"}}'],
    ),
    (
        "memory-in-bytes",
        TODO,
        [
            'servers.todo.resources={"requests":{"memory":"268435456"},"limits":{"memory":"536870912"}}'
        ],
    ),
    (
        "memory-in-bytes-as-number-and-decimal-suffixes",
        TODO,
        ['servers.todo.resources={"requests":{"memory":"300M"},"limits":{"memory":536870912}}'],
    ),
    (
        "memory-exponent",
        TODO,
        ['servers.todo.resources={"requests":{"memory":"1e8"},"limits":{"memory":"1E9"}}'],
    ),
    (
        "extra-resources",
        TODO,
        [
            'servers.todo.resources.requests.ephemeral-storage="512Mi"',
            'servers.todo.resources.limits.ephemeral-storage="1Gi"',
        ],
    ),
    ("pdb-percentage", TODO, ['servers.todo.podDisruptionBudget.maxUnavailable="50%"']),
    ("pdb-hundred-percent", TODO, ['servers.todo.podDisruptionBudget.maxUnavailable="100%"']),
    ("pdb-integer", TODO, ["servers.todo.podDisruptionBudget.maxUnavailable=2"]),
    (
        "probes-by-number-and-by-name",
        TODO,
        [
            'servers.todo.livenessProbe={"httpGet":{"path":"/health","port":8001,'
            '"scheme":"HTTP","httpHeaders":[{"name":"X-Probe","value":"1"}]}}',
            'servers.todo.readinessProbe={"tcpSocket":{"port":"http"},"periodSeconds":0}',
            'servers.todo.startupProbe={"exec":{"command":["true"]}}',
        ],
    ),
    ("probe-grpc", TODO, ['servers.todo.livenessProbe={"grpc":{"port":8001}}']),
    (
        "seccomp-localhost-profile",
        TODO,
        [
            "servers.todo.securityContext.seccompProfile="
            '{"type":"Localhost","localhostProfile":"profiles/mcp.json"}'
        ],
    ),
    (
        "seccomp-runtime-default-on-the-pod-only",
        TODO,
        ["defaults.securityContext.seccompProfile=null"],
    ),
    (
        "non-root-on-the-container-only",
        TODO,
        ["defaults.podSecurityContext.runAsNonRoot=null"],
    ),
    (
        "image-user-with-run-as-non-root",
        TODO,
        ["defaults.podSecurityContext.runAsUser=null", "defaults.securityContext.runAsUser=null"],
    ),
    (
        "other-non-root-ids",
        TODO,
        [
            'servers.todo.podSecurityContext={"runAsUser":65532,"runAsGroup":65532,'
            '"fsGroup":65532,"supplementalGroups":[2000],"fsGroupChangePolicy":"OnRootMismatch"}',
            'servers.todo.securityContext={"runAsUser":65532,"runAsGroup":65532,'
            '"capabilities":{"drop":["ALL"]},"procMount":"Default"}',
        ],
    ),
    (
        "tolerations",
        TODO,
        [
            'servers.todo.tolerations=[{"operator":"Exists"},'
            '{"key":"pool","operator":"Equal","value":"mcp","effect":"NoSchedule"},'
            '{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute",'
            '"tolerationSeconds":30},{"key":"spot","value":"true"}]'
        ],
    ),
    (
        "affinity",
        TODO,
        [
            'servers.todo.affinity={"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":'
            '{"nodeSelectorTerms":[{"matchExpressions":[{"key":"cpu-count","operator":"Gt",'
            '"values":["3"]}]}]}},"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":'
            '[{"weight":100,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname",'
            '"labelSelector":{"matchExpressions":[{"key":"app.kubernetes.io/name",'
            '"operator":"In","values":["todo"]}]}}}]}}'
        ],
    ),
    (
        "topology-spread-with-every-field",
        TODO,
        [
            'servers.todo.topologySpreadConstraints=[{"maxSkew":2,"minDomains":2,'
            '"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule",'
            '"nodeAffinityPolicy":"Honor","nodeTaintsPolicy":"Ignore",'
            '"matchLabelKeys":["pod-template-hash"]}]'
        ],
    ),
    (
        "network-peers-of-every-kind",
        TODO,
        [
            'servers.todo.networkPolicy.ingressFrom=[{"namespaceSelector":{}},'
            '{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16","10.2.3.4/32"]}},'
            '{"ipBlock":{"cidr":"2001:db8::/64"}},{"ipBlock":{"cidr":"::ffff:192.0.2.0/120"}},'
            '{"podSelector":{"matchExpressions":[{"key":"app","operator":"Exists"}]}}]',
            'servers.todo.networkPolicy.egress=[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0",'
            '"except":["169.254.169.254/32"]}},{"ipBlock":{"cidr":"::/0"}}],'
            '"ports":[{"port":8000,"endPort":8100,"protocol":"TCP"},{"port":"postgresql"},'
            '{"port":53,"protocol":"UDP"},{"port":3868,"protocol":"SCTP"}]},'
            '{"ports":[{"protocol":"TCP"}]},{"to":[{"namespaceSelector":{}}]}]',
        ],
    ),
    (
        "env-that-only-looks-like-a-secret-from-a-secret",
        GREETER,
        [
            'servers.greeter.env={"DATABASE_URL":{"valueFrom":{"secretKeyRef":{"name":"db",'
            '"key":"url"}}},"MCP_JWT_PUBLIC_KEY":"-----BEGIN PUBLIC KEY-----",'
            '"TOKEN_TTL_SECONDS":"60","KEYRING_BACKEND":"file","SECRETS_DIR":"/tmp"}'
        ],
    ),
    (
        "image-references",
        TODO,
        [
            'servers.todo.image={"registry":"registry.example.com:5000/team",'
            '"repository":"mcp_servers/todo-server.v2","tag":"v1.2.3_build-4",'
            f'"digest":"{DIGEST}"}}',
            'servers.todo.test.image={"registry":"localhost:5000","repository":"mcp-servers/runtime"}',
        ],
    ),
    (
        "image-repository-with-its-registry",
        TODO,
        ['servers.todo.image.repository="ghcr.io/acme/mcp__todo"'],
    ),
    (
        "sessions-and-request-size",
        EVERYTHING,
        [
            'servers.everything.sessions={"max":1,"idleTimeoutSeconds":60}',
            "servers.everything.maxRequestBytes=1048576",
        ],
    ),
    (
        "persistence-of-every-type",
        GREETER,
        [
            volumes(
                data=claim(size="1.5Gi", accessMode="ReadWriteOncePod", storageClass="-"),
                shared={
                    "type": "existingClaim",
                    "claimName": "{{ .Release.Name }}.shared",
                    "accessMode": "ReadOnlyMany",
                    "mountPath": "/srv/shared/",
                    "readOnly": True,
                },
                cache={"type": "emptyDir", "mountPath": "/cache", "medium": "Memory"},
                spool={"type": "emptyDir", "mountPath": "/data2", "sizeLimit": 1073741824},
            )
        ],
    ),
    (
        "persistence-shared-by-an-autoscaled-server",
        TODO,
        [
            'servers.todo.persistence={"files":{"type":"persistentVolumeClaim","mountPath":'
            '"/var/lib/todo","accessMode":"ReadWriteMany","size":"10Gi","storageClass":"nfs"}}'
        ],
    ),
    (
        "persistence-at-the-code-path-without-code",
        TODO,
        ['servers.todo.persistence={"code-cache":{"type":"emptyDir","mountPath":"/opt/mcp/code"}}'],
    ),
    (
        "sidecar-allowed-to-run-as-root",
        TODO,
        [
            containers(
                proxy={**CONTAINER, "securityContext": {"runAsUser": 0, "runAsNonRoot": False}}
            ),
            "servers.todo.allowPrivileged=true",
        ],
    ),
    (
        "init-container-only-and-a-digest",
        TODO,
        [
            containers(
                "initContainers",
                wait={"image": {"repository": "ghcr.io/acme/wait", "digest": DIGEST}},
            )
        ],
    ),
    (
        "rollout-by-percentages-and-dns-of-its-own",
        TODO,
        [
            'servers.todo.rollingUpdate={"maxSurge":"50%","maxUnavailable":"100%"}',
            'servers.todo.dnsPolicy="None"',
            'servers.todo.dnsConfig={"nameservers":["10.0.0.53"],"searches":["corp.example"]}',
        ],
    ),
    (
        # The autoscaler measures the server container alone: a sidecar needs no requests.
        "sidecar-without-requests-under-an-autoscaler-of-the-server",
        TODO,
        [f"servers.todo.sidecars={json.dumps({'proxy': CONTAINER})}"],
    ),
    (
        "autoscaling-on-more-metrics",
        TODO,
        [
            f"servers.todo.sidecars={json.dumps({'proxy': CONTAINER})}",
            "servers.todo.autoscaling.metrics="
            + json.dumps(
                [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "mcp_tool_calls_in_flight"},
                            "target": {"type": "AverageValue", "averageValue": "8"},
                        },
                    },
                    {
                        "type": "ContainerResource",
                        "containerResource": {
                            "name": "memory",
                            "container": "proxy",
                            "target": {"type": "AverageValue", "averageValue": "200Mi"},
                        },
                    },
                    {
                        "type": "Object",
                        "object": {
                            "describedObject": {
                                "apiVersion": "v1",
                                "kind": "Service",
                                "name": "todo-mcp",
                            },
                            "metric": {"name": "requests_per_second"},
                            "target": {"type": "Value", "value": "2k"},
                        },
                    },
                ]
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("values_files", "set_json"),
    [pytest.param(files, args, id=case) for case, files, args in UNUSUAL_CASES],
)
def test_valid_unusual_values_render(values_files, set_json):
    assert render(values_files, set_json=tuple(set_json)).all("Deployment")


@pytest.fixture(scope="module")
def unusual_renders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("unusual")
    for case, files, args in UNUSUAL_CASES:
        (directory / f"{case}.yaml").write_text(render(files, set_json=tuple(args)).text)
    return directory


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_valid_unusual_values_pass_kubeconform(version: str, unusual_renders: Path):
    report = kubeconform(version, unusual_renders, skip=tuple(CRD_SCHEMAS))
    problems = [
        (r["filename"], r["kind"], r["msg"])
        for r in report["resources"]
        if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == []
    assert report["summary"]["valid"] >= 6 * len(UNUSUAL_CASES)


def test_unusual_values_reach_the_manifests():
    """The values are passed through as written, not dropped on the way."""
    cases = {name: args for name, _, args in UNUSUAL_CASES}
    result = render(TODO, set_json=(cases["cpu-as-numbers-and-exponent"][0],))
    (server,) = result.get("Deployment", "todo-mcp")["spec"]["template"]["spec"]["containers"]
    assert server["resources"]["requests"]["cpu"] == 0.5
    case = cases["network-peers-of-every-kind"]
    policy = render(TODO, set_json=tuple(case)).get("NetworkPolicy", "todo-mcp")["spec"]
    ingress_from = json.loads(case[0].split("=", 1)[1])
    assert policy["ingress"][0]["from"][1:] == ingress_from
    assert yaml.safe_dump(policy["egress"][1:]) == yaml.safe_dump(
        json.loads(case[1].split("=", 1)[1])
    )


# The same quantity in two notations, and a request just above its limit: the templates parse
# Kubernetes' grammar (suffixes, exponents, signs, numbers) into one unit to compare.
SAME_QUANTITY = [
    ("0.5", "500m"),
    ("100m", 0.1),
    ("1e-1", "100m"),
    ("+1", "1000m"),
    (".5", "500m"),
    ("1.", "1"),
    ("1k", 1000),
    ("500u", "0.0005"),
    ("3n", "3e-9"),
    ("1e3", "1k"),
    ("1E3", "1e+3"),
    ("1Ki", "1024"),
    ("1.5Gi", "1536Mi"),
    ("1E", "1e18"),
    ("1Ei", "1024Pi"),
    ("0.3", "300m"),
]
ABOVE_LIMIT = [
    ("1001m", "1"),
    ("1.0001", "1"),
    ("1025", "1Ki"),
    ("2Gi", "2G"),
    ("2Ei", "1Ei"),
    ("1E3", "999"),
]


@pytest.mark.parametrize(("request_", "limit"), SAME_QUANTITY)
def test_a_request_may_equal_its_limit_in_any_notation(request_, limit):
    args = (
        f"servers.todo.resources.requests.cpu={json.dumps(request_)}",
        f"servers.todo.resources.limits.cpu={json.dumps(limit)}",
    )
    (server,) = render(TODO, set_json=args).get("Deployment", "todo-mcp")["spec"]["template"][
        "spec"
    ]["containers"]
    assert server["resources"]["requests"]["cpu"] == request_


@pytest.mark.parametrize(("request_", "limit"), ABOVE_LIMIT)
def test_a_request_above_its_limit_is_refused_in_any_notation(request_, limit):
    error = render_error(
        TODO,
        (
            f"servers.todo.resources.requests.cpu={json.dumps(request_)}",
            f"servers.todo.resources.limits.cpu={json.dumps(limit)}",
        ),
    )
    assert (
        f"servers.todo.resources.requests.cpu: {request_} is more than "
        f"servers.todo.resources.limits.cpu ({limit}); a request cannot exceed its limit"
    ) in error

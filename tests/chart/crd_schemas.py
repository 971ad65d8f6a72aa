"""JSON schemas for the custom resources the chart renders, which kubeconform's Kubernetes
schemas do not cover: the required fields and the fields the chart sets, as the External
Secrets Operator, Prometheus Operator, Gateway API and Infisical operator CRDs define them
(unknown keys rejected).
"""

from __future__ import annotations

from typing import Any

# Prometheus Operator's Duration pattern (monitoring.coreos.com/v1).
PROMETHEUS_DURATION = (
    "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
GO_DURATION = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def strict(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def resource(api_versions: list[str], kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return strict(
        {
            "apiVersion": {"enum": api_versions},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name", "namespace", "labels"],
                "properties": {
                    "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    "namespace": {"type": "string", "minLength": 1},
                    "labels": STRING_MAP,
                    "annotations": STRING_MAP,
                },
            },
            "spec": spec,
        },
        ["apiVersion", "kind", "metadata", "spec"],
    )


EXTERNAL_SECRET = resource(
    ["external-secrets.io/v1", "external-secrets.io/v1beta1"],
    "ExternalSecret",
    strict(
        {
            "refreshInterval": {"type": "string", "pattern": GO_DURATION},
            "secretStoreRef": strict(
                {
                    "name": {"type": "string", "minLength": 1},
                    "kind": {"enum": ["SecretStore", "ClusterSecretStore"]},
                },
                ["name"],
            ),
            "target": strict(
                {
                    "name": {"type": "string", "minLength": 1},
                    "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]},
                },
                [],
            ),
            "data": {
                "type": "array",
                "minItems": 1,
                "items": strict(
                    {
                        "secretKey": {"type": "string", "minLength": 1},
                        "remoteRef": strict(
                            {
                                "key": {"type": "string", "minLength": 1},
                                "property": {"type": "string"},
                                "version": {"type": "string"},
                                "decodingStrategy": {
                                    "enum": ["Auto", "Base64", "Base64URL", "None"]
                                },
                                "conversionStrategy": {"enum": ["Default", "Unicode"]},
                                "metadataPolicy": {"enum": ["None", "Fetch"]},
                            },
                            ["key"],
                        ),
                    },
                    ["secretKey", "remoteRef"],
                ),
            },
        },
        ["secretStoreRef", "target", "data"],
    ),
)

SERVICE_MONITOR = resource(
    ["monitoring.coreos.com/v1"],
    "ServiceMonitor",
    strict(
        {
            "selector": strict({"matchLabels": STRING_MAP}, ["matchLabels"]),
            "namespaceSelector": strict(
                {"matchNames": {"type": "array", "items": {"type": "string"}}}, ["matchNames"]
            ),
            "endpoints": {
                "type": "array",
                "minItems": 1,
                "items": strict(
                    {
                        "port": {"type": "string", "minLength": 1},
                        "path": {"type": "string", "pattern": "^/"},
                        "interval": {"type": "string", "pattern": PROMETHEUS_DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": PROMETHEUS_DURATION},
                        # RelabelConfig: the fields the chart sets.
                        "relabelings": {
                            "type": "array",
                            "items": strict(
                                {
                                    "targetLabel": {"type": "string", "minLength": 1},
                                    "replacement": {"type": "string"},
                                },
                                [],
                            ),
                        },
                    },
                    ["port"],
                ),
            },
        },
        ["selector", "endpoints"],
    ),
)

PROMETHEUS_RULE = resource(
    ["monitoring.coreos.com/v1"],
    "PrometheusRule",
    strict(
        {
            "groups": {
                "type": "array",
                "minItems": 1,
                "items": strict(
                    {
                        "name": {"type": "string", "minLength": 1},
                        "rules": {
                            "type": "array",
                            "minItems": 1,
                            "items": strict(
                                {
                                    "alert": {
                                        "type": "string",
                                        "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                    },
                                    "expr": {"type": "string", "minLength": 1},
                                    "for": {"type": "string", "pattern": PROMETHEUS_DURATION},
                                    "labels": STRING_MAP,
                                    "annotations": STRING_MAP,
                                },
                                ["alert", "expr"],
                            ),
                        },
                    },
                    ["name", "rules"],
                ),
            }
        },
        ["groups"],
    ),
)

# Gateway API v1 (gateway.networking.k8s.io, standard channel): the fields the chart sets.
HOSTNAME = {
    "type": "string",
    "maxLength": 253,
    "pattern": "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
}
HTTP_ROUTE = resource(
    ["gateway.networking.k8s.io/v1"],
    "HTTPRoute",
    strict(
        {
            "parentRefs": {
                "type": "array",
                "maxItems": 32,
                "items": strict(
                    {
                        "group": {"type": "string"},
                        "kind": {"type": "string"},
                        "namespace": {"type": "string"},
                        "name": {"type": "string", "minLength": 1, "maxLength": 253},
                        "sectionName": {"type": "string"},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    },
                    ["name"],
                ),
            },
            "hostnames": {"type": "array", "maxItems": 16, "items": HOSTNAME},
            "rules": {
                "type": "array",
                "items": strict(
                    {
                        "matches": {
                            "type": "array",
                            "items": strict(
                                {
                                    "path": strict(
                                        {
                                            "type": {
                                                "enum": ["Exact", "PathPrefix", "RegularExpression"]
                                            },
                                            "value": {"type": "string", "pattern": "^/"},
                                        },
                                        ["type", "value"],
                                    )
                                },
                                [],
                            ),
                        },
                        "backendRefs": {
                            "type": "array",
                            "items": strict(
                                {
                                    "name": {"type": "string", "minLength": 1},
                                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                },
                                ["name", "port"],
                            ),
                        },
                    },
                    [],
                ),
            },
        },
        ["parentRefs"],
    ),
)

# The Infisical secrets operator's InfisicalSecret (secrets.infisical.com/v1alpha1), written down
# from its CRD: github.com/Infisical/infisical, helm-charts/secrets-operator/templates/
# infisicalsecret-crd.yaml at 25c26f2cdedd4c6e3646eefd8b63c5c919a9b4d1 (the same spec as
# k8-operator/config/crd/bases/secrets.infisical.com_infisicalsecrets.yaml at 58a406b1), and
# https://infisical.com/docs/integrations/platforms/kubernetes/infisical-secret-crd. The CRD's
# required lists and types are kept; of the authentication methods, the two the chart renders
# (universalAuth, kubernetesAuth) are listed, and one at most, as the operator's docs ask. The
# CRD types creationPolicy as a string whose description names its values, Owner and Orphan.
# No Infisical backend is installable here, so this schema is all that checks the chart's objects.
SECRET_REFERENCE = strict(
    {
        "secretName": {"type": "string", "minLength": 1},
        "secretNamespace": {"type": "string", "minLength": 1},
    },
    ["secretName", "secretNamespace"],
)
INFISICAL_SECRETS_SCOPE = strict(
    {
        "envSlug": {"type": "string", "minLength": 1},
        "projectSlug": {"type": "string", "minLength": 1},
        "recursive": {"type": "boolean"},
        "secretsPath": {"type": "string", "pattern": "^/"},
    },
    ["envSlug", "projectSlug", "secretsPath"],
)
INFISICAL_SECRET = resource(
    ["secrets.infisical.com/v1alpha1"],
    "InfisicalSecret",
    strict(
        {
            "hostAPI": {"type": "string", "pattern": "^https?://"},
            "resyncInterval": {"type": "integer", "minimum": 1},
            "authentication": {
                **strict(
                    {
                        "universalAuth": strict(
                            {
                                "credentialsRef": SECRET_REFERENCE,
                                "secretsScope": INFISICAL_SECRETS_SCOPE,
                            },
                            ["credentialsRef", "secretsScope"],
                        ),
                        "kubernetesAuth": strict(
                            {
                                "identityId": {"type": "string", "minLength": 1},
                                "serviceAccountRef": strict(
                                    {
                                        "name": {"type": "string", "minLength": 1},
                                        "namespace": {"type": "string", "minLength": 1},
                                    },
                                    ["name", "namespace"],
                                ),
                                "secretsScope": INFISICAL_SECRETS_SCOPE,
                            },
                            ["identityId", "secretsScope", "serviceAccountRef"],
                        ),
                    },
                    [],
                ),
                "minProperties": 1,
                "maxProperties": 1,
            },
            "managedSecretReference": strict(
                {
                    "secretName": {"type": "string", "minLength": 1},
                    "secretNamespace": {"type": "string", "minLength": 1},
                    "creationPolicy": {"enum": ["Owner", "Orphan"]},
                    "secretType": {"type": "string"},
                },
                ["secretName", "secretNamespace"],
            ),
        },
        ["managedSecretReference", "resyncInterval"],
    ),
)

CRD_SCHEMAS = {
    "InfisicalSecret": INFISICAL_SECRET,
    "ExternalSecret": EXTERNAL_SECRET,
    "HTTPRoute": HTTP_ROUTE,
    "ServiceMonitor": SERVICE_MONITOR,
    "PrometheusRule": PROMETHEUS_RULE,
}

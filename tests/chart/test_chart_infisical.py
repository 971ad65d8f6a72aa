"""`infisicalSecret`: a server's secrets from Infisical, through an InfisicalSecret
(secrets.infisical.com/v1alpha1) whose managed Secret the pods read as they read the
ExternalSecret's. No Infisical backend runs here, so the objects are checked against the CRD's
schema (crd_schemas.INFISICAL_SECRET), never synced."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from crd_schemas import CRD_SCHEMAS, INFISICAL_SECRET
from helm_render import (
    KUBERNETES_VERSIONS,
    NAMESPACE,
    VALUES_DIR,
    Render,
    kubeconform,
    render,
    render_error,
)

TIME = (VALUES_DIR / "time.yaml",)
TODO = (VALUES_DIR / "todo.yaml",)
UNIVERSAL = {
    "enabled": True,
    "authentication": {"universalAuth": {"credentialsRef": {"secretName": "infisical-identity"}}},
    "secretsScope": {"projectSlug": "mcp", "envSlug": "prod", "secretsPath": "/time"},
}
KUBERNETES = {
    "enabled": True,
    "hostAPI": "https://infisical.example.com/api",
    "resyncInterval": 300,
    "authentication": {"kubernetesAuth": {"identityId": "7c1e6a52-0000-4000-8000-000000000001"}},
    "secretsScope": {"projectSlug": "mcp", "envSlug": "staging", "recursive": True},
    "managedSecretReference": {"secretName": "time-from-infisical", "creationPolicy": "Orphan"},
}


def infisical(value: dict[str, Any], key: str = "servers.time") -> str:
    return f"{key}.infisicalSecret={json.dumps(value)}"


def server_container(result: Render, fullname: str) -> dict[str, Any]:
    (server,) = result.get("Deployment", fullname)["spec"]["template"]["spec"]["containers"]
    return server


def pod_annotations(result: Render, fullname: str) -> dict[str, str]:
    return result.get("Deployment", fullname)["spec"]["template"]["metadata"]["annotations"]


# --- what renders -----------------------------------------------------------------------------


def test_off_by_default() -> None:
    for result in (render(TIME), render(TODO)):
        assert result.all("InfisicalSecret") == []


def test_universal_auth() -> None:
    result = render(TIME, set_json=(infisical(UNIVERSAL),))
    obj = result.get("InfisicalSecret", "time-mcp")
    assert obj["apiVersion"] == "secrets.infisical.com/v1alpha1"
    assert obj["metadata"]["namespace"] == NAMESPACE
    assert obj["spec"] == {
        "hostAPI": "https://app.infisical.com/api",
        "resyncInterval": 60,
        "authentication": {
            "universalAuth": {
                "credentialsRef": {
                    "secretName": "infisical-identity",
                    "secretNamespace": NAMESPACE,
                },
                "secretsScope": {
                    "projectSlug": "mcp",
                    "envSlug": "prod",
                    "secretsPath": "/time",
                    "recursive": False,
                },
            }
        },
        "managedSecretReference": {
            "secretName": "time-mcp",
            "secretNamespace": NAMESPACE,
            "creationPolicy": "Owner",
        },
    }
    assert result.all("ExternalSecret") == []


def test_kubernetes_auth_presents_the_servers_service_account_by_default() -> None:
    result = render(TIME, set_json=(infisical(KUBERNETES),))
    spec = result.get("InfisicalSecret", "time-mcp")["spec"]
    assert spec["hostAPI"] == "https://infisical.example.com/api"
    assert spec["resyncInterval"] == 300
    assert spec["authentication"] == {
        "kubernetesAuth": {
            "identityId": "7c1e6a52-0000-4000-8000-000000000001",
            "serviceAccountRef": {"name": "time-mcp", "namespace": NAMESPACE},
            "secretsScope": {
                "projectSlug": "mcp",
                "envSlug": "staging",
                "secretsPath": "/",
                "recursive": True,
            },
        }
    }
    assert spec["managedSecretReference"] == {
        "secretName": "time-from-infisical",
        "secretNamespace": NAMESPACE,
        "creationPolicy": "Orphan",
    }
    assert result.get("ServiceAccount", "time-mcp")


def test_kubernetes_auth_with_a_service_account_of_its_own() -> None:
    account = {"name": "infisical-reader", "namespace": "infisical"}
    value = copy.deepcopy(KUBERNETES)
    value["authentication"]["kubernetesAuth"]["serviceAccountRef"] = account
    spec = render(TIME, set_json=(infisical(value),)).get("InfisicalSecret", "time-mcp")["spec"]
    assert spec["authentication"]["kubernetesAuth"]["serviceAccountRef"] == account


def test_the_universal_auth_secret_may_live_in_another_namespace() -> None:
    value = copy.deepcopy(UNIVERSAL)
    value["authentication"]["universalAuth"]["credentialsRef"]["secretNamespace"] = "infisical"
    spec = render(TIME, set_json=(infisical(value),)).get("InfisicalSecret", "time-mcp")["spec"]
    assert spec["authentication"]["universalAuth"]["credentialsRef"] == {
        "secretName": "infisical-identity",
        "secretNamespace": "infisical",
    }


def test_the_pods_read_every_key_of_the_managed_secret() -> None:
    """As with the ExternalSecret: the whole Secret by envFrom, nothing by name."""
    default = render(TIME, set_json=(infisical(UNIVERSAL),))
    assert server_container(default, "time-mcp")["envFrom"] == [{"secretRef": {"name": "time-mcp"}}]
    named = render(TIME, set_json=(infisical(KUBERNETES),))
    assert server_container(named, "time-mcp")["envFrom"] == [
        {"secretRef": {"name": "time-from-infisical"}}
    ]


def test_the_same_env_as_an_external_secret_gives() -> None:
    """Switching todo from its ExternalSecret to Infisical keeps the pods' Secret and env."""
    external = render(TODO)
    switched = render(
        TODO,
        set_json=(
            "servers.todo.secrets=[]",
            infisical(
                {**UNIVERSAL, "secretsScope": {"projectSlug": "mcp", "envSlug": "prod"}},
                "servers.todo",
            ),
        ),
    )
    for key in ("envFrom", "env"):
        assert (
            server_container(switched, "todo-mcp")[key]
            == server_container(external, "todo-mcp")[key]
        )
    assert switched.all("ExternalSecret") == []
    assert switched.names("InfisicalSecret") == {"todo-mcp"}


def test_the_helm_test_pod_may_read_a_token_from_it() -> None:
    (call,) = render(TIME, set_json=(infisical(KUBERNETES),)).get("Pod", "time-mcp-test")["spec"][
        "containers"
    ]
    env = {entry["name"]: entry for entry in call["env"]}
    assert env["MCP_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "time-from-infisical",
        "key": "MCP_AUTH_TOKEN",
        "optional": True,
    }


def test_a_change_rolls_only_its_own_pods() -> None:
    both = (VALUES_DIR / "greeter-code.yaml", *TIME)
    before = render(both)
    after = render(both, set_json=(infisical(UNIVERSAL),))
    changed = render(both, set_json=(infisical({**UNIVERSAL, "resyncInterval": 30}),))
    secret = "checksum/secret"
    assert pod_annotations(before, "greeter-mcp") == pod_annotations(after, "greeter-mcp")
    assert pod_annotations(before, "time-mcp")[secret] != pod_annotations(after, "time-mcp")[secret]
    assert (
        pod_annotations(after, "time-mcp")[secret] != pod_annotations(changed, "time-mcp")[secret]
    )


def test_set_for_the_whole_fleet_in_defaults() -> None:
    shared = {k: v for k, v in UNIVERSAL.items() if k != "enabled"}
    result = render(
        (VALUES_DIR / "greeter-code.yaml", *TIME),
        set_json=(infisical(shared, "defaults"), 'servers.time.infisicalSecret={"enabled":true}'),
    )
    assert result.names("InfisicalSecret") == {"time-mcp"}


def test_an_existing_and_an_external_secret_still_go_together(features: Render) -> None:
    """Backwards compatible: values that combine `secrets` and `existingSecret` still render."""
    env_from = server_container(features, "rel-alpha")["envFrom"]
    assert env_from == [
        {"secretRef": {"name": "rel-alpha"}},
        {"secretRef": {"name": "alpha-extra"}},
    ]
    assert features.names("InfisicalSecret") == {"gamma-mcp"}


# --- the CRD's schema -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [UNIVERSAL, KUBERNETES], ids=["universal", "kubernetes"])
def test_rendered_objects_follow_the_crd_schema(value: dict[str, Any]) -> None:
    for obj in render(TIME, set_json=(infisical(value),)).all("InfisicalSecret"):
        jsonschema.validate(obj, INFISICAL_SECRET)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda spec: spec.pop("managedSecretReference"), "'managedSecretReference' is a required"),
        (lambda spec: spec.pop("resyncInterval"), "'resyncInterval' is a required property"),
        (lambda spec: spec.update(resyncInterval="60"), "'60' is not of type 'integer'"),
        (
            lambda spec: spec["authentication"].update(
                kubernetesAuth={
                    "identityId": "x",
                    "serviceAccountRef": {"name": "a", "namespace": "b"},
                    "secretsScope": {"projectSlug": "p", "envSlug": "e", "secretsPath": "/"},
                }
            ),
            "has too many properties",
        ),
        (
            lambda spec: spec["authentication"]["universalAuth"]["secretsScope"].pop("envSlug"),
            "'envSlug' is a required property",
        ),
        (
            lambda spec: spec["managedSecretReference"].pop("secretNamespace"),
            "'secretNamespace' is a required property",
        ),
        (
            lambda spec: spec["managedSecretReference"].update(creationPolicy="Merge"),
            "'Merge' is not one of ['Owner', 'Orphan']",
        ),
        (lambda spec: spec.update(managedSecretReferences=[]), "Additional properties"),
    ],
)
def test_the_crd_schema_catches_a_broken_object(change, message: str) -> None:
    obj = copy.deepcopy(
        render(TIME, set_json=(infisical(UNIVERSAL),)).get("InfisicalSecret", "time-mcp")
    )
    change(obj["spec"])
    with pytest.raises(jsonschema.ValidationError, match=message.replace("[", "\\[")):
        jsonschema.validate(obj, INFISICAL_SECRET)


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_the_rest_of_the_render_passes_kubeconform(version: str, tmp_path: Path) -> None:
    result = render(TIME, set_json=(infisical(KUBERNETES),))
    rendered = tmp_path / "infisical.yaml"
    rendered.write_text(result.text)
    report = kubeconform(version, rendered, skip=tuple(CRD_SCHEMAS))
    statuses = {(r["kind"], r["status"]) for r in report["resources"]}
    assert ("InfisicalSecret", "statusSkipped") in statuses
    assert {status for _, status in statuses} <= {"statusValid", "statusSkipped"}


# --- validation -------------------------------------------------------------------------------

AT = "servers.time.infisicalSecret"


@pytest.mark.parametrize(
    ("values_files", "set_json", "message"),
    [
        (
            TODO,
            (infisical(UNIVERSAL, "servers.todo"),),
            "servers.todo.infisicalSecret.enabled: servers.todo.secrets is set too, and its"
            " ExternalSecret would write the Secret the pods read; a server takes its secrets"
            " from one source: remove servers.todo.secrets or set"
            " servers.todo.infisicalSecret.enabled: false",
        ),
        (
            TIME,
            (infisical(UNIVERSAL), 'servers.time.existingSecret="time-env"'),
            f"{AT}.enabled: servers.time.existingSecret is set too; a server takes its secrets"
            f" from one source: remove servers.time.existingSecret or set {AT}.enabled: false",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "authentication": {}}),),
            f"{AT}.authentication: required when {AT}.enabled; set"
            " universalAuth.credentialsRef.secretName (a Secret with the machine identity's"
            " clientId and clientSecret) or kubernetesAuth.identityId (Kubernetes Auth)",
        ),
        (
            TIME,
            (
                infisical(
                    {
                        **UNIVERSAL,
                        "authentication": {
                            **UNIVERSAL["authentication"],
                            **KUBERNETES["authentication"],
                        },
                    }
                ),
            ),
            f"{AT}.authentication: universalAuth.credentialsRef.secretName and"
            " kubernetesAuth.identityId are both set; the operator logs in one way, so set only"
            " one",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "secretsScope": {"envSlug": "prod"}}),),
            f"{AT}.secretsScope.projectSlug: required when {AT}.enabled (the slug of the"
            " Infisical project)",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "secretsScope": {"projectSlug": "mcp"}}),),
            f"{AT}.secretsScope.envSlug: required when {AT}.enabled (the slug of the project's"
            " environment, e.g. prod)",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "hostAPI": "infisical.example.com/api"}),),
            f'{AT}.hostAPI: "infisical.example.com/api" is not an http:// or https:// URL (a'
            " scheme, a host and an optional path, e.g. https://infisical.example.com/api)",
        ),
        (
            (),
            (
                "gateway.enabled=true",
                'servers.time={"image":{"repository":"mcp-servers/time"}}',
                'gateway.server.infisicalSecret={"enabled":true}',
            ),
            "gateway.server.infisicalSecret.authentication: required when"
            " gateway.server.infisicalSecret.enabled; set universalAuth.credentialsRef.secretName"
            " (a Secret with the machine identity's clientId and clientSecret) or"
            " kubernetesAuth.identityId (Kubernetes Auth)",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "resyncInterval": 0}),),
            "at '/servers/time/infisicalSecret/resyncInterval': minimum: got 0, want 1",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "managedSecretReference": {"creationPolicy": "Merge"}}),),
            "at '/servers/time/infisicalSecret/managedSecretReference/creationPolicy': value"
            " must be one of 'Owner', 'Orphan'",
        ),
        (
            TIME,
            (
                infisical(
                    {
                        **UNIVERSAL,
                        "secretsScope": {"projectSlug": "p", "envSlug": "e", "secretsPath": "time"},
                    }
                ),
            ),
            "at '/servers/time/infisicalSecret/secretsScope/secretsPath': 'time' does not match"
            " pattern '^/'",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "managedSecretReference": {"secretName": "Time_Env"}}),),
            "at '/servers/time/infisicalSecret/managedSecretReference/secretName': 'Time_Env'"
            " does not match pattern",
        ),
        (
            TIME,
            (infisical({**UNIVERSAL, "serviceToken": {}}),),
            "at '/servers/time/infisicalSecret': additional properties 'serviceToken' not allowed",
        ),
    ],
)
def test_bad_infisical_values_fail_naming_the_key(
    values_files: tuple[Path, ...], set_json: tuple[str, ...], message: str
) -> None:
    assert message in render_error(values_files, set_json)


def test_disabled_it_checks_nothing() -> None:
    """An incomplete block in `defaults` stays harmless until a server enables it."""
    result = render(TIME, set_json=(infisical({"enabled": False, "hostAPI": "x"}),))
    assert result.all("InfisicalSecret") == []

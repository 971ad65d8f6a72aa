"""`service.trafficDistribution`, `service.ipFamilyPolicy` and `service.ipFamilies`: which
endpoints kube-proxy prefers, and the IP families of the Service's addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crd_schemas import CRD_SCHEMAS
from helm_render import VALUES_DIR, RenderError, kubeconform, render, render_error

TODO = (VALUES_DIR / "todo.yaml",)


def service(**fields: object) -> tuple[str, ...]:
    return tuple(f"servers.todo.service.{key}={json.dumps(value)}" for key, value in fields.items())


def kube(version: str) -> tuple[str, ...]:
    return ("--kube-version", version)


def test_unset_they_leave_kubernetes_its_defaults() -> None:
    spec = render(TODO).get("Service", "todo-mcp")["spec"]
    assert not {"trafficDistribution", "ipFamilyPolicy", "ipFamilies"} & set(spec)


def test_they_reach_the_service() -> None:
    result = render(
        TODO,
        set_json=service(
            trafficDistribution="PreferClose",
            ipFamilyPolicy="PreferDualStack",
            ipFamilies=["IPv6", "IPv4"],
        ),
        extra=kube("1.31.0"),
    )
    spec = result.get("Service", "todo-mcp")["spec"]
    assert spec["trafficDistribution"] == "PreferClose"
    assert spec["ipFamilyPolicy"] == "PreferDualStack"
    assert spec["ipFamilies"] == ["IPv6", "IPv4"]


@pytest.mark.parametrize(
    ("distribution", "version", "needs"),
    [("PreferClose", "1.30.4", "1.31"), ("PreferSameNode", "1.33.2", "1.34")],
)
def test_a_distribution_the_cluster_does_not_know_is_refused_naming_the_version(
    distribution: str, version: str, needs: str
) -> None:
    # An older API server would drop the field without a word.
    with pytest.raises(RenderError) as refused:
        render(TODO, set_json=service(trafficDistribution=distribution), extra=kube(version))
    assert (
        f"servers.todo.service.trafficDistribution: {distribution} needs Kubernetes {needs} or"
        f" later; this cluster runs v{version}"
    ) in str(refused.value)
    newer = render(
        TODO, set_json=service(trafficDistribution=distribution), extra=kube(f"{needs}.0")
    )
    assert newer.get("Service", "todo-mcp")["spec"]["trafficDistribution"] == distribution


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"ipFamilies": ["IPv4", "IPv6"]},
            "servers.todo.service.ipFamilies: two families need"
            " servers.todo.service.ipFamilyPolicy PreferDualStack or RequireDualStack (it is"
            " SingleStack, the default)",
        ),
        (
            {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "SingleStack"},
            "(it is SingleStack)",
        ),
        (
            {"ipFamilies": ["IPv4", "IPv4"]},
            "at '/servers/todo/service/ipFamilies': items at 0 and 1 are equal",
        ),
        ({"ipFamilies": ["ipv4"]}, "at '/servers/todo/service/ipFamilies/0': value must be one"),
        ({"ipFamilyPolicy": "DualStack"}, "at '/servers/todo/service/ipFamilyPolicy': value must"),
        (
            {"trafficDistribution": "Nearest"},
            "at '/servers/todo/service/trafficDistribution': value must be one of",
        ),
    ],
)
def test_bad_values_name_the_key(fields: dict[str, object], message: str) -> None:
    assert message in render_error(TODO, service(**fields))


@pytest.mark.parametrize("version", ["1.31.0", "1.34.0"])
def test_the_render_passes_kubeconform(version: str, tmp_path: Path) -> None:
    distribution = "PreferClose" if version < "1.34" else "PreferSameNode"
    rendered = tmp_path / "service.yaml"
    rendered.write_text(
        render(
            TODO,
            set_json=service(
                trafficDistribution=distribution,
                ipFamilyPolicy="RequireDualStack",
                ipFamilies=["IPv4", "IPv6"],
            ),
            extra=kube(version),
        ).text
    )
    report = kubeconform(version, rendered, skip=tuple(CRD_SCHEMAS))
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == []

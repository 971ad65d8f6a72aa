"""`extraObjects`: more manifests rendered with the release, as objects or strings of YAML, both
rendered as templates. The refusals are in test_chart_bad_values.py."""

from __future__ import annotations

import json

from helm_render import NAMESPACE, RELEASE, VALUES_DIR, Render, render

TODO = (VALUES_DIR / "todo.yaml",)
RUNTIME_CLASS = {
    "apiVersion": "node.k8s.io/v1",
    "kind": "RuntimeClass",
    "metadata": {"name": "{{ .Release.Name }}-gvisor"},
    "handler": "runsc",
}
CA_BUNDLE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-ca
  namespace: {{ .Release.Namespace }}
data:
  ca.crt: bundle
"""


def test_none_by_default(fleet: Render):
    assert "# Source: mcp-servers/templates/extraobjects.yaml" not in fleet.text
    assert "mcp-servers/templates/deployment.yaml" in fleet.text


def test_objects_and_yaml_strings_render_as_templates():
    result = render(TODO, set_json=(f"extraObjects={json.dumps([RUNTIME_CLASS, CA_BUNDLE])}",))
    assert result.get("RuntimeClass", f"{RELEASE}-gvisor")["handler"] == "runsc"
    bundle = result.get("ConfigMap", f"{RELEASE}-ca")
    assert bundle["metadata"]["namespace"] == NAMESPACE
    assert bundle["data"] == {"ca.crt": "bundle"}
    # The servers render as before beside them.
    assert result.names("Deployment") == {"todo-mcp"}


def test_features_render_the_objects_their_servers_use(features: Render):
    assert features.get("RuntimeClass", "gvisor")["handler"] == "runsc"
    bundle = features.get("ConfigMap", f"{RELEASE}-ca-bundle")
    volumes = features.get("Deployment", f"{RELEASE}-alpha")["spec"]["template"]["spec"]["volumes"]
    (ca,) = [volume for volume in volumes if volume["name"] == "ca"]
    assert ca["configMap"]["name"] == bundle["metadata"]["name"]


def test_common_labels_join_their_own():
    labelled = {**RUNTIME_CLASS, "metadata": {"name": "sandbox", "labels": {"team": "mine"}}}
    result = render(
        TODO,
        set_json=(
            f"extraObjects={json.dumps([labelled, CA_BUNDLE])}",
            'global.commonLabels={"team":"platform","cost-center":"42"}',
        ),
    )
    assert result.get("RuntimeClass", "sandbox")["metadata"]["labels"] == {
        "team": "mine",
        "cost-center": "42",
    }
    assert result.get("ConfigMap", f"{RELEASE}-ca")["metadata"]["labels"] == {
        "team": "platform",
        "cost-center": "42",
    }

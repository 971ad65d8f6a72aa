"""`persistence`: the volumes of each type, the claims the chart creates, and the single-writer
rule (one replica, `Recreate`). The refusals are in test_chart_bad_values.py."""

from __future__ import annotations

import json
from typing import Any

from helm_render import RELEASE, VALUES_DIR, Render, render

GREETER = (VALUES_DIR / "greeter-code.yaml",)
TODO = (VALUES_DIR / "todo.yaml",)
CHART_MOUNTS = ["/tmp", "/etc/mcp", "/opt/mcp/code"]


def with_volumes(server: str = "greeter", **entries: dict[str, Any]) -> Render:
    """values/<server>.yaml with these `persistence` entries."""
    files = {"greeter": GREETER, "todo": TODO}[server]
    return render(files, set_json=(f"servers.{server}.persistence={json.dumps(entries)}",))


def pod(result: Render, fullname: str = "greeter-mcp") -> dict[str, Any]:
    return result.get("Deployment", fullname)["spec"]["template"]["spec"]


def volumes(result: Render, fullname: str = "greeter-mcp") -> dict[str, dict[str, Any]]:
    """The pod's volumes by name, each with its mount in the server container."""
    spec = pod(result, fullname)
    (server,) = spec["containers"]
    mounts = {mount["name"]: mount for mount in server["volumeMounts"]}
    return {v["name"]: {**v, "mount": mounts.pop(v["name"])} for v in spec["volumes"]} | {
        name: {"unmounted volume": name} for name in mounts
    }


def test_no_persistence_by_default():
    result = render(GREETER + TODO)
    assert result.all("PersistentVolumeClaim") == []
    for deployment in result.all("Deployment"):
        assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
        (server,) = deployment["spec"]["template"]["spec"]["containers"]
        paths = [mount["mountPath"] for mount in server["volumeMounts"]]
        assert set(paths) <= set(CHART_MOUNTS), paths


def test_every_pod_gets_fs_group_with_on_root_mismatch(fleet: Render):
    """fsGroup makes the volumes writable by UID 1000; OnRootMismatch skips the recursive chown
    of a volume whose top directory is already right (large volumes start fast)."""
    for deployment in fleet.all("Deployment"):
        context = deployment["spec"]["template"]["spec"]["securityContext"]
        assert (context["fsGroup"], context["fsGroupChangePolicy"]) == (1000, "OnRootMismatch")


def test_a_persistent_volume_claim_entry_gets_a_claim_of_its_own():
    result = with_volumes(data={"type": "persistentVolumeClaim", "mountPath": "/data"})
    (claim,) = result.all("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "greeter-mcp-data"
    assert claim["metadata"]["namespace"] == "mcp"
    labels = claim["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "greeter"
    assert labels["app.kubernetes.io/instance"] == RELEASE
    assert labels["helm.sh/chart"].startswith("mcp-servers-")
    # Defaults: 1Gi, ReadWriteOnce, the cluster's default class, deleted with the release.
    assert "annotations" not in claim["metadata"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
    }
    data = volumes(result)["data"]
    assert data["persistentVolumeClaim"] == {"claimName": "greeter-mcp-data"}
    assert data["mount"] == {"name": "data", "mountPath": "/data"}


def test_claim_size_access_mode_class_and_retain():
    result = with_volumes(
        data={
            "type": "persistentVolumeClaim",
            "mountPath": "/data",
            "size": "5Gi",
            "accessMode": "ReadWriteMany",
            "storageClass": "fast-ssd",
            "retain": True,
            "annotations": {"backup.example.com/schedule": "daily"},
        },
        unclassed={
            "type": "persistentVolumeClaim",
            "mountPath": "/unclassed",
            "storageClass": "-",
            "size": 1073741824,
        },
    )
    data = result.get("PersistentVolumeClaim", "greeter-mcp-data")
    assert data["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "backup.example.com/schedule": "daily",
    }
    assert data["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast-ssd",
    }
    # `-`: no class at all (only volumes without one bind), not the cluster's default.
    unclassed = result.get("PersistentVolumeClaim", "greeter-mcp-unclassed")["spec"]
    assert unclassed["storageClassName"] == ""
    assert float(unclassed["resources"]["requests"]["storage"]) == 1073741824


def test_an_existing_claim_is_mounted_not_created():
    result = with_volumes(
        shared={
            "type": "existingClaim",
            "claimName": "{{ .Release.Name }}-shared",
            "accessMode": "ReadOnlyMany",
            "mountPath": "/srv/shared/",
            "readOnly": True,
        }
    )
    assert result.all("PersistentVolumeClaim") == []
    shared = volumes(result)["shared"]
    assert shared["persistentVolumeClaim"] == {"claimName": f"{RELEASE}-shared"}
    # The path is cleaned; the mount is read-only.
    assert shared["mount"] == {"name": "shared", "mountPath": "/srv/shared", "readOnly": True}


def test_empty_dirs_with_and_without_medium_and_size_limit():
    result = with_volumes(
        cache={"type": "emptyDir", "mountPath": "/cache", "medium": "Memory", "sizeLimit": "64Mi"},
        scratch={"type": "emptyDir", "mountPath": "/scratch"},
    )
    assert result.all("PersistentVolumeClaim") == []
    found = volumes(result)
    assert found["cache"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert found["scratch"]["emptyDir"] == {}
    assert found["scratch"]["mount"] == {"name": "scratch", "mountPath": "/scratch"}


def test_the_chart_mounts_stay_and_entries_follow_in_identifier_order():
    result = with_volumes(
        zeta={"type": "emptyDir", "mountPath": "/zeta"},
        alpha={"type": "persistentVolumeClaim", "mountPath": "/alpha"},
    )
    (server,) = pod(result)["containers"]
    assert [m["mountPath"] for m in server["volumeMounts"]] == [*CHART_MOUNTS, "/alpha", "/zeta"]
    assert [v["name"] for v in pod(result)["volumes"]] == ["tmp", "config", "code", "alpha", "zeta"]


def test_a_claim_with_one_writer_recreates_the_pod():
    """ReadWriteOnce (the default, for an existing claim too) and ReadWriteOncePod: the old pod
    lets go of the claim before the new one starts."""
    for entry in (
        {"type": "persistentVolumeClaim", "mountPath": "/data"},
        {"type": "persistentVolumeClaim", "mountPath": "/data", "accessMode": "ReadWriteOncePod"},
        {"type": "existingClaim", "claimName": "greeter-data", "mountPath": "/data"},
    ):
        deployment = with_volumes(data=entry).get("Deployment", "greeter-mcp")
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, entry
        assert deployment["spec"]["replicas"] == 1
    result = with_volumes(data={"type": "persistentVolumeClaim", "mountPath": "/data"})
    assert result.all("PodDisruptionBudget") == []


def test_shared_volumes_keep_the_rolling_update_and_the_autoscaler():
    result = with_volumes(
        "todo",
        files={
            "type": "persistentVolumeClaim",
            "mountPath": "/files",
            "accessMode": "ReadWriteMany",
        },
        cache={"type": "emptyDir", "mountPath": "/cache"},
    )
    strategy = result.get("Deployment", "todo-mcp")["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert result.names("HorizontalPodAutoscaler") == {"todo-mcp"}
    assert result.names("PodDisruptionBudget") == {"todo-mcp"}


def test_defaults_give_every_server_a_volume_and_a_server_can_drop_it():
    result = render(
        GREETER + TODO,
        set_json=(
            'defaults.persistence={"state":{"type":"emptyDir","mountPath":"/state"},'
            '"data":{"type":"persistentVolumeClaim","size":"2Gi"}}',
            # The greeter takes data's type and size from defaults and adds the path.
            'servers.greeter.persistence={"data":{"mountPath":"/data"}}',
            'servers.todo.persistence={"state":{"enabled":false},"data":{"enabled":false}}',
        ),
    )
    assert set(volumes(result)) == {"tmp", "config", "code", "state", "data"}
    assert result.get("PersistentVolumeClaim", "greeter-mcp-data")["spec"]["resources"] == {
        "requests": {"storage": "2Gi"}
    }
    assert set(volumes(result, "todo-mcp")) == {"tmp", "config"}
    assert result.names("PersistentVolumeClaim") == {"greeter-mcp-data"}


def test_features_render_every_type(features: Render):
    """tests/chart/features-values.yaml carries one entry of each type, so kubeconform and
    checkov check them too (test_chart_validate.py)."""
    claim = features.get("PersistentVolumeClaim", f"{RELEASE}-alpha-data")
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    found = volumes(features, f"{RELEASE}-alpha")
    assert found["shared"]["persistentVolumeClaim"] == {"claimName": f"{RELEASE}-shared"}
    assert found["cache"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert found["ca"]["configMap"] == {
        "name": f"{RELEASE}-ca-bundle",
        "items": [{"key": "ca.crt", "path": "ca.pem"}],
        "defaultMode": 0o444,
    }
    assert found["proxy-credentials"]["secret"] == {
        "secretName": "alpha-proxy-credentials",
        "optional": True,
    }
    # The ReadWriteOnce claim has one writer.
    assert features.get("Deployment", f"{RELEASE}-alpha")["spec"]["strategy"] == {
        "type": "Recreate"
    }


def test_config_map_and_secret_entries_mount_their_files_read_only():
    """A CA bundle or a credentials file: the ConfigMap or Secret `name` (a template), every
    key by default, and never writable, so neither type can make the claim rule apply."""
    result = with_volumes(
        "todo",
        ca={"type": "configMap", "name": "{{ .Release.Name }}-ca", "mountPath": "/etc/ssl/extra"},
        key={"type": "secret", "name": "todo-key", "mountPath": "/var/run/key", "readOnly": True},
    )
    found = volumes(result, "todo-mcp")
    assert found["ca"]["configMap"] == {"name": f"{RELEASE}-ca"}
    assert found["ca"]["mount"] == {"name": "ca", "mountPath": "/etc/ssl/extra", "readOnly": True}
    assert found["key"]["secret"] == {"secretName": "todo-key"}
    assert found["key"]["mount"]["readOnly"] is True
    assert result.all("PersistentVolumeClaim") == []
    # Not claims: two replicas, the autoscaler and the rolling update stay.
    assert result.get("Deployment", "todo-mcp")["spec"]["strategy"]["type"] == "RollingUpdate"
    assert result.names("HorizontalPodAutoscaler") == {"todo-mcp"}

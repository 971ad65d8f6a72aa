"""The server registry (scripts/server_registry.py), for tests and benchmarks."""

from __future__ import annotations

from harness.scripts import load_script

registry = load_script("server_registry")

Server = registry.Server
RegistryError = registry.RegistryError
load_registry = registry.load_registry
server_named = registry.server_named
LOCAL_REGISTRY = registry.LOCAL_REGISTRY
IMAGE_NAMESPACE = registry.IMAGE_NAMESPACE

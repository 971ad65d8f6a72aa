"""The server registry (scripts/server_registry.py), for tests and benchmarks.

The registry module is a standalone script (shell scripts run it before any virtualenv exists),
so it is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "server_registry.py"
_spec = importlib.util.spec_from_file_location("server_registry", _PATH)
assert _spec is not None and _spec.loader is not None
registry = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = registry
_spec.loader.exec_module(registry)

Server = registry.Server
RegistryError = registry.RegistryError
load_registry = registry.load_registry
server_named = registry.server_named

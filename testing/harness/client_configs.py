"""The client-config generator (scripts/client_configs.py), for tests.

A standalone script like the server registry, so it is loaded from its file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "scripts" / "client_configs.py"
_spec = importlib.util.spec_from_file_location("client_configs", PATH)
assert _spec is not None and _spec.loader is not None
client_configs = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = client_configs
_spec.loader.exec_module(client_configs)

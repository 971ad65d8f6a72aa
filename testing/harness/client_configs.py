"""The client-config generator (scripts/client_configs.py), for tests."""

from __future__ import annotations

from harness.scripts import SCRIPTS, load_script

PATH = SCRIPTS / "client_configs.py"
client_configs = load_script("client_configs")

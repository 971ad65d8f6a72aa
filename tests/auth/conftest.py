"""Fixtures of the auth tests: a real OpenID provider (Ory Hydra, see harness.hydra)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.hydra import Hydra


@pytest.fixture(scope="module")
def hydra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hydra]:
    """A Hydra of the module's own: its clients and signing keys are the module's to change.

    Built into .tools/bin on first use when `make tools` has not built it (minutes, once).
    """
    with Hydra(tmp_path_factory.mktemp("hydra")) as provider:
        yield provider

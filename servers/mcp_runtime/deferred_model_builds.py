"""Pydantic models of the MCP SDK and FastMCP, built when first used instead of all at import.

A pydantic model is built (core schema, validator, serializer) as its class is defined,
unless its configuration says `defer_build`. Every server defines, at import:
- the SDK's wire models, one per message of each protocol generation's schema, some 300
  classes in `mcp_types._v2025_11_25` and `mcp_types._v2026_07_28`, against which the SDK
  checks each request; a server checks the dozen of the methods it answers;
- FastMCP's component models: tools, resources, templates and prompts of every kind
  (files, directories, HTTP, mounted and transformed), most of which a server never makes.
Building them took 70-80 ms of every server's start-up (`python -X importtime`).

`defer_model_builds()` sets `defer_build` on each family's base class as its module loads,
before any of the family is defined, so pydantic builds each model on first use.
`build_served_wire_models()` builds the wire models of the methods every server answers
before the server reports ready, so no call pays for them; FastMCP builds a tool's model
when a tool is registered. A request for another method (resources, prompts, completion,
logging) builds its own model the first time, in about a millisecond. On a release other
than the one read, the models build as their library has them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass

from mcp_runtime.import_hooks import WrappedLoader, spec_from_other_finders
from mcp_runtime.verified_versions import VERIFIED_VERSIONS, installed_version


@dataclass(frozen=True)
class ModelFamily:
    """The models derived from `base` in `module`, on the release (distribution, version)
    whose code was read."""

    module: str
    base: str
    release: tuple[str, str]


WIRE_MODELS = ModelFamily(
    "mcp_types._wire_base", "WireModel", ("mcp-types", VERIFIED_VERSIONS["mcp-types"])
)
FAMILIES = (
    WIRE_MODELS,
    ModelFamily(
        "fastmcp.utilities.types",
        "FastMCPBaseModel",
        ("fastmcp-slim", VERIFIED_VERSIONS["fastmcp"]),
    ),
)

# Lifecycle and tools, in both protocol generations: what every server in the fleet answers.
SERVED_METHODS = frozenset(
    {
        "initialize",
        "notifications/initialized",
        "notifications/cancelled",
        "ping",
        "server/discover",
        "subscriptions/listen",
        "tools/list",
        "tools/call",
    }
)


class _DeferringBuildsLoader(WrappedLoader):
    def __init__(self, loader: importlib.abc.Loader, family: ModelFamily) -> None:
        super().__init__(loader)
        self._family = family

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        # Read by pydantic from the bases of each model defined from here on.
        getattr(module, self._family.base).model_config["defer_build"] = True


class _FamilyBaseFinder(importlib.abc.MetaPathFinder):
    """Finds each family's base module, once, with its loader wrapped."""

    def __init__(self, families: Sequence[ModelFamily]) -> None:
        self._families = {family.module: family for family in families}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        family = self._families.pop(fullname, None)
        if family is None:
            return None
        if not self._families:
            sys.meta_path.remove(self)
        spec = spec_from_other_finders(self, fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _DeferringBuildsLoader(spec.loader, family)
        return spec


def defer_model_builds() -> list[str]:
    """Have FAMILIES' models built on first use, for each family whose base module is not
    imported yet and whose library is the release read; the base modules concerned."""
    families = [
        family
        for family in FAMILIES
        if family.module not in sys.modules
        and installed_version(family.release[0]) == family.release[1]
    ]
    if families:
        sys.meta_path.insert(0, _FamilyBaseFinder(families))
    return [family.module for family in families]


def build_served_wire_models() -> int:
    """Build the wire models of SERVED_METHODS' requests and notifications not built yet;
    how many were built."""
    from mcp_types.methods import CLIENT_NOTIFICATIONS, CLIENT_REQUESTS

    unbuilt = {
        model
        for (method, _), model in {**CLIENT_REQUESTS, **CLIENT_NOTIFICATIONS}.items()
        if method in SERVED_METHODS and not model.__pydantic_complete__
    }
    for model in unbuilt:
        model.model_rebuild()
    return len(unbuilt)

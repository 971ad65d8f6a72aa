"""What the runtime's import hooks share: finding a module as Python would without them,
and wrapping its loader to do something around the module's body."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any


class WrappedLoader(importlib.abc.Loader):
    """A module's own loader; subclasses add what happens around its body."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def __getattr__(self, name: str) -> Any:
        # get_source, get_resource_reader and the like, for inspect and importlib.resources.
        return getattr(self._loader, name)


def spec_from_other_finders(
    finder: object, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    """The spec the finders on sys.meta_path other than `finder` give for `fullname`."""
    for other in list(sys.meta_path):
        find_spec = getattr(other, "find_spec", None)
        if other is finder or find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None

"""Libraries that FastMCP and uvicorn import for features a server may not use, loaded
when first used.

Every server imports, whatever it configures: rich's console and log handler
(`fastmcp.utilities.logging`, for a handler the runtime's JSON logs replace), joserfc and
with it cryptography's X.509 (`fastmcp.server.auth.auth`, for OAuth client assertions),
and uvicorn's command line with click and watchfiles (`uvicorn/__init__.py` and
`sse_starlette.sse`, for `uvicorn.run`, `uvicorn.main` and reload). Together about 150
modules and 6 MiB of every replica's RSS (`python bench/servers.py`, idle RSS).

While each importer in IMPORTERS runs its module body, the modules it takes those names
from are stand-ins, so each name it binds is a placeholder. On first use (a call, an
attribute, an isinstance check, a subclass) a placeholder imports the real module, puts
the real objects into the importer's namespace in place of every stand-in, and goes on as
the real object. A server that enables rich logging, or serves OAuth with client
assertions, loads them then; a default server never does. A name that is an exception
class stands in as an exception class nothing raises: it is deferred only with the
functions that raise it, which put the real class in place before they can raise.
An `absent` module is hidden from an importer whose own code handles its absence.

This reads the importers' import lines, so each importer is deferred only on the release
it was read from (`Importer.release`; tests/runtime/test_runtime_deferred_imports.py reads
the import lines again); on any other it imports as written.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp_runtime.verified_versions import VERIFIED_VERSIONS


@dataclass(frozen=True)
class Deferred:
    """What an importer takes from `module`: `from module import *names, *exceptions`,
    or nothing at all when `absent` (the importer then goes on as without the module)."""

    module: str
    names: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    absent: bool = False


@dataclass(frozen=True)
class Importer:
    """A module whose imports are deferred, on the release (distribution, version) whose
    code was read."""

    module: str
    release: tuple[str, str]
    deferred: tuple[Deferred, ...]


_FASTMCP = ("fastmcp-slim", VERIFIED_VERSIONS["fastmcp"])
_UVICORN = ("uvicorn", "0.54.0")

_FASTMCP_LOGGING = Importer(
    "fastmcp.utilities.logging",
    _FASTMCP,
    (
        Deferred("rich.console", names=("Console",)),
        Deferred("rich.logging", names=("RichHandler",)),
    ),
)

IMPORTERS: tuple[Importer, ...] = (
    _FASTMCP_LOGGING,
    Importer(
        "fastmcp.server.auth.auth",
        _FASTMCP,
        (
            Deferred("joserfc.errors", exceptions=("JoseError",)),
            Deferred("joserfc.jws", names=("extract_compact",)),
        ),
    ),
    # The runtime subclasses uvicorn.server.Server itself; uvicorn.main adds the command line.
    Importer("uvicorn", _UVICORN, (Deferred("uvicorn.main", names=("Server", "main", "run")),)),
    # Without uvicorn.main, sse-starlette skips wrapping uvicorn.Server.handle_exit, which
    # the runtime's DrainingServer overrides without calling it anyway; it still finds the
    # running server through its signal handler to end event streams on shutdown.
    Importer(
        "sse_starlette.sse", ("sse-starlette", "3.7.0"), (Deferred("uvicorn.main", absent=True),)
    ),
)


class _StandIns:
    """One importer's stand-in modules, and putting the real objects in their place."""

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        self.modules: dict[str, types.ModuleType | None] = {}
        # id of each placeholder or stand-in exception -> the (module, name) it stands for.
        self.stood_in: dict[int, tuple[str, str]] = {}
        self.real: dict[tuple[str, str], Any] | None = None
        # Placeholders may first be used from several threads at once.
        self._resolving = threading.RLock()

    def install(self) -> None:
        """Put a stand-in in sys.modules for each deferred module not imported yet."""
        for entry in self.importer.deferred:
            if entry.module in sys.modules:
                continue
            stand_in = None if entry.absent else self._module_standing_in(entry)
            self.modules[entry.module] = stand_in
            # A None entry makes `import name` raise ImportError, as for an uninstalled module.
            sys.modules[entry.module] = stand_in  # type: ignore[assignment]

    def uninstall(self) -> None:
        for name, stand_in in self.modules.items():
            if name in sys.modules and sys.modules[name] is stand_in:
                del sys.modules[name]

    def _module_standing_in(self, entry: Deferred) -> types.ModuleType:
        stand_in = types.ModuleType(entry.module, "Stands in until first use.")
        for name in entry.names:
            setattr(stand_in, name, _Placeholder(self, entry.module, name))
        for name in entry.exceptions:
            setattr(stand_in, name, type(name, (Exception,), {"__module__": entry.module}))
        for name in (*entry.names, *entry.exceptions):
            self.stood_in[id(getattr(stand_in, name))] = (entry.module, name)
        return stand_in

    def resolve(self) -> dict[tuple[str, str], Any]:
        """Import the real modules, bind their objects where the stand-ins were, and return
        them by (module, name)."""
        with self._resolving:
            if self.real is None:
                self.uninstall()
                modules = {
                    name: importlib.import_module(name)
                    for name, stand_in in self.modules.items()
                    if stand_in is not None
                }
                real = {
                    (module, name): getattr(modules[module], name)
                    for module, name in self.stood_in.values()
                }
                namespace = vars(sys.modules[self.importer.module])
                for key, value in list(namespace.items()):
                    if (stood_for := self.stood_in.get(id(value))) is not None:
                        namespace[key] = real[stood_for]
                self.real = real
            return self.real


class _Placeholder:
    """A deferred name until it is used; then the real object it stands for."""

    def __init__(self, stand_ins: _StandIns, module: str, name: str) -> None:
        self._stand_ins = stand_ins
        self._module = module
        self._name = name
        self.__module__ = module

    def _real(self) -> Any:
        return self._stand_ins.resolve()[self._module, self._name]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in {"_stand_ins", "_module", "_name"}:  # while copying, before __init__
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __instancecheck__(self, instance: object) -> bool:
        return isinstance(instance, self._real())

    def __subclasscheck__(self, subclass: type) -> bool:
        return issubclass(subclass, self._real())

    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type, ...]:
        return (self._real(),)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class _DeferringLoader(importlib.abc.Loader):
    """The importer's own loader, run with its stand-ins in sys.modules."""

    def __init__(self, loader: importlib.abc.Loader, importer: Importer) -> None:
        self._loader = loader
        self._importer = importer

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        stand_ins = _StandIns(self._importer)
        stand_ins.install()
        try:
            self._loader.exec_module(module)
        finally:
            stand_ins.uninstall()

    def __getattr__(self, name: str) -> Any:
        # get_source, get_resource_reader and the like, for inspect and importlib.resources.
        return getattr(self._loader, name)


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds each importer as the other finders would, with its loader wrapped; leaves
    sys.meta_path once every importer has been found."""

    def __init__(self, importers: Sequence[Importer]) -> None:
        self._waiting = {importer.module: importer for importer in importers}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        importer = self._waiting.pop(fullname, None)
        if importer is None:
            return None
        if not self._waiting:
            sys.meta_path.remove(self)
        spec = _spec_from_other_finders(self, fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _DeferringLoader(spec.loader, importer)
        return spec


def _spec_from_other_finders(
    finder: object, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
) -> importlib.machinery.ModuleSpec | None:
    for other in list(sys.meta_path):
        find_spec = getattr(other, "find_spec", None)
        if other is finder or find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


def _installed(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def defer_unused_imports() -> list[str]:
    """Defer IMPORTERS' imports, for each importer not imported yet and installed at the
    release it was read from; the importers deferred."""
    releases = {importer.release for importer in IMPORTERS}
    installed = {distribution: _installed(distribution) for distribution, _ in releases}
    importers = [
        importer
        for importer in IMPORTERS
        if importer.module not in sys.modules
        and installed[importer.release[0]] == importer.release[1]
    ]
    if not importers:
        return []
    if _FASTMCP_LOGGING in importers:
        # FastMCP's import-time log handler is rich's unless this says otherwise; the
        # runtime replaces it with its JSON handler (mcp_runtime.logs) either way.
        os.environ.setdefault("FASTMCP_ENABLE_RICH_LOGGING", "false")
    sys.meta_path.insert(0, _DeferringFinder(importers))
    return [importer.module for importer in importers]

"""Libraries that FastMCP, the MCP SDK and uvicorn import for features a server may not use,
loaded when first used.

Every server imports, whatever it configures: rich's console and log handler
(`fastmcp.utilities.logging`, for a handler the runtime's JSON logs replace), joserfc and
with it cryptography's X.509 (`fastmcp.server.auth.auth`, for OAuth client assertions),
the SDK's client and its high-level server (passed on by the `mcp` and `mcp.server`
packages), the HTTP client httpx2 (FastMCP's server, OAuth, HTTP-resource and error
modules), and uvicorn's command line with click and watchfiles (`uvicorn/__init__.py` and
`sse_starlette.sse`). Together 230 modules, 10 MiB of every replica's RSS and 120-190 ms of
its start-up (todo; `python bench/servers.py`, the start-up table).

While each importer in IMPORTERS runs its module body, the modules it takes those names
from are stand-ins. A name the importer's own code uses (or a module it imports whole) is a
placeholder: on first use (a call, an attribute, an isinstance check, a subclass) it
imports the real modules, puts the real objects into the importer's namespace in place of
every stand-in, and goes on as the real object. A name the importer only passes on leaves
its namespace for a module `__getattr__` that imports it on first access, so `from mcp
import ClientSession` gets the real class. Importing one of those modules for real, from
anywhere, puts the real objects in place too. A name that is an exception class stands in
as an exception class nothing raises: it is deferred only with the functions that raise it,
which put the real class in place before they can raise. An `absent` module is hidden from
an importer whose own code goes on without it.

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_runtime.import_hooks import WrappedLoader, spec_from_other_finders
from mcp_runtime.verified_versions import VERIFIED_VERSIONS, installed_version


@dataclass(frozen=True)
class Deferred:
    """What an importer takes from `module`: the module itself (`import module`, `whole`), or
    (`from module import ...`) `names` its own code uses, `exports` it only passes on,
    `exceptions` its `except` clauses name; or, when `absent`, nothing: the importer goes on
    as it does without the module installed."""

    module: str
    whole: bool = False
    names: tuple[str, ...] = ()
    exports: tuple[str, ...] = ()
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
_MCP = ("mcp", VERIFIED_VERSIONS["mcp"])
_UVICORN = ("uvicorn", "0.55.0")

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
            Deferred("httpx2", whole=True),
            Deferred("joserfc.errors", exceptions=("JoseError",)),
            Deferred("joserfc.jws", names=("extract_compact",)),
        ),
    ),
    # httpx2, an HTTP client, for servers that call out (proxies, HTTP resources, OAuth)
    # or handle its errors; MCPConfig, for proxies built from a client configuration.
    Importer(
        "fastmcp.server.server",
        _FASTMCP,
        (Deferred("httpx2", whole=True), Deferred("fastmcp.mcp_config", names=("MCPConfig",))),
    ),
    Importer("fastmcp.resources.types", _FASTMCP, (Deferred("httpx2", whole=True),)),
    Importer("fastmcp.utilities.exceptions", _FASTMCP, (Deferred("httpx2", whole=True),)),
    # The SDK's client and its high-level server: a server that relays calls (the bridge,
    # the gateway) imports them when it builds its clients.
    Importer(
        "mcp",
        _MCP,
        (
            Deferred("mcp.client._input_required", exports=("InputRequiredRoundsExceededError",)),
            Deferred("mcp.client.client", exports=("Client",)),
            Deferred("mcp.client.session", exports=("ClientSession",)),
            Deferred("mcp.client.session_group", exports=("ClientSessionGroup",)),
            Deferred("mcp.client.stdio", exports=("StdioServerParameters", "stdio_client")),
        ),
    ),
    Importer("mcp.server", _MCP, (Deferred("mcp.server.mcpserver", exports=("MCPServer",)),)),
    # The runtime subclasses uvicorn.server.Server itself; uvicorn.main adds the command line.
    Importer("uvicorn", _UVICORN, (Deferred("uvicorn.main", exports=("Server", "main", "run")),)),
    # Without uvicorn.main, sse-starlette skips wrapping uvicorn.Server.handle_exit, which
    # the runtime's DrainingServer overrides without calling it anyway; it still finds the
    # running server through its signal handler to end event streams on shutdown.
    Importer(
        "sse_starlette.sse", ("sse-starlette", "3.7.1"), (Deferred("uvicorn.main", absent=True),)
    ),
)


class _StandIns:
    """One importer's stand-in modules, and putting the real objects in their place."""

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        self.modules: dict[str, types.ModuleType | None] = {}
        # id of each object standing in for a name -> the (module, name) it stands for.
        self.stood_in: dict[int, tuple[str, str]] = {}
        self.exports: dict[str, tuple[str, str]] = {}
        self.real: dict[tuple[str, str], Any] | None = None
        # Placeholders may first be used from several threads at once; and the real
        # modules resolving imports may read an export back from the importer while they
        # load (mcp.client.session_group reads mcp.ClientSession), in this same thread.
        self._lock = threading.RLock()
        self._resolving = False

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
        if entry.whole:
            stand_in: types.ModuleType = _PlaceholderModule(self, entry.module)
            self.stood_in[id(stand_in)] = (entry.module, "")
            return stand_in
        stand_in = types.ModuleType(entry.module, "Stands in until first use.")
        for name in (*entry.names, *entry.exports):
            setattr(stand_in, name, _Placeholder(self, entry.module, name))
        for name in entry.exceptions:
            setattr(stand_in, name, type(name, (Exception,), {"__module__": entry.module}))
        for name in (*entry.names, *entry.exports, *entry.exceptions):
            self.stood_in[id(getattr(stand_in, name))] = (entry.module, name)
        self.exports.update((name, (entry.module, name)) for name in entry.exports)
        return stand_in

    def export_lazily(self, module: types.ModuleType) -> None:
        """Take the exported names out of the importer's namespace; its module `__getattr__`
        resolves them (and the subpackages they come from) on first access."""
        namespace = vars(module)
        for name in self.exports:
            if id(namespace.get(name)) in self.stood_in:
                del namespace[name]
        subpackages = {
            stood_for.removeprefix(f"{module.__name__}.").partition(".")[0]
            for stood_for, stand_in in self.modules.items()
            if stand_in is not None and stood_for.startswith(f"{module.__name__}.")
        }
        earlier = namespace.get("__getattr__")

        def __getattr__(name: str) -> Any:
            # Straight from its module, not only through resolve(): a deferred module may
            # read another's export from the package while resolve() is importing it.
            if name in self.exports:
                source, attribute = self.exports[name]
                value = getattr(importlib.import_module(source), attribute)
            elif name in subpackages:
                value = importlib.import_module(f"{module.__name__}.{name}")
            elif earlier is not None:
                return earlier(name)
            else:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
            self.resolve()
            return namespace.get(name, value)

        if self.exports or subpackages:
            namespace["__getattr__"] = __getattr__
        if shadowed := self.exports.keys() & subpackages:
            module.__class__ = _exports_over_submodules(shadowed)

    def resolve(self) -> dict[tuple[str, str], Any]:
        """Import the real modules, bind their objects where the stand-ins were, and return
        them by (module, name)."""
        with self._lock:
            if self.real is None and not self._resolving:
                self._resolving = True
                try:
                    self.uninstall()
                    sources = [name for name, module in self.modules.items() if module is not None]
                    for source in sources:
                        importlib.import_module(source)
                    self.real = self.bind(sources)
                finally:
                    self._resolving = False
            return self.real or {}

    def bind(self, sources: Collection[str]) -> dict[tuple[str, str], Any]:
        """Put the real objects of `sources`, imported by now, where their stand-ins are in
        the importer, and return them by (module, name)."""
        real = {
            (module, name): getattr(sys.modules[module], name) if name else sys.modules[module]
            for module, name in self.stood_in.values()
            if module in sources
        }
        importer = sys.modules.get(self.importer.module)
        if importer is None:  # its body raised: nothing holds a stand-in
            return real
        namespace = vars(importer)
        with self._lock:
            for key, value in list(namespace.items()):
                if (stood_for := self.stood_in.get(id(value))) in real:
                    namespace[key] = real[stood_for]
            # After the imports: importing `uvicorn.main` binds the submodule as
            # `uvicorn.main`, where the package itself binds the function of that name.
            for name, stood_for in self.exports.items():
                if stood_for in real:
                    namespace[name] = real[stood_for]
        return real


def _exports_over_submodules(names: Collection[str]) -> type[types.ModuleType]:
    """A module class for a package that passes on a name its own submodule also has, as
    `uvicorn` does `main` (the function, from `uvicorn.main`): the import system binds the
    submodule on its package once it is loaded, which the package's later `from ... import`
    used to bind over; here the passed-on name stays."""

    def __setattr__(module: types.ModuleType, name: str, value: object) -> None:
        if name in names and isinstance(value, types.ModuleType) and name in vars(module):
            return
        types.ModuleType.__setattr__(module, name, value)

    return type("module", (types.ModuleType,), {"__setattr__": __setattr__})


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

    def __or__(self, other: object) -> Any:
        return self._real() | other

    def __ror__(self, other: object) -> Any:
        return other | self._real()

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class _PlaceholderModule(types.ModuleType):
    """A module an importer binds whole (`import module`) until an attribute of it is used;
    then the real module's attribute."""

    def __init__(self, stand_ins: _StandIns, name: str) -> None:
        super().__init__(name, "Stands in until first use.")
        self._stand_ins = stand_ins

    def __getattr__(self, name: str) -> Any:
        if name == "_stand_ins":  # while copying, before __init__
            raise AttributeError(name)
        return getattr(self._stand_ins.resolve()[self.__name__, ""], name)


class _DeferringLoader(WrappedLoader):
    """Runs an importer's body with its stand-ins in sys.modules."""

    def __init__(self, loader: importlib.abc.Loader, stand_ins: _StandIns) -> None:
        super().__init__(loader)
        self._stand_ins = stand_ins

    def exec_module(self, module: types.ModuleType) -> None:
        self._stand_ins.install()
        try:
            self._loader.exec_module(module)
        finally:
            self._stand_ins.uninstall()
        self._stand_ins.export_lazily(module)


class _ResolvingLoader(WrappedLoader):
    """Runs a deferred module's body, imported for real by whatever wanted it, then puts
    its objects in place in the importer. Only its own: the import that loads it may be
    partway through loading the others (joserfc's package loads `joserfc.errors` before
    `joserfc.jws` can be)."""

    def __init__(self, loader: importlib.abc.Loader, waiting: list[_StandIns]) -> None:
        super().__init__(loader)
        self._waiting = waiting

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        for stand_ins in self._waiting:
            stand_ins.bind([module.__name__])


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds each importer, and each module deferred for it, as the other finders would,
    with its loader wrapped."""

    def __init__(self, importers: Sequence[Importer]) -> None:
        self._importers = {importer.module: importer for importer in importers}
        # Each module deferred for an importer -> the importers' stand-ins to bind when it
        # is imported for real.
        self._deferred: dict[str, list[_StandIns]] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        importer = self._importers.pop(fullname, None)
        waiting = [
            stand_ins
            for stand_ins in self._deferred.pop(fullname, [])
            if stand_ins.modules.get(fullname) is not None
        ]
        if importer is None and not waiting:
            return None
        spec = spec_from_other_finders(self, fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        if importer is not None:
            stand_ins = _StandIns(importer)
            spec.loader = _DeferringLoader(spec.loader, stand_ins)
            for entry in importer.deferred:
                if not entry.absent:
                    self._deferred.setdefault(entry.module, []).append(stand_ins)
        else:
            spec.loader = _ResolvingLoader(spec.loader, waiting)
        return spec


def defer_unused_imports() -> list[str]:
    """Defer IMPORTERS' imports, for each importer not imported yet and installed at the
    release it was read from; the importers deferred."""
    releases = {importer.release for importer in IMPORTERS}
    installed = {distribution: installed_version(distribution) for distribution, _ in releases}
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

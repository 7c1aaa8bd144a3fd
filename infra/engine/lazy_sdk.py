"""Load the provider SDKs' resource modules one by one, as the program touches them, not a whole package at once.

The generated provider SDKs bind every resource of a package in its `__init__.py` by star-importing each module:
`import pulumiverse_vercel` imports 107 modules, `import pulumi_github` 165, and the first `aws.s3.X` every
module of the s3 service; the plans use a handful of each (measured in docs/offline-engine-speed.md). While the
offline engine runs, such a package (`pulumiverse_vercel`, `pulumi_github`, each `pulumi_aws.<service>`) whose
`__init__.py` has exactly the generated shape runs that file without its star imports, and resolves a missing
attribute through an index of each star-imported module's `__all__`, read from the module's source:
`vercel.Project` imports `pulumiverse_vercel.project` only. The objects are the very ones the eager import binds
(same modules, same `sys.modules` entries), and everything else in the file (the SDK's resource-module
registration, its lazy subpackages) runs as written, so nothing the program or the SDK sees changes.

Anything unexpected falls back to today's eager import: a statement outside the generated shape, a module without
a literal `__all__`, a star-exported name that the rest of the file also binds, or a name no `__all__` lists
(the star imports then run, in their order, before the lookup is answered). The program itself is unchanged:
this is the import system's business, installed by the engine before the program first imports an SDK.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import marshal
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from infra.engine import code_cache

AWS = "pulumi_aws"
TOP_LEVEL = frozenset({"pulumiverse_vercel", "pulumi_github", "pulumi_pagerduty"})
"""Packages loaded lazily as a whole. pulumi_aws's own top level is not: its 19 small modules cost less than
compiling its 350 kB `__init__.py` without its cached bytecode; its services are."""

_ALL = re.compile(r"^__all__ = \[(.*?)\]", re.MULTILINE | re.DOTALL)
_NAME = re.compile(r"'(\w+)'")
_DEFERRED = frozenset({"outputs"})
"""Submodules the generated file imports by name that can wait until used, like the star imports."""


@dataclass(frozen=True)
class LazyInit:
    """A generated `__init__.py` split in two: what runs at once, and the imports that wait for a lookup."""

    rest: CodeType
    """The file without its star imports (and without `from . import outputs`)."""
    eager: CodeType
    """The star imports and deferred submodule imports, in the file's order: run when a name is not indexed."""
    index: dict[str, str]
    """Exported name -> the module whose star import binds it (a later star import wins, as in the file)."""
    modules: tuple[str, ...] = ()
    """The star-imported modules, whose files the index was read from."""


def split_init(source: str, filename: str, directory: Path) -> LazyInit | None:
    """A generated package `__init__.py` split for lazy loading; None if it is anything but the generated shape."""
    tree = ast.parse(source, filename)
    rest: list[ast.stmt] = []
    eager: list[ast.stmt] = []
    modules: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level and node.module and [a.name for a in node.names] == ["*"]:
            if "." in node.module:
                return None
            eager.append(node)
            modules.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level and node.module is None:
            imported = {alias.name for alias in node.names}
            if imported <= _DEFERRED:
                eager.append(node)
            elif imported == {"_utilities"}:
                rest.append(node)
            else:
                return None
        elif _kept(node):
            rest.append(node)
        else:
            return None
    index = _index(modules, directory)
    if index is None or index.keys() & _bound_names(rest):
        return None  # the file rebinds a star-exported name after the star imports: keep its order
    return LazyInit(
        rest=compile(ast.Module(body=rest, type_ignores=[]), filename, "exec"),
        eager=compile(ast.Module(body=eager, type_ignores=[]), filename, "exec"),
        index=index,
        modules=tuple(modules),
    )


KIND = "lazy-packages"
"""The code cache's directory for split `__init__.py` files (one per version of this file)."""


def cached_split(origin: str) -> LazyInit | None:
    """`split_init` of a package's `__init__.py`, kept in the engine's code cache while the file and every module
    its index was read from are as they were (parsing the file and reading ~300 modules' `__all__` took ~15 ms of
    every plan)."""
    directory = Path(origin).parent
    init_stamp = code_cache.stamp([origin])
    if init_stamp is None:
        return None
    entry = code_cache.entry(KIND, __file__, origin)
    kept = _kept_split(code_cache.read(entry, init_stamp), directory)
    if kept is not None:
        return kept
    split = split_init(Path(origin).read_text(encoding="utf-8"), origin, directory)
    if split is not None and code_cache.writable(entry):
        modules_stamp = code_cache.stamp(directory / f"{module}.py" for module in split.modules)
        if modules_stamp is not None:
            content = (modules_stamp, list(split.modules), split.rest, split.eager, split.index)
            code_cache.write(entry, init_stamp, marshal.dumps(content))
    return split


def _kept_split(data: bytes | None, directory: Path) -> LazyInit | None:
    if data is None:
        return None
    try:
        modules_stamp, modules, rest, eager, index = marshal.loads(data)  # noqa: S302 - written by cached_split
    except (EOFError, ValueError, TypeError):  # a torn or foreign entry: split again
        return None
    if not (isinstance(rest, CodeType) and isinstance(eager, CodeType) and isinstance(index, dict)):
        return None
    if code_cache.stamp(directory / f"{module}.py" for module in modules) != modules_stamp:
        return None  # a star-imported module changed: its __all__ may have
    return LazyInit(rest=rest, eager=eager, index=index, modules=tuple(modules))


def _index(modules: Sequence[str], directory: Path) -> dict[str, str] | None:
    """Exported name -> module, later modules winning; None if a module has no literal `__all__`."""
    index: dict[str, str] = {}
    for module in modules:
        try:
            names = _exported_names_of(directory / f"{module}.py")
        except OSError:
            return None
        if names is None:
            return None
        index.update(dict.fromkeys(names, module))
    return index


def _kept(node: ast.stmt) -> bool:
    """The other statements of the generated shape: its two plain imports, the TYPE_CHECKING block of lazy
    subpackages, and the `_utilities.register(...)` call."""
    if isinstance(node, ast.Import):
        return all(alias.name in {"builtins", "typing"} for alias in node.names)
    if isinstance(node, ast.If):
        return ast.unparse(node.test) == "typing.TYPE_CHECKING" and all(
            isinstance(inner, ast.Import | ast.Assign) for inner in [*node.body, *node.orelse]
        )
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return ast.unparse(node.value.func) == "_utilities.register"
    return False


def _bound_names(statements: Sequence[ast.stmt]) -> set[str]:
    bound: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.alias):
                bound.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
    return bound


def exported_names(module_source: str) -> list[str] | None:
    """The names a generated module's literal `__all__` lists; None if it has none."""
    found = _ALL.search(module_source)
    return _NAME.findall(found.group(1)) if found else None


def _exported_names_of(path: Path) -> list[str] | None:
    """`exported_names` of a module file, reading only as far as its `__all__` (near the top; files are large)."""
    with path.open(encoding="utf-8") as file:
        text = ""
        while chunk := file.read(max(4096, len(text))):
            text += chunk
            found = _ALL.search(text)
            if found and found.end() < len(text):
                return _NAME.findall(found.group(1))
    return exported_names(text)


class _LazyPackageLoader(importlib.abc.Loader):
    """Executes a generated package lazily when its `__init__.py` has the generated shape, else as usual."""

    def __init__(self, real: importlib.abc.Loader) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        origin = module.__spec__.origin if module.__spec__ else None
        split = None
        if origin is not None:
            try:
                split = cached_split(origin)
            except (OSError, SyntaxError, ValueError):  # unreadable or undecodable: the SDK's own loader
                split = None
        if split is None:
            self.real.exec_module(module)
            return
        _make_lazy(module, split)
        exec(split.rest, module.__dict__)  # noqa: S102 - the package's own file, less its star imports


def _make_lazy(module: ModuleType, split: LazyInit) -> None:
    name = module.__name__
    eager_done = False
    eager_lock = threading.Lock()  # the SDK resolves resource references from executor threads too

    def __getattr__(attr: str) -> Any:  # noqa: N807 - a module's PEP 562 hook
        nonlocal eager_done
        owner = split.index.get(attr)
        if owner is not None:
            value = getattr(importlib.import_module(f"{name}.{owner}"), attr)
            setattr(module, attr, value)
            return value
        if attr.startswith("__") and attr != "__all__":
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")  # probes, not the program
        if attr in _submodules(module):
            return importlib.import_module(f"{name}.{attr}")
        # Not in any module's __all__: run the star imports (every module, as the eager import would have).
        with eager_lock:
            if not eager_done:
                exec(split.eager, module.__dict__)  # noqa: S102 - the package's own star imports
                eager_done = True
        if attr in module.__dict__:
            return module.__dict__[attr]
        raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    def __dir__() -> list[str]:  # noqa: N807 - a module's PEP 562 hook
        return sorted({*module.__dict__, *split.index})

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]


def _submodules(module: ModuleType) -> set[str]:
    return {path.stem for directory in module.__path__ for path in Path(directory).glob("*.py")}


class LazyPackageFinder(importlib.abc.MetaPathFinder):
    """Finds the generated packages as the path finder does, and gives them the lazy loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,  # noqa: ARG002 - the finder protocol's signature
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, rest = fullname.partition(".")
        if not (fullname in TOP_LEVEL or (package == AWS and rest and "." not in rest)):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not spec.submodule_search_locations:
            return spec
        spec.loader = _LazyPackageLoader(spec.loader)
        return spec


FINDER = LazyPackageFinder()


def install() -> None:
    """Put the finder first on `sys.meta_path` (once); packages already imported stay as they are."""
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)

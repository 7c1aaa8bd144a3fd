"""Load a pulumi_aws service package's resource modules one by one, as the program touches them, not all at once.

`import pulumi_aws as aws` is already lazy per service, but the first `aws.s3.X` runs `pulumi_aws/s3/__init__.py`,
which star-imports every resource module of the service: the plan touches 8 services and so imported 291 modules
to use 24 resource types (measured in docs/offline-engine-speed.md). While the offline engine runs, a service
package whose `__init__.py` is exactly the generated form (nothing but `from .module import *` lines and the fixed
preamble) is loaded as an empty package whose missing attributes resolve through an index of each module's
`__all__`, read from the module's source: `aws.s3.Bucket` imports `pulumi_aws.s3.bucket` only. The objects are the
very classes the eager import binds (same modules, same `sys.modules` entries), so nothing the program or the SDK
sees changes. Anything unexpected (an `__init__.py` line outside the generated form, a module without a literal
`__all__`, a name the index lacks) falls back to running the real `__init__.py`, so the worst case is today's
eager import. The program itself is unchanged: this is the import system's business, installed by the engine.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

PACKAGE = "pulumi_aws"

# The generated service `__init__.py`: this preamble, then star imports, then `from . import outputs`.
_PREAMBLE = re.compile(
    r"^(#.*|import builtins as _builtins|from \.\. import _utilities|import typing|from \. import outputs)?$"
)
_STAR = re.compile(r"^from \.(\w+) import \*$")
_ALL = re.compile(r"^__all__ = \[(.*?)\]", re.MULTILINE | re.DOTALL)
_NAME = re.compile(r"'(\w+)'")


def star_modules(init_source: str) -> list[str] | None:
    """The modules a generated service `__init__.py` star-imports, in order; None if it is anything else."""
    modules = []
    for line in init_source.splitlines():
        star = _STAR.match(line)
        if star:
            modules.append(star.group(1))
        elif not _PREAMBLE.match(line):
            return None
    return modules


def exported_names(module_source: str) -> list[str] | None:
    """The names a generated module's literal `__all__` lists; None if it has none."""
    found = _ALL.search(module_source)
    return _NAME.findall(found.group(1)) if found else None


def _exported_names_of(path: Path) -> list[str] | None:
    """`exported_names` of a module file, reading only as far as its `__all__` (near the top; files are large)."""
    with path.open(encoding="utf-8") as file:
        text = ""
        while chunk := file.read(max(16384, len(text))):
            text += chunk
            found = _ALL.search(text)
            if found and found.end() < len(text):
                return _NAME.findall(found.group(1))
    return exported_names(text)


class _ServiceLoader(importlib.abc.Loader):
    """Executes a service package lazily when its `__init__.py` is the generated form, else as usual."""

    def __init__(self, real: importlib.abc.Loader) -> None:
        self.real = real

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        index = _index(module)
        if index is None:
            self.real.exec_module(module)
            return
        name = module.__name__
        # What the generated preamble binds, so the package's own namespace looks the same.
        module.__dict__.update(
            _builtins=importlib.import_module("builtins"),
            _utilities=importlib.import_module(f"{PACKAGE}._utilities"),
            typing=importlib.import_module("typing"),
        )

        def __getattr__(attr: str) -> Any:  # noqa: N807 - a module's PEP 562 hook
            owner = index.get(attr)
            if owner is not None:
                value = getattr(importlib.import_module(f"{name}.{owner}"), attr)
                setattr(module, attr, value)
                return value
            if attr.startswith("__") and attr != "__all__":
                raise AttributeError(f"module {name!r} has no attribute {attr!r}")  # probes, not the program
            if attr in _submodules(module):
                return importlib.import_module(f"{name}.{attr}")
            # Not in any module's __all__: run the real __init__.py (every module, as an eager import would).
            if not module.__dict__.get("_eager"):
                module._eager = True  # type: ignore[attr-defined]
                self.real.exec_module(module)
                if attr in module.__dict__:
                    return module.__dict__[attr]
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")

        def __dir__() -> list[str]:  # noqa: N807 - a module's PEP 562 hook
            return sorted({*module.__dict__, *index})

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__dir__ = __dir__  # type: ignore[method-assign]


def _submodules(module: ModuleType) -> set[str]:
    return {path.stem for directory in module.__path__ for path in Path(directory).glob("*.py")}


def _index(module: ModuleType) -> dict[str, str] | None:
    """Exported name -> module for a generated service package; None if anything is outside the generated form."""
    spec = module.__spec__
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return None
    directory = Path(spec.origin).parent
    try:
        modules = star_modules(Path(spec.origin).read_text(encoding="utf-8"))
        if modules is None:
            return None
        index: dict[str, str] = {}
        for submodule in modules:  # later star imports win, as in the eager import
            names = _exported_names_of(directory / f"{submodule}.py")
            if names is None:
                return None
            index.update(dict.fromkeys(names, submodule))
    except OSError:
        return None
    return index


class ServiceFinder(importlib.abc.MetaPathFinder):
    """Finds `pulumi_aws.<service>` packages as the path finder does, and gives them the lazy loader."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,  # noqa: ARG002 - the finder protocol's signature
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, service = fullname.partition(".")
        if package != PACKAGE or not service or "." in service:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not spec.submodule_search_locations:
            return spec
        spec.loader = _ServiceLoader(spec.loader)
        return spec


FINDER = ServiceFinder()


def install() -> None:
    """Put the finder first on `sys.meta_path` (once); services already imported stay as they are."""
    if FINDER not in sys.meta_path:
        sys.meta_path.insert(0, FINDER)

"""Folders are layers and imports point down only: the policy pack never loads the offline tool, the engine never
loads a renderer or a verb."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from settings.stacks import PROJECT_DIR

# Each package, and the packages below it that it may import (besides itself and the standard library).
LAYERS: dict[str, set[str]] = {
    "settings": set(),
    "components": {"settings"},
    "__main__": {"settings", "components"},
    "policy": {"settings"},
    "ops": {"settings"},
    "infra.engine": {"settings", "policy"},
    "infra.plans": {"settings", "policy", "infra.engine"},
    "infra.diffs": {"settings", "policy", "infra.engine", "infra.plans"},
    "infra.config": {"settings"},
    "infra.cli": {"settings", "policy", "infra.engine", "infra.plans", "infra.diffs", "infra.config"},
}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (the longest matching package)."""
    matches = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    return max(matches, key=len, default=None)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file, including those inside functions."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from infra import cli` names the layer in the alias; `from infra.cli.exits import X` in the module.
            names = [f"{node.module}.{alias.name}" for alias in node.names] if node.module == "infra" else [node.module]
            found += [(node.lineno, name) for name in names]
    return found


SOURCES = sorted(
    [
        *(
            path
            for top in ("settings", "components", "policy", "ops", "infra")
            for path in (PROJECT_DIR / top).rglob("*.py")
            if layer_of(".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts))
        ),
        PROJECT_DIR / "__main__.py",
    ]
)


def test_every_layer_has_sources() -> None:
    layers = {layer_of(".".join(p.relative_to(PROJECT_DIR).with_suffix("").parts)) for p in SOURCES}
    assert layers == set(LAYERS), f"layers without a source file: {sorted(set(LAYERS) - layers)}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_imports_point_down(path: Path) -> None:
    module = ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts)
    layer = layer_of(module)
    assert layer is not None
    upward = []
    for line, name in imports_of(path):
        top = name.split(".")[0]
        target = layer_of(name)
        if target is None:
            # Outside every layer: the tests, `python -m infra` itself, or a bare `import infra`.
            if top in {"infra", "components", "ops", "tests", "__main__"} or name.startswith("infra.__main__"):
                upward.append(f"{module}:{line} imports {name}")
        elif target != layer and target not in LAYERS[layer]:
            upward.append(f"{module}:{line} imports {name} ({target} is not below {layer})")
    assert not upward, "imports that do not point down:\n" + "\n".join(upward)

"""The engine's per-module loading of the provider SDKs binds exactly what the eager import binds."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.engine import code_cache, lazy_sdk
from settings.stacks import PROJECT_DIR

AWS_SERVICES = ("acm", "cloudfront", "cloudwatch", "iam", "kms", "route53", "s3", "sns")
"""The pulumi_aws services the program uses."""
PACKAGES = (*sorted(lazy_sdk.TOP_LEVEL), *(f"pulumi_aws.{service}" for service in AWS_SERVICES))


def _fresh(probe: str) -> object:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def _split(package: str) -> lazy_sdk.LazyInit | None:
    spec = importlib.util.find_spec(package)
    assert spec is not None, f"{package} is not installed"
    assert spec.origin is not None
    origin = Path(spec.origin)
    return lazy_sdk.split_init(origin.read_text(encoding="utf-8"), str(origin), origin.parent)


def test_the_index_names_the_module_the_eager_import_takes_each_name_from() -> None:
    # Eagerly, in a fresh interpreter without the engine's finder: where each public name really comes from.
    probe = (
        "import importlib, json\n"
        f"out = {{}}\nfor p in {PACKAGES!r}:\n"
        "    m = importlib.import_module(p)\n"
        "    m._utilities  # the SDK's own lazy service modules load on first attribute access\n"
        "    out[p] = {n: getattr(v, '__module__', None) for n, v in vars(m).items()\n"
        "              if not n.startswith('_') and not isinstance(v, type(m)) and n != 'typing'}\n"
        "print(json.dumps(out))"
    )
    eager = _fresh(probe)
    assert isinstance(eager, dict)
    for package in PACKAGES:
        split = _split(package)
        assert split is not None, f"{package}'s __init__.py no longer has the generated shape"
        lazy = {name: f"{package}.{owner}" for name, owner in split.index.items()}
        assert lazy == eager[package], f"{package}: the index and the eager import disagree"


def test_a_plan_loads_only_the_sdk_modules_it_uses_and_an_unknown_name_loads_them_all() -> None:
    probe = (
        "import json, sys\nfrom infra.engine.runtime import plan_stack\n"
        "import pulumi_aws as aws, pulumiverse_vercel as v\n"
        "plan_stack('production')\nloaded = lambda p: sorted(m for m in sys.modules if m.startswith(p))\n"
        "planned = loaded('pulumi_aws.s3.'), loaded('pulumiverse_vercel.')\n"
        "for package in (aws.s3, v):\n    try:\n        package.NoSuchThing\n    except AttributeError:\n        pass\n"
        "print(json.dumps([planned, (loaded('pulumi_aws.s3.'), loaded('pulumiverse_vercel.'))]))"
    )
    loaded = _fresh(probe)
    assert isinstance(loaded, list)
    (s3, vercel), (s3_after, vercel_after) = loaded
    assert "pulumi_aws.s3.bucket" in s3, "the probe did not see the plan's buckets"
    assert "pulumi_aws.s3.access_point" not in s3, f"the whole s3 service was imported: {len(s3)} modules"
    assert "pulumiverse_vercel.project" in vercel, "the probe did not see the plan's Vercel project"
    assert "pulumiverse_vercel.webhook" not in vercel, f"all of pulumiverse_vercel was imported: {len(vercel)}"
    # A name no module's __all__ lists: the star imports run, as the eager import would have run them.
    assert "pulumi_aws.s3.access_point" in s3_after, "an unknown name did not import the whole s3 service"
    assert "pulumiverse_vercel.webhook" in vercel_after, "an unknown name did not import all of pulumiverse_vercel"


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ("register_something()", "a call the generated shape does not have"),
        ("from .project import Project", "an import of one name instead of a star import"),
        ("config = 1", "a star-exported or package name rebound after the star imports"),
    ],
)
def test_an_init_outside_the_generated_shape_loads_eagerly(extra: str, why: str) -> None:
    spec = importlib.util.find_spec("pulumiverse_vercel")
    assert spec is not None
    assert spec.origin is not None
    origin = Path(spec.origin)
    generated = origin.read_text(encoding="utf-8")
    assert lazy_sdk.split_init(generated, str(origin), origin.parent) is not None, "the real file is not recognised"
    assert lazy_sdk.split_init(f"{generated}\n{extra}\n", str(origin), origin.parent) is None, why


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("pulumi_aws.sns", "Topic"),
        ("pulumi_aws.sns", "get_topic"),
        ("pulumi_aws.s3", "outputs"),
        ("pulumi_github", "Repository"),
    ],
)
def test_lazy_names_are_objects_of_their_own_package(package: str, name: str) -> None:
    value = getattr(importlib.import_module(package), name)
    home = value.__name__ if name == "outputs" else value.__module__
    assert home.startswith(f"{package}."), f"{package}.{name} comes from {home}"


def test_a_split_package_is_kept_until_its_file_or_a_star_imported_module_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_cache, "root", lambda: tmp_path / "cache")
    monkeypatch.setattr(code_cache, "_unwritable", False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    package = tmp_path / "generated"
    package.mkdir()
    init = package / "__init__.py"
    init.write_text("import builtins\nfrom .alpha import *\nfrom .beta import *\n", encoding="utf-8")
    (package / "alpha.py").write_text("__all__ = ['Alpha']\n", encoding="utf-8")
    beta = package / "beta.py"
    beta.write_text("__all__ = ['Beta']\n", encoding="utf-8")

    first = lazy_sdk.cached_split(str(init))
    assert first is not None, "the generated shape was not recognised"
    assert first.index == {"Alpha": "alpha", "Beta": "beta"}
    assert code_cache.entry(lazy_sdk.KIND, lazy_sdk.__file__, str(init)).is_file(), "the split was not kept"

    def no_splitting(*_: object) -> None:
        raise AssertionError("split again although nothing changed")

    with monkeypatch.context() as kept:
        kept.setattr(lazy_sdk, "split_init", no_splitting)
        again = lazy_sdk.cached_split(str(init))
    assert again is not None, "the kept split was not used"
    assert (again.index, again.modules) == (first.index, first.modules)
    namespace: dict[str, object] = {"__name__": "generated", "__package__": "generated"}
    exec(again.rest, namespace)  # noqa: S102 - the kept code of the test's own package file
    assert "builtins" in namespace, "the kept code is not the file's"

    beta.write_text("__all__ = ['Beta', 'Gamma']\n", encoding="utf-8")  # a star-imported module changes
    changed = lazy_sdk.cached_split(str(init))
    assert changed is not None
    assert changed.index == {"Alpha": "alpha", "Beta": "beta", "Gamma": "beta"}, "a stale index was used"


def test_each_version_of_an_engine_file_keeps_its_entries_apart(tmp_path: Path) -> None:
    source = str(tmp_path / "module.py")
    engines = {name: tmp_path / name / "engine.py" for name in ("working", "base", "edited")}
    for name, path in engines.items():
        path.parent.mkdir()
        path.write_text("# the engine\n" if name != "edited" else "# the engine, edited\n", encoding="utf-8")
    working, base, edited = (code_cache.entry("kind", str(path), source) for path in engines.values())
    assert working == base, "the same engine checked out elsewhere (diff's base revision) keeps other entries"
    assert working != edited, "an edited engine would read entries an older version of it wrote"

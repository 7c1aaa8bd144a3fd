"""The engine's per-module loading of pulumi_aws services binds exactly what the eager import binds."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pulumi_aws
import pytest

from infra import lazy_sdk
from infra.engine import PROJECT_DIR

AWS_DIR = Path(pulumi_aws.__file__).parent
SERVICES = ("acm", "cloudfront", "cloudwatch", "iam", "kms", "route53", "s3", "sns")
"""The services the program uses (an eager import of each is compared with the index)."""


def _fresh(probe: str) -> object:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_index_names_the_module_the_eager_import_takes_each_name_from() -> None:
    # Eagerly, without the engine's finder: where each public name of each used service really comes from.
    probe = (
        "import importlib, json\n"
        f"out = {{}}\nfor s in {SERVICES!r}:\n"
        "    m = importlib.import_module('pulumi_aws.' + s)\n"
        "    m._utilities  # the SDK's own lazy module loads on first attribute access\n"
        "    out[s] = {n: getattr(v, '__module__', None) for n, v in vars(m).items()\n"
        "              if not n.startswith('_') and not isinstance(v, type(m)) and n != 'typing'}\n"
        "print(json.dumps(out))"
    )
    eager = _fresh(probe)
    assert isinstance(eager, dict)
    for service in SERVICES:
        module = type(pulumi_aws)(f"pulumi_aws.{service}")
        module.__spec__ = importlib.util.find_spec(f"pulumi_aws.{service}")
        index = lazy_sdk._index(module)
        assert index is not None, f"pulumi_aws.{service}'s __init__.py is no longer the generated form"
        lazy = {name: f"pulumi_aws.{service}.{owner}" for name, owner in index.items()}
        assert lazy == eager[service], f"pulumi_aws.{service}: the index and the eager import disagree"


def test_a_plan_loads_only_the_aws_modules_it_uses_and_an_unknown_name_loads_them_all() -> None:
    probe = (
        "import json, sys\nfrom infra.engine import plan_stack\nimport pulumi_aws as aws\nplan_stack('production')\n"
        "s3 = lambda: sorted(m for m in sys.modules if m.startswith('pulumi_aws.s3.'))\nplanned = s3()\n"
        "try:\n    aws.s3.NoSuchThing\nexcept AttributeError:\n    pass\n"
        "print(json.dumps([planned, s3()]))"
    )
    loaded = _fresh(probe)
    assert isinstance(loaded, list)
    planned, after_unknown_name = loaded
    assert "pulumi_aws.s3.bucket" in planned, "the probe did not see the plan's buckets"
    assert "pulumi_aws.s3.access_point" not in planned, f"the whole s3 service was imported: {len(planned)} modules"
    # A name no module's __all__ lists: the real __init__.py runs, as an eager import would have.
    assert "pulumi_aws.s3.access_point" in after_unknown_name, "an unknown name did not run the real __init__.py"


def test_a_service_init_outside_the_generated_form_loads_eagerly() -> None:
    generated = (AWS_DIR / "s3" / "__init__.py").read_text(encoding="utf-8")
    assert lazy_sdk.star_modules(generated), "the generated s3 __init__.py is not recognised"
    changed = generated + "\nregister_something()\n"
    assert lazy_sdk.star_modules(changed) is None, "an extra statement must make the engine import eagerly"


@pytest.mark.parametrize(
    ("service", "name"), [("sns", "Topic"), ("sns", "TopicArgs"), ("sns", "get_topic"), ("s3", "outputs")]
)
def test_lazy_names_are_objects_of_their_own_service(service: str, name: str) -> None:
    value = getattr(getattr(pulumi_aws, service), name)
    home = value.__name__ if name == "outputs" else value.__module__
    assert home.startswith(f"pulumi_aws.{service}."), f"aws.{service}.{name} comes from {home}"

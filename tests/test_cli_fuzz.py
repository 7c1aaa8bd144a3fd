"""Property: whatever a stack file or env file holds, every verb exits 0, 1 or 2, never with a traceback, never
showing a secret, and prints the same bytes when run again.

Stack files are the committed ones, mutated: a key given twice, a value of the wrong type or of a YAML type no
config value has (a date, !!binary, !!set), a huge value, bytes that are not UTF-8, a typo in a key, an alias
bomb, with canaries in secret slots (as Pulumi ciphertext, as plaintext wrapped in `secure:` by hand, wrongly in
plaintext, provider credentials) and a credential-shaped CI variable. Each example has at least one mutation
beyond its canaries: the files that stay valid all take the same path, walked once with every secret slot holding
a canary in tests/test_cli_verbs.py.
Verbs run in-process; `diff` plans both sides in-process too (tests/helpers/cli.py).
"""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settings.config_keys import provider_secret_keys
from settings.env_schema import ENV_KEYS
from settings.secrets import SecretSettings
from settings.stacks import STACKS
from tests.helpers.cli import Run, copy_stacks, diff_in_process, run_verb
from tests.helpers.stacks import ciphertext, committed_document

CANARY = "canary-sk-7d3f9a21b6"
SECRET_NAMES = tuple(str(field.alias or name) for name, field in SecretSettings.model_fields.items())
WRONG_VALUES = st.sampled_from([0, -1, 10**20, 1.5, True, None, "", "x", [], {}, [1, "a"], {"k": "v"}, "1e20"])
# What YAML can hold and a config value cannot (dumped as an unquoted date, !!timestamp, !!binary and !!set).
YAML_ONLY_VALUES = st.sampled_from(
    [datetime.date(2026, 1, 15), datetime.datetime(2026, 1, 15, 9, 30), CANARY.encode(), {1, 2}, {"k": {3}}]
)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the gate runs the same examples every time; new ones are a local `--hypothesis-seed`
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


def _documents() -> dict[str, dict[str, Any]]:
    return {stack: committed_document(stack) for stack in STACKS}


DOCUMENTS = _documents()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a parsed YAML document."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


@st.composite
def stack_files(draw: st.DrawFn) -> tuple[str, bytes]:  # noqa: PLR0912 - one branch per kind of mutation
    """One stack's file, mutated a few times at the document level and then possibly at the byte level."""
    stack = draw(st.sampled_from(STACKS))
    document = copy.deepcopy(DOCUMENTS[stack])
    config = document["config"]
    # Canaries in secret slots keep the file valid; the breaking mutations below then test the error paths (a
    # mutation can still leave the file valid, e.g. an optional section dropped: then the verbs plan it).
    secret_kinds = st.sampled_from(
        ["ciphertext", "canary", "provider-canary", "provider-canary", "plain-canary", "variable-credential"]
    )
    secrets = draw(st.lists(secret_kinds, min_size=1, max_size=3))
    # Every example mutates the file beyond its canaries, in the document or in its bytes. A file left valid takes
    # every verb down one path, which tests/test_cli_verbs.py walks with a canary in every secret slot at once.
    byte_kind = draw(
        st.one_of(st.just("none"), st.sampled_from(["duplicate", "latin1", "truncate", "alias-bomb", "canary-line"]))
    )
    breaking_kinds = st.sampled_from(["wrong", "yaml-only", "huge", "typo", "drop", "top"])
    breaking = draw(st.lists(breaking_kinds, min_size=1 if byte_kind == "none" else 0, max_size=2))
    for kind in [*secrets, *breaking]:
        paths = [p for p in _paths(config) if p]
        if kind == "wrong":
            _set(config, draw(st.sampled_from(paths)), draw(WRONG_VALUES))
        elif kind == "yaml-only":
            _set(config, draw(st.sampled_from(paths)), draw(YAML_ONLY_VALUES))
        elif kind == "huge":
            _set(config, draw(st.sampled_from(paths)), draw(st.sampled_from(["a" * 200_000, 10**400, [0] * 5000])))
        elif kind == "ciphertext":  # encrypted as the CLI writes it: the ciphertext is not shown either
            name = draw(st.sampled_from(SECRET_NAMES))
            secure = ciphertext(f"{CANARY}-{name}", service=draw(st.booleans()))
            config.setdefault("vibelog:secrets", {})[name] = {"secure": secure}
        elif kind == "canary":  # plaintext wrapped in `secure:` by hand: refused, and still not shown
            name = draw(st.sampled_from(SECRET_NAMES))
            config.setdefault("vibelog:secrets", {})[name] = {"secure": f"{CANARY}-{name}"}
        elif kind == "plain-canary":  # a secret committed in plaintext: refused, and still not shown
            config.setdefault("vibelog:secrets", {})[draw(st.sampled_from(SECRET_NAMES))] = CANARY
        elif kind == "variable-credential" and isinstance(config.get("vibelog:ci"), dict):
            # Shaped like a credential: named by the pack's rule, and a secret to Pulumi, so never shown.
            config["vibelog:ci"].setdefault("variables", {})["LEAKED"] = f"{CANARY} AKIAIOSFODNN7EXAMPLE"
        elif kind == "provider-canary":
            config[draw(st.sampled_from(sorted(provider_secret_keys())))] = CANARY
        elif kind == "typo":
            key = draw(st.sampled_from(sorted(config)))
            cut = draw(st.integers(0, len(key) - 1))
            config[key[:cut] + key[cut + 1 :]] = config.pop(key)
        elif kind == "drop":
            config.pop(draw(st.sampled_from(sorted(config))))
        else:
            document[draw(st.sampled_from(["confg", "Config", "secretsprovider", "environment"]))] = {"x": 1}
    text = yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True).encode()
    if byte_kind == "duplicate":  # a second block of one key, appended
        key = draw(st.sampled_from(sorted(config)))
        text += yaml.dump({"config": {key: config[key]}}, Dumper=yaml.CSafeDumper).replace("config:\n", "").encode()
    elif byte_kind == "latin1":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + b"\xe9\xff" + text[at:]
    elif byte_kind == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif byte_kind == "alias-bomb":
        text += b"  bomb: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"  b{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n".encode() for i in range(1, 9)
        )
    elif byte_kind == "canary-line":  # a YAML syntax error on a line holding a secret
        text += f"  aws:secretKey: {{{CANARY}: [\n".encode()
    return stack, text


def _check(argv: list[str], runner: Any) -> Run:
    first: Run = runner(argv)
    assert first.code in {0, 1, 2}, f"{argv}: exit {first.code}\n{first.err}"
    for stream in (first.out, first.err):
        assert "Traceback" not in stream, f"{argv}:\n{stream}"
        assert CANARY not in stream, f"{argv} shows a secret:\n{stream}"
    second: Run = runner(argv)
    assert (second.code, second.out, second.err) == (first.code, first.out, first.err), f"{argv} differs run to run"
    return first


@FUZZ
@given(stack_files(), st.sampled_from([[], ["--markdown"], ["--json"]]))
def test_every_verb_on_a_mutated_stack_file(tmp_path_factory: Any, case: tuple[str, bytes], output: list[str]) -> None:
    stack, content = case
    base_dir = copy_stacks(tmp_path_factory.mktemp("base"))
    head_dir = copy_stacks(tmp_path_factory.mktemp("head"))
    (head_dir / f"Pulumi.{stack}.yaml").write_bytes(content)
    other = next(name for name in STACKS if name != stack)

    def in_head(argv: list[str]) -> Run:
        return run_verb(argv, head_dir)

    _check(["plan", "--stack", stack], in_head)
    _check(["plan", "--json", "--stack", stack], in_head)
    _check(["graph", "--stack", stack, *(output if output == ["--markdown"] else [])], in_head)
    _check(["compare", other, stack, *output], in_head)
    with diff_in_process(head_dir, base_dir):
        _check(["diff", "--base", "HEAD", "--stack", stack, *output], in_head)


@st.composite
def env_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """An env file (dotenv or JSON) with canaries as the values, mutated."""
    keys = draw(st.lists(st.sampled_from(ENV_KEYS), max_size=len(ENV_KEYS), unique=True))
    env: dict[str, Any] = {key: draw(st.sampled_from([CANARY, f"sk-{CANARY}", f"https://{CANARY}.io"])) for key in keys}
    as_json, twice = draw(st.booleans()), draw(st.booleans())
    if as_json:
        for key in draw(st.lists(st.sampled_from(keys), max_size=3)) if keys else []:
            env[key] = draw(WRONG_VALUES)
        text = json.dumps(env).encode()
        if keys and twice:
            text = text[:-1] + f', "{keys[0]}": "{CANARY}"}}'.encode()  # a key twice
    else:
        lines = [f'{key}="{value}"' for key, value in env.items()]
        if keys and twice:
            lines.append(f"{keys[0]}={CANARY}")  # a key twice
        if draw(st.booleans()):
            lines.insert(0, f'BROKEN "{CANARY}')
        text = "\n".join(lines).encode()
    tail = draw(st.sampled_from([b"", b"\n\xe9\xff", b"X=" + b"a" * (1024 * 1024)]))
    return (".json" if as_json else ".env"), text + tail


@FUZZ
@given(st.lists(env_files(), min_size=1, max_size=3), st.booleans(), st.booleans())
def test_check_env_on_mutated_env_files(
    tmp_path_factory: Any, files: list[tuple[str, bytes]], as_json: bool, missing: bool
) -> None:
    directory = tmp_path_factory.mktemp("env")
    names = []
    for index, (suffix, content) in enumerate(files):
        path = directory / f"f{index}{suffix}"
        path.write_bytes(content)
        names.append(str(path))
    if missing:
        names.insert(0, str(directory / "missing.env"))
    stdin = files[0][1]
    argv = ["check-env", *names, "-", *(["--json"] if as_json else [])]
    run = _check(argv, lambda args: run_verb(args, stdin=stdin))
    if as_json:
        assert len(json.loads(run.out)) == len(names) + 1, "a verdict for every file"

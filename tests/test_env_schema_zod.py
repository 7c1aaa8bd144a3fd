"""Conformance of settings.env_schema with the real zod (v3 and v4 APIs of zod 4.6.7) on boundary cases."""

import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from settings.env_schema import ENV_KEYS, validate_app_env
from tests.helpers.ci import missing

ZOD_DIR = Path(__file__).parent / "zod"
INSTALL = "npm ci --prefix tests/zod"
URL_KEYS = frozenset(
    {"NEXT_PUBLIC_APP_URL", "DATABASE_URL", "DIRECT_URL", "NEXTAUTH_URL", "SUPABASE_URL", "SENTRY_DSN"}
)

VALID_ENV: dict[str, str] = {
    "NODE_ENV": "production",
    "NEXT_PUBLIC_APP_URL": "https://vibelog.app",
    "DATABASE_URL": "postgresql://postgres.ref:pw@aws-0-us-east-1.pooler.supabase.com:6543/postgres",
    "DIRECT_URL": "postgresql://postgres:pw@db.ref.supabase.co:5432/postgres",
    "NEXTAUTH_SECRET": "0123456789abcdef0123456789abcdef",
    "NEXTAUTH_URL": "https://vibelog.app",
    "OPENAI_API_KEY": "sk-test",
    "SUPABASE_URL": "https://ref.supabase.co",
    "SUPABASE_ANON_KEY": "anon",
    "SUPABASE_SERVICE_ROLE_KEY": "service",
}

URLS = [
    "",
    " ",
    "https://vibelog.app",
    " https://vibelog.app ",
    "\thttps://vibelog.app\n",
    "https://vibe\nlog.app",
    "\x00https://vibelog.app\x1f",
    "\u00a0https://vibelog.app",
    "https://vibelog.app\u00a0",
    "\ufeffhttps://vibelog.app",
    "https://vibelog.app\u2028",
    "\u3000https://vibelog.app\u3000",
    "\x1chttps://vibelog.app",
    "https://vibelog.app/\u00a0",
    "localhost:3000",
    "localhost",
    "127.0.0.1:3000",
    "my_host:3000",
    "a:",
    "javascript:alert(1)",
    "mailto:ops@vibelog.app",
    "http:foo",
    "http:/foo",
    "https:\\\\foo",
    "http:",
    "http:/",
    "https://",
    "https:///",
    "https://?q",
    "https://#f",
    "https://@host",
    "https://user@",
    "https://user:pw@",
    "https://user:p@ss@host/",
    "https://:80",
    "https://host:",
    "https://host:/path",
    "https://host:0",
    "https://host:0080",
    "https://host:65535",
    "https://host:65536",
    "https://host:99999999999999999999999",
    "https://host:8a",
    "https://host:-1",
    "https://host: 80",
    "https://ho st",
    "https://ho%20st",
    "https://ho%41st",
    "https://ho%zzst",
    "https://host%",
    "https://ho<st",
    "https://ho^st",
    "https://ho|st",
    "https://ho_st",
    "https://ho!$&'()*+,;=st",
    "https://ho~st",
    "https://ho\x7fst",
    "https://a..b",
    "https://.",
    "https://..",
    "https://host.",
    "https://1.2.3.4",
    "https://1.2.3.4.",
    "https://1.2.3.4.5",
    "https://1.2.3.256",
    "https://256.1.1.1",
    "https://0x7f.1",
    "https://0x",
    "https://0x.0x.0",
    "https://4294967295",
    "https://4294967296",
    "https://foo.09",
    "https://foo.0x",
    "https://foo.0xg",
    "https://09.foo",
    "https://1.2.3.09",
    "https://[::1]",
    "https://[::1]:8080/x",
    "https://[::1",
    "https://[::1]x",
    "https://[1:2:3:4:5:6:7:8]",
    "https://[1:2:3:4:5:6:7:8:9]",
    "https://[1:2:3:4:5:6:7]",
    "https://[::ffff:1.2.3.4]",
    "https://[::ffff:1.2.3.04]",
    "https://[::ffff:1.2.3]",
    "https://[::1%eth0]",
    "https://[12345::]",
    "https://[:1]",
    "https://[]",
    "https://bücher.de",
    "https://BÜCHER.de",
    "https://xn--bcher-kva.de",
    "https://xn--zz",
    "https://xn--",
    "https://xn--abc",
    "https://xn--a-",
    "https://xn--ab-.xn--xn--",
    "https://xn--a_-",
    "https://xn--A-",
    "https://xn---",
    "https://xn--tda",
    "https://xn--xn--tda",
    "https://xn--BCHER-KVA.de",
    "https://xn--zca.de",
    "https://%C3%BC.de",
    "https://%C3%A1.de",
    "https://%E2%98%83.net",
    "https://e%CC%81.de",
    "https://例え.jp",
    "https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",
    "https://example\u3002com",
    "https://ex\uff0fample.com",
    "https://\u2460.\u2461.\u2462.\u2463",
    "https://exa\u00admple.com",
    "https://exa\u200bmple.com",
    "https://%C3%BC.de",
    "https://%ff.de",
    "https://\ud800.de",
    "https://vibelog.app/\ud800",
    "https://\u017f.de",
    "https://a\u0301.de",
    "https://\u0301a.de",
    "HTTPS://VIBELOG.APP",
    "ws://host",
    "wss://",
    "ftp://host:21",
    "file:",
    "file:///etc/passwd",
    "file://host/x",
    "file://ho st/x",
    "file://C:/x",
    "file://localhost/",
    "file://host:80/",
    "postgresql://user:pass@host:5432/db",
    "postgresql://user:p%40ss@host:5432/db?sslmode=require",
    "postgresql://",
    "postgresql:///db",
    "postgresql://user@/db",
    "postgresql://:5432/db",
    "postgresql://host:port/db",
    "postgresql://host:65536/db",
    "postgresql://ho st/db",
    "postgresql://ho^st/db",
    "postgresql://ho\\st/db",
    "postgresql://[::1]:5432/db",
    "postgresql://[::1/db",
    "postgresql://bücher/db",
    "postgres:user:pass@host/db",
    "1postgres://host",
    "post gres://host",
    "pg+ssl.x-y://host",
    # Internationalised hosts in ASCII form: punycode and percent-encoded UTF-8, which the host parser maps
    # through UTS #46 (valid, invalid and disallowed labels, upper case, inside special and opaque hosts).
    "https://xn--bcher-kva.de",
    "https://XN--BCHER-KVA.DE/path",
    "https://xn--nxasmq6b.com",
    "https://xn--ls8h.la",
    "https://xn--fa-hia.de",
    "https://xn--.de",
    "https://xn--a.de",
    "https://xn--zz.de",
    "https://xn--bcher-kva.xn--tckwe",
    "https://%C3%BC.de",
    "https://%E2%82%AC.de",
    "https://%C3%9F.de",
    "https://%EF%BC%A1.de",
    "https://%E2%80%8D.de",
    "postgresql://xn--bcher-kva/db",
    "postgresql://%C3%BC/db",
    "postgresql://xn--zz/db",
    "file://xn--zz/x",
    "wss://xn--bcher-kva.de",
]

SECRETS = [
    "",
    "a" * 31,
    "a" * 32,
    " " * 32,
    "é" * 31,
    "é" * 32,
    "😀" * 15 + "a",
    "😀" * 16,
    "😀" * 31,
    "😀" * 32,
    "a" * 31 + "😀",
    "\ud83d" * 32,
    "a" * 30 + "\ud83d\ude00",
]

OPENAI_KEYS = ["", "sk-", "sk-proj-abc", "SK-abc", " sk-abc", "sk_abc", "sk", "\uff53k-abc"]
NODE_ENVS = [
    "development",
    "staging",
    "production",
    "Production",
    "PRODUCTION",
    "production ",
    "prod",
    "",
    "test",
]


def _cases() -> Iterator[tuple[str, dict[str, str]]]:
    yield "the valid env", dict(VALID_ENV)
    yield "an empty env", {}
    yield "extra keys", {**VALID_ENV, "UNKNOWN": "", "NODE_ENV_": "x", "node_env": "x"}
    yield (
        "all optional keys empty",
        {
            **VALID_ENV,
            **dict.fromkeys(("ANTHROPIC_API_KEY", "POSTHOG_KEY", "RESEND_API_KEY", "STRIPE_SECRET_KEY"), ""),
        },
    )
    for key in VALID_ENV:
        yield f"without {key}", {k: v for k, v in VALID_ENV.items() if k != key}
    for key in ("SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY"):
        yield f"{key} empty", {**VALID_ENV, key: ""}
    for url in URLS:
        yield f"NEXT_PUBLIC_APP_URL={url!r}", {**VALID_ENV, "NEXT_PUBLIC_APP_URL": url}
    for url in ("", " ", "https://o1.ingest.sentry.io/1", "localhost:3000", "https://"):
        yield f"SENTRY_DSN={url!r}", {**VALID_ENV, "SENTRY_DSN": url}
    for secret in SECRETS:
        yield f"NEXTAUTH_SECRET={secret!r}", {**VALID_ENV, "NEXTAUTH_SECRET": secret}
    for api_key in OPENAI_KEYS:
        yield f"OPENAI_API_KEY={api_key!r}", {**VALID_ENV, "OPENAI_API_KEY": api_key}
    for node_env in NODE_ENVS:
        yield f"NODE_ENV={node_env!r}", {**VALID_ENV, "NODE_ENV": node_env}
    rng = random.Random(20240601)  # noqa: S311 - a fixed corpus, not a secret
    for url in _random_urls(rng, 1500):
        yield f"random URL {url!r}", {**VALID_ENV, "DATABASE_URL": url}


_SCHEMES = ["http", "https", "HTTP", "ws", "file", "ftp", "postgresql", "localhost", "a", "x-y", "1a", ""]
_SEPARATORS = [":", "://", ":/", ":\\\\", ":///", "", "//"]
_HOST_PARTS = [
    "host",
    "a",
    "1",
    "0x1",
    "09",
    "255",
    "256",
    "",
    ".",
    "..",
    "[::1]",
    "[",
    "]",
    "ü",
    "xn--",
    "%41",
]
_HOST_PARTS += [
    "%",
    " ",
    "_",
    "^",
    "|",
    "@",
    "u@",
    ":",
    ":80",
    ":0",
    ":65536",
    ":x",
    "\t",
    "\u00a0",
    "😀",
    "-",
]
_TAILS = ["", "/", "/path", "?q=1", "#f", "\\x", " ", "/ "]


def _random_urls(rng: random.Random, count: int) -> list[str]:
    """Fixed-seed strings built from the fragments where URL parsers usually disagree."""
    urls = []
    for _ in range(count):
        host = "".join(rng.choice(_HOST_PARTS) for _ in range(rng.randint(0, 4)))
        urls.append(rng.choice(_SCHEMES) + rng.choice(_SEPARATORS) + host + rng.choice(_TAILS))
    return urls


def _zod_bad_keys(envs: list[Mapping[str, str]]) -> list[tuple[set[str], set[str]]]:
    if shutil.which("node") is None or not (ZOD_DIR / "node_modules" / "zod").is_dir():
        missing(f"node or tests/zod/node_modules is missing; run: {INSTALL}")
    result = subprocess.run(  # noqa: S603 - fixed arguments; the cases travel on stdin
        ["node", str(ZOD_DIR / "check.mjs")],  # noqa: S607 - node comes from PATH, as in CI
        input=json.dumps(envs),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    verdicts = json.loads(result.stdout)
    return [(set(v["v3"]), set(v["v4"])) for v in verdicts]


@pytest.fixture(scope="module")
def verdicts() -> list[tuple[str, dict[str, str], set[str], set[str]]]:
    cases = list(_cases())
    zod = _zod_bad_keys([env for _, env in cases])
    return [(name, env, v3, v4) for (name, env), (v3, v4) in zip(cases, zod, strict=True)]


def test_the_valid_env_passes_zod_and_python(
    verdicts: list[tuple[str, dict[str, str], set[str], set[str]]],
) -> None:
    name, env, v3, v4 = verdicts[0]
    assert name == "the valid env"
    assert (v3, v4) == (set(), set())
    assert validate_app_env(env) == []


def _non_ascii_url(key: str, env: Mapping[str, str]) -> bool:
    """Rejected on purpose whatever zod says (Node 20's hot URL.canParse bug), see settings.env_schema."""
    return key in URL_KEYS and key in env and not env[key].isascii()


def test_python_rejects_a_key_exactly_when_zod_v3_or_v4_does(
    verdicts: list[tuple[str, dict[str, str], set[str], set[str]]],
) -> None:
    mismatches = []
    for name, env, v3, v4 in verdicts:
        python = {problem.key for problem in validate_app_env(env)}
        for key in ENV_KEYS:
            zod_rejects = key in v3 or key in v4
            ok = key in python if _non_ascii_url(key, env) else (key in python) == zod_rejects
            if not ok:
                mismatches.append(f"{name}: {key} python={key in python} zod v3={key in v3} v4={key in v4}")
    assert not mismatches, "\n".join(mismatches)


def test_international_hosts_that_zod_accepts_are_accepted(
    verdicts: list[tuple[str, dict[str, str], set[str], set[str]]],
) -> None:
    international = [
        (name, env, v3 | v4)
        for name, env, v3, v4 in verdicts
        if re.search(r"xn--|%[89a-f][0-9a-f]", env.get("NEXT_PUBLIC_APP_URL", "").lower())
    ]
    accepted_by_zod = [name for name, _, zod in international if "NEXT_PUBLIC_APP_URL" not in zod]
    refused = [name for name, env, zod in international if "NEXT_PUBLIC_APP_URL" not in zod and validate_app_env(env)]
    # Ordinary IDNs (bücher.de as punycode or percent-encoded) must boot the app, not only be refused safely.
    assert accepted_by_zod, "the corpus holds no international host that zod accepts"
    assert not refused, refused


def test_the_corpus_exercises_both_verdicts_and_a_v3_v4_split(
    verdicts: list[tuple[str, dict[str, str], set[str], set[str]]],
) -> None:
    url_verdicts = [(v3, v4) for _, _, v3, v4 in verdicts if "DATABASE_URL" in v3 | v4]
    random_cases = [v for v in verdicts if v[0].startswith("random URL")]
    accepted = sum(1 for _, _, v3, v4 in random_cases if "DATABASE_URL" not in v3 | v4)
    assert 0.1 * len(random_cases) < accepted < 0.9 * len(random_cases), "the random corpus is one-sided"
    assert url_verdicts
    assert any(v3 != v4 for _, _, v3, v4 in verdicts), "no case tells zod v3 and v4 apart"

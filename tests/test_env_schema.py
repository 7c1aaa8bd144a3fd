"""Accept/reject boundaries of the app env schema, and that problems never reveal a value."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settings.env_schema import ENV_KEYS, SECRET_ENV_KEYS, AppEnv, EnvProblem, validate_app_env

COMPLIANT: dict[str, str] = {
    "NODE_ENV": "staging",
    "NEXT_PUBLIC_APP_URL": "https://staging.vibelog.app",
    "DATABASE_URL": "postgresql://postgres:pw@db.ref.supabase.co:6543/postgres?pgbouncer=true",
    "DIRECT_URL": "postgresql://postgres:pw@db.ref.supabase.co:5432/postgres",
    "NEXTAUTH_SECRET": "x" * 32,
    "NEXTAUTH_URL": "https://staging.vibelog.app",
    "OPENAI_API_KEY": "sk-proj-123",
    "SUPABASE_URL": "https://ref.supabase.co",
    "SUPABASE_ANON_KEY": "anon",
    "SUPABASE_SERVICE_ROLE_KEY": "service",
}


def _failing_keys(change: dict[str, str], drop: str | None = None) -> set[str]:
    env = {k: v for k, v in {**COMPLIANT, **change}.items() if k != drop}
    return {problem.key for problem in validate_app_env(env)}


def test_the_compliant_env_has_no_problems() -> None:
    assert validate_app_env(COMPLIANT) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NEXT_PUBLIC_APP_URL", "localhost:3000"),  # scheme "localhost"; zod accepts it
        ("NEXT_PUBLIC_APP_URL", "http:vibelog.app"),
        ("NEXT_PUBLIC_APP_URL", "  https://vibelog.app\n"),
        ("NEXT_PUBLIC_APP_URL", "https://vibelog.app:65535/"),
        ("NEXT_PUBLIC_APP_URL", "http://[::1]:3000"),
        ("NEXT_PUBLIC_APP_URL", "https://xn--bcher-kva.de"),
        ("DATABASE_URL", "postgresql://user:p@ss@host:5432/db"),
        ("DATABASE_URL", "postgresql://"),
        ("NEXTAUTH_SECRET", "é" * 32),
        ("NEXTAUTH_SECRET", "\U0001f600" * 32),
        ("OPENAI_API_KEY", "sk-"),
        ("SUPABASE_ANON_KEY", ""),
        ("ANTHROPIC_API_KEY", ""),
        ("SENTRY_DSN", "https://key@o1.ingest.sentry.io/2"),
        ("NODE_ENV", "development"),
        ("UNRELATED", "anything"),
    ],
)
def test_accepts(key: str, value: str) -> None:
    assert _failing_keys({key: value}) == set(), f"{key} should accept this value"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NEXT_PUBLIC_APP_URL", ""),
        ("NEXT_PUBLIC_APP_URL", "vibelog.app"),
        ("NEXT_PUBLIC_APP_URL", "https://"),
        ("NEXT_PUBLIC_APP_URL", "https://vibelog.app:65536/"),
        ("NEXT_PUBLIC_APP_URL", "https://vibe log.app"),
        ("NEXT_PUBLIC_APP_URL", "https://vibelog.09"),
        ("NEXT_PUBLIC_APP_URL", "https://1.2.3.256"),
        ("NEXT_PUBLIC_APP_URL", "https://[::1"),
        ("NEXT_PUBLIC_APP_URL", "\u00a0https://vibelog.app"),  # zod v4 trims it, v3 does not
        ("NEXT_PUBLIC_APP_URL", "https://b\u00fccher.de"),  # non-ASCII: see zod_url_ok
        ("DATABASE_URL", "postgresql://host:port/db"),
        ("DATABASE_URL", "postgresql://user@/db"),
        ("NEXTAUTH_SECRET", "x" * 31),
        ("NEXTAUTH_SECRET", "\U0001f600" * 16),  # 32 UTF-16 units but 16 code points: zod v4 refuses
        ("OPENAI_API_KEY", "SK-abc"),
        ("OPENAI_API_KEY", " sk-abc"),
        ("SENTRY_DSN", ""),  # present but empty is not absent
        ("NODE_ENV", "Production"),
        ("NODE_ENV", "production "),
    ],
)
def test_rejects(key: str, value: str) -> None:
    assert _failing_keys({key: value}) == {key}, f"{key} should reject this value"


@pytest.mark.parametrize("key", ENV_KEYS)
def test_required_keys_are_reported_missing_and_optional_ones_are_not(key: str) -> None:
    optional = AppEnv.model_fields[key].default is None
    problems = [p for p in validate_app_env({k: v for k, v in COMPLIANT.items() if k != key}) if p.key == key]
    if optional:
        assert problems == [], f"{key} is optional"
    else:
        assert problems == [EnvProblem(key, f"{key} is required")], f"{key} is required"


def test_messages_name_the_key_and_the_rule() -> None:
    env = {
        **COMPLIANT,
        "NODE_ENV": "prod",
        "NEXTAUTH_SECRET": "short",
        "OPENAI_API_KEY": "key",
        "SUPABASE_URL": "nope",
    }
    del env["SUPABASE_ANON_KEY"]
    assert validate_app_env(env) == [
        EnvProblem("NODE_ENV", "NODE_ENV must be one of development, staging, production"),
        EnvProblem("NEXTAUTH_SECRET", "NEXTAUTH_SECRET must be at least 32 characters"),
        EnvProblem("OPENAI_API_KEY", "OPENAI_API_KEY must start with 'sk-'"),
        EnvProblem("SUPABASE_URL", "SUPABASE_URL must be a URL (in ASCII: punycode hosts, percent-encode the rest)"),
        EnvProblem("SUPABASE_ANON_KEY", "SUPABASE_ANON_KEY is required"),
    ]


def test_secret_keys_come_from_field_metadata() -> None:
    assert (
        frozenset(
            {
                "NEXTAUTH_SECRET",
                "DATABASE_URL",
                "DIRECT_URL",
                "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY",
                "SUPABASE_SERVICE_ROLE_KEY",
                "RESEND_API_KEY",
                "STRIPE_SECRET_KEY",
            }
        )
        == SECRET_ENV_KEYS
    )
    assert len(ENV_KEYS) == 15
    for key in ENV_KEYS:
        assert AppEnv.model_fields[key].description, f"{key} has no description"


_VALIDATED_KEYS = ("NODE_ENV", "NEXT_PUBLIC_APP_URL", "DATABASE_URL", "NEXTAUTH_SECRET", "OPENAI_API_KEY")


@given(key=st.sampled_from(_VALIDATED_KEYS), value=st.text())
def test_problems_never_contain_the_value(key: str, value: str) -> None:
    # "\x00" fails every rule under test, so its message is the key's one fixed message; a failing value
    # that got a different message would have leaked something of itself into it.
    fixed = validate_app_env({**COMPLIANT, key: "\x00"})
    assert len(fixed) == 1
    for problem in validate_app_env({**COMPLIANT, key: value}):
        assert [problem] == fixed, f"{key}: the message depends on the value"
        assert value not in problem.message or value in fixed[0].message, f"{key}: the message shows the value"

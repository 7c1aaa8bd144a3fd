"""The app's environment-variable schema (the reference's zod `envSchema`) as a pydantic model.

The app validates `process.env` with zod when it boots, so an env this module accepts and zod rejects is an
outage. Each rule therefore follows what zod does, not what its name suggests, and where zod v3 and v4
disagree a value is accepted only if BOTH accept it, because which major version the app pins is not known
here (zod 4.x also ships the v3 API as `zod/v3`). tests/test_env_schema_zod.py checks this against the real
zod 4.6.7 (v3 and v4 APIs).

What zod does, per rule:

* `z.string().url()`: v3 accepts exactly what `new URL(value)` parses (no trimming of its own). v4 with no
  options accepts what `URL.canParse(value.trim())` accepts; `trim()` is JavaScript's, which also strips
  non-ASCII spaces such as U+00A0 and U+FEFF. Consequences, all true in both versions unless noted:
  - `localhost:3000` is a URL: its scheme is `localhost` and `3000` its opaque path.
  - `http:foo` and `https:/path` are URLs (the parser supplies the missing slashes); `https://` is not.
  - `postgresql://user:pass@host:5432/db` is a URL with an opaque host; so is `postgresql://` alone.
  - Any `scheme:anything` is a URL (`javascript:alert(1)`, `a:`); zod checks syntax, not reachability.
  - Leading/trailing ASCII spaces and controls are ignored, and tabs/newlines anywhere are dropped.
  - Non-ASCII whitespace around the value: v4 trims it, v3 fails; rejected here.
  - Non-ASCII anywhere is rejected here although zod usually accepts it (see `zod_url_ok` for why).
  - `http://foo.09` fails: a host whose last label looks numeric must be a valid IPv4 address.
  - v4 hands the app the trimmed value, v3 the raw one; that changes the value, not the verdict.
* `.min(32)`: v3 counts UTF-16 code units (`value.length`, an emoji counts 2); v4 counts code points (an
  emoji counts 1). Requiring 32 code points satisfies both.
* `.startsWith('sk-')`: a plain, case-sensitive prefix test in both; no trimming.
* `z.enum([...])`: exact, case-sensitive match.
* `.optional()`: the key may be absent; an empty string is still a string, so `SENTRY_DSN=""` is present and
  fails the URL rule, which is what `vercel env pull` writes for a variable set to nothing.
* `z.object`: unknown keys are stripped, never an error.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from ada_url import HostType, SchemeType, check_url, idna_to_ascii, idna_to_unicode, parse_url
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

NODE_ENVS: Final = ("development", "staging", "production")
NEXTAUTH_SECRET_MIN_LENGTH: Final = 32
OPENAI_KEY_PREFIX: Final = "sk-"

MUST_BE_URL: Final = "must be a URL (in ASCII: punycode hosts, percent-encode the rest)"
MUST_BE_LONG: Final = f"must be at least {NEXTAUTH_SECRET_MIN_LENGTH} characters"
MUST_START_SK: Final = f"must start with '{OPENAI_KEY_PREFIX}'"
MUST_BE_NODE_ENV: Final = f"must be one of {', '.join(NODE_ENVS)}"
IS_REQUIRED: Final = "is required"
MUST_BE_STRING: Final = "must be a string"

# JavaScript's String.prototype.trim(): WhiteSpace and LineTerminator code points (ECMA-262 §12.2, §12.3).
_JS_WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(value: str) -> str:
    """JavaScript's `value.trim()`, which differs from `str.strip()` (U+FEFF yes, U+001C..U+001F no)."""
    return value.strip(_JS_WHITESPACE)


def utf16_length(value: str) -> int:
    """JavaScript's `value.length`: UTF-16 code units, so a character beyond U+FFFF counts 2."""
    return len(value.encode("utf-16-le", errors="surrogatepass")) // 2


def js_code_point_length(value: str) -> int:
    """Code points as JavaScript iterates them: a surrogate pair counts once, a lone surrogate once."""
    # Python may hold a pair as two separate code points; round-tripping through UTF-16 joins them.
    return len(value.encode("utf-16-le", errors="surrogatepass").decode("utf-16-le", errors="surrogatepass"))


def zod_url_ok(value: str) -> bool:
    """True when zod v3 (`new URL(value)`) and v4 (`URL.canParse(value.trim())`) both accept ASCII `value`."""
    # Node 20's URL.canParse, once V8 optimises it, misreads Latin-1 strings and rejects hosts such as
    # "bücher.de" that `new URL` accepts, so zod v4's verdict on non-ASCII URLs depends on how hot the call
    # is. ASCII-only (punycode hosts, percent-encoded paths) keeps the verdict independent of that.
    return value.isascii() and _node_parses(value) and _node_parses(js_trim(value))


def _node_parses(value: str) -> bool:
    """`URL.canParse(value)` as Node 20 and later all answer it.

    Ada is the WHATWG URL parser Node embeds, so `check_url` is Node's own verdict. Newer Ada (this binding, Node 22
    onwards) no longer validates what an `xn--` label of a special URL's host decodes to, while the Ada 2.9 of Node 20
    refuses a label that is not the punycode of a valid label (`https://xn--zz.de`); such a host is refused here too.
    """
    if not check_url(value):
        return False
    url = parse_url(value)
    if url["scheme_type"] == SchemeType.NOT_SPECIAL or url["host_type"] != HostType.DEFAULT:
        return True
    return all(_punycode_label_ok(label) for label in str(url["hostname"]).split(".") if label.startswith("xn--"))


def _punycode_label_ok(label: str) -> bool:
    """An `xn--` label decodes to a label UTS #46 already holds valid (what Ada 2.9's `is_label_valid` asks)."""
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    mapped = idna_to_ascii(decoded)
    return bool(mapped) and idna_to_unicode(mapped) == decoded


def zod_min_length_ok(value: str, minimum: int) -> bool:
    """True when both zod v3 (UTF-16 units) and v4 (code points) count at least `minimum`."""
    return utf16_length(value) >= minimum and js_code_point_length(value) >= minimum


def _rule(error_type: str, message: str, ok: Callable[[str], bool]) -> AfterValidator:
    def check(value: str) -> str:
        if not ok(value):
            # A fixed message: the value of a secret must never reach an error, a log or CI output.
            raise PydanticCustomError(error_type, message)
        return value

    return AfterValidator(check)


ZodUrl = Annotated[str, _rule("zod_url", MUST_BE_URL, zod_url_ok)]
NextAuthSecret = Annotated[
    str, _rule("zod_min_length", MUST_BE_LONG, lambda v: zod_min_length_ok(v, NEXTAUTH_SECRET_MIN_LENGTH))
]
OpenAiKey = Annotated[str, _rule("zod_starts_with", MUST_START_SK, lambda v: v.startswith(OPENAI_KEY_PREFIX))]


def _doc(description: str, *, secret: bool) -> Any:
    return Field(description=description, json_schema_extra={"secret": secret})


def _optional(description: str, *, secret: bool) -> Any:
    return Field(default=None, description=description, json_schema_extra={"secret": secret})


class AppEnv(BaseModel):
    """The environment the VibeLog app requires at boot, rule for rule as its zod schema states it."""

    # Strings only, as process.env holds; unknown keys are ignored like z.object strips them.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, hide_input_in_errors=True)

    NODE_ENV: Literal["development", "staging", "production"] = _doc(
        "Which environment the app runs as; selects the feature flags.", secret=False
    )
    NEXT_PUBLIC_APP_URL: ZodUrl = _doc("Public URL of the app, inlined into the browser bundle.", secret=False)
    DATABASE_URL: ZodUrl = _doc("Pooled Postgres connection string, with credentials.", secret=True)
    DIRECT_URL: ZodUrl = _doc("Direct (unpooled) Postgres connection string for migrations.", secret=True)
    NEXTAUTH_SECRET: NextAuthSecret = _doc("Key NextAuth signs and encrypts sessions with.", secret=True)
    NEXTAUTH_URL: ZodUrl = _doc("Canonical URL NextAuth builds callback URLs from.", secret=False)
    OPENAI_API_KEY: OpenAiKey = _doc("OpenAI API key for the AI writing features.", secret=True)
    ANTHROPIC_API_KEY: str | None = _optional("Anthropic API key, when that provider is enabled.", secret=True)
    SUPABASE_URL: ZodUrl = _doc("URL of the Supabase project.", secret=False)
    SUPABASE_ANON_KEY: str = _doc("Supabase anon key; public by design, row-level security guards data.", secret=False)
    SUPABASE_SERVICE_ROLE_KEY: str = _doc("Supabase service-role key; bypasses row-level security.", secret=True)
    SENTRY_DSN: ZodUrl | None = _optional("Sentry DSN; public by design, it only allows sending events.", secret=False)
    POSTHOG_KEY: str | None = _optional("PostHog project key; public by design, shipped to browsers.", secret=False)
    RESEND_API_KEY: str | None = _optional("Resend API key for transactional email.", secret=True)
    STRIPE_SECRET_KEY: str | None = _optional("Stripe secret key for billing.", secret=True)


def _is_secret(field_extra: object) -> bool:
    return isinstance(field_extra, dict) and field_extra.get("secret") is True


ENV_KEYS: Final[tuple[str, ...]] = tuple(AppEnv.model_fields)
"""Every variable the schema reads, in the schema's order."""

SECRET_ENV_KEYS: Final[frozenset[str]] = frozenset(
    name for name, field in AppEnv.model_fields.items() if _is_secret(field.json_schema_extra)
)
"""The variables whose values are secrets."""


@dataclass(frozen=True)
class EnvProblem:
    """Why one variable fails the schema; the message names the key and the rule, never the value."""

    key: str
    """The variable's name."""
    message: str
    """A sentence starting with the key, e.g. "NEXTAUTH_SECRET must be at least 32 characters"."""


_MESSAGES: Final[Mapping[str, str]] = {
    "missing": IS_REQUIRED,
    "literal_error": MUST_BE_NODE_ENV,
    "string_type": MUST_BE_STRING,
    "zod_url": MUST_BE_URL,
    "zod_min_length": MUST_BE_LONG,
    "zod_starts_with": MUST_START_SK,
}


def validate_app_env(env: Mapping[str, str]) -> list[EnvProblem]:
    """Check `env` against the schema; one problem per failing key, in the schema's order."""
    try:
        AppEnv.model_validate(dict(env))
    except ValidationError as error:
        rules: dict[str, str] = {}
        for detail in error.errors(include_input=False, include_context=False, include_url=False):
            key = str(detail["loc"][0])
            # An unexpected error type still gets a fixed text: pydantic's own messages may quote input.
            rules.setdefault(key, _MESSAGES.get(detail["type"], "is invalid"))
        return [EnvProblem(key, f"{key} {rules[key]}") for key in ENV_KEYS if key in rules]
    return []

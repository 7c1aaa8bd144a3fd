"""What a credential looks like: the shapes secret scanners match, so a plaintext value that is one is caught."""

from __future__ import annotations

import math
import re
import urllib.parse
from collections import Counter
from typing import Final

# Well-known credential shapes (the prefixes their issuers document, as secret scanners match them), most specific
# first; the name is what the violation says the value looks like.
CREDENTIAL_SHAPES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("a private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/")),
    ("a Stripe key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10,}")),
    ("an OpenAI or Anthropic API key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")),
)
# A long run of token characters with this much Shannon entropy per character is a random secret rather than a
# word, a name or a number: hex digests reach 4 bits a character at most, so they are judged against a lower bar.
TOKEN: Final = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
HEX_TOKEN: Final = re.compile(r"[0-9a-fA-F]{32,}")
TOKEN_ENTROPY_BITS: Final = 4.2
HEX_ENTROPY_BITS: Final = 3.0


def credential_shape(value: str) -> str | None:
    """What kind of credential `value` looks like, or None; never the value itself."""
    for name, pattern in CREDENTIAL_SHAPES:
        if pattern.search(value):
            return name
    for word in value.split():
        if "://" in word:
            try:
                if urllib.parse.urlsplit(word).password:
                    return "a URL with a password"
            except ValueError:
                pass
        if HEX_TOKEN.fullmatch(word) and _entropy(word) >= HEX_ENTROPY_BITS:
            return "a random hex token"
        if TOKEN.fullmatch(word) and _entropy(word) >= TOKEN_ENTROPY_BITS:
            return "a random token"
    return None


def _entropy(word: str) -> float:
    """Shannon entropy of the characters of `word`, in bits per character."""
    return -sum(n / len(word) * math.log2(n / len(word)) for n in Counter(word).values())

"""Whether the WHATWG URL parser (JavaScript's `new URL(s)`, no base) accepts a string.

Only the accept/reject decision is implemented, not the serialised URL: that is all `z.string().url()` asks
of the parser. The states and their names follow https://url.spec.whatwg.org/#concept-basic-url-parser so a
reader can check each branch against the spec; validation errors that the spec does not turn into failures
are ignored, as browsers and Node ignore them.

One deliberate gap: non-ASCII domain names need the full UTS #46 mapping table, which the standard library
does not carry. Here a non-ASCII (or `xn--`) label is accepted only when every character is a plain letter,
digit or non-initial combining mark that NFKC-casefolds to itself and is not right-to-left, i.e. a subset
of what UTS #46 accepts. Hosts outside that subset (emoji, symbols, RTL scripts, joiners) are rejected even
though Node may accept them: that direction can raise a false alarm, never let through a value the app's
zod would refuse at boot.
"""

import unicodedata

SPECIAL_SCHEMES = frozenset({"ftp", "file", "http", "https", "ws", "wss"})

_C0_CONTROL_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_DIGITS = frozenset("0123456789")
_ASCII_HEX = frozenset("0123456789abcdefABCDEF")
_SCHEME_CHARS = _ASCII_ALPHA | _ASCII_DIGITS | frozenset("+-.")
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset(chr(c) for c in range(0x20)) | frozenset("%\x7f")
# UTS #46 maps these full stops to "." before splitting a domain into labels.
_LABEL_SEPARATORS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_IDN_LETTER_CATEGORIES = frozenset({"Ll", "Lo", "Lm", "Nd"})
_IDN_MARK_CATEGORIES = frozenset({"Mn", "Mc"})
_RTL_BIDI_CLASSES = frozenset({"R", "AL", "AN"})
_MAX_PORT = 65535
_MAX_IPV4_DIGITS = 32


def can_parse(value: str) -> bool:
    """Return True when `new URL(value)` would succeed in a WHATWG-conforming runtime such as Node."""
    text = _to_usv(value).strip(_C0_CONTROL_OR_SPACE).translate(_TAB_OR_NEWLINE)
    scheme_end = text.find(":")
    if scheme_end <= 0 or text[0] not in _ASCII_ALPHA:
        # Without a scheme the parser needs a base URL, and zod never passes one.
        return False
    scheme = text[:scheme_end]
    if not all(c in _SCHEME_CHARS for c in scheme):
        return False
    scheme = scheme.lower()
    rest = text[scheme_end + 1 :]
    if scheme == "file":
        return _file_ok(rest)
    if scheme in SPECIAL_SCHEMES:
        # Special authority (ignore) slashes: any run of / or \ is skipped, even none ("http:host").
        return _authority_ok(rest.lstrip("/\\"), special=True)
    if rest.startswith("//"):
        return _authority_ok(rest[2:], special=False)
    # Path-only and opaque-path URLs ("mailto:x", "localhost:3000") have no failure branch.
    return True


def _to_usv(value: str) -> str:
    """Pair up surrogates and replace lone ones with U+FFFD, as the URL constructor's USVString does."""
    return value.encode("utf-16-le", errors="surrogatepass").decode("utf-16-le", errors="replace")


def _authority_end(rest: str, *, special: bool) -> int:
    """Index where the authority ends: the first /, ?, # (or \\ for special schemes)."""
    terminators = "/?#\\" if special else "/?#"
    return next((i for i, c in enumerate(rest) if c in terminators), len(rest))


def _authority_ok(rest: str, *, special: bool) -> bool:
    authority = rest[: _authority_end(rest, special=special)]
    at = authority.rfind("@")
    if at != -1:
        # Credentials are percent-encoded, never rejected; but "user@" with nothing after it is.
        authority = authority[at + 1 :]
        if not authority:
            return False
    host, port = _split_host_port(authority)
    if special and not host:
        return False
    if port is not None:
        if host == "":
            return False
        if port and not _port_ok(port):
            return False
    return _host_ok(host, opaque=not special)


def _port_ok(port: str) -> bool:
    if not all(c in _ASCII_DIGITS for c in port):
        return False
    # Leading zeros are allowed ("0080"); trimming them first keeps int() off huge digit strings.
    significant = port.lstrip("0")
    return len(significant) <= len(str(_MAX_PORT)) and int(significant or "0") <= _MAX_PORT


def _split_host_port(authority: str) -> tuple[str, str | None]:
    """Split at the first ":" outside [...]; the port is None when there is no such colon."""
    inside_brackets = False
    for i, c in enumerate(authority):
        if c == "[":
            inside_brackets = True
        elif c == "]":
            inside_brackets = False
        elif c == ":" and not inside_brackets:
            return authority[:i], authority[i + 1 :]
    return authority, None


def _file_ok(rest: str) -> bool:
    if len(rest) < 2 or rest[0] not in "/\\" or rest[1] not in "/\\":
        # "file:x" and "file:/x" are paths; the path states never fail.
        return True
    after = rest[2:]
    end = next((i for i, c in enumerate(after) if c in "/\\?#"), len(after))
    host = after[:end]
    if host == "" or _is_windows_drive_letter(host):
        return True
    return _host_ok(host, opaque=False)


def _is_windows_drive_letter(text: str) -> bool:
    return len(text) == 2 and text[0] in _ASCII_ALPHA and text[1] in ":|"


def _host_ok(host: str, *, opaque: bool) -> bool:
    if host.startswith("["):
        return host.endswith("]") and _ipv6_ok(host[1:-1])
    if opaque:
        # Opaque hosts are percent-encoded as written; only the forbidden host code points fail.
        return not any(c in _FORBIDDEN_HOST for c in host)
    domain = _percent_decode(host).decode("utf-8", errors="replace")
    ascii_domain = _domain_to_ascii(domain)
    if ascii_domain is None:
        return False
    if _ends_in_a_number(ascii_domain):
        return _ipv4_ok(ascii_domain)
    return True


def _percent_decode(text: str) -> bytes:
    data = text.encode("utf-8", errors="surrogatepass")
    out = bytearray()
    i = 0
    while i < len(data):
        hex_pair = data[i + 1 : i + 3]
        if data[i] == 0x25 and len(hex_pair) == 2 and all(chr(b) in _ASCII_HEX for b in hex_pair):
            out.append(int(hex_pair, 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def _domain_to_ascii(domain: str) -> str | None:
    """UTS #46 ToASCII with the URL standard's non-strict flags, or None on failure."""
    if domain.isascii():
        mapped = domain.lower()
    else:
        mapped = unicodedata.normalize("NFKC", domain.translate(_LABEL_SEPARATORS)).casefold()
        mapped = mapped.translate(_LABEL_SEPARATORS)
    labels = mapped.split(".")
    ascii_labels: list[str] = []
    for label in labels:
        if label.startswith("xn--"):
            if not _punycode_label_ok(label):
                return None
            ascii_labels.append(label)
        elif label.isascii():
            ascii_labels.append(label)
        elif _idn_label_ok(label):
            ascii_labels.append("xn--" + label.encode("punycode").decode("ascii"))
        else:
            return None
    result = ".".join(ascii_labels)
    if result == "" or any(c in _FORBIDDEN_DOMAIN for c in result):
        return None
    return result


def _punycode_label_ok(label: str) -> bool:
    encoded = label[4:]
    if not encoded or not encoded.isascii():
        return False
    try:
        decoded = encoded.encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    # Only canonical encodings round-trip; UTS #46 rejects an xn-- label that decodes to pure ASCII or to
    # another xn-- label.
    if decoded.encode("punycode").decode("ascii") != encoded or decoded.startswith("xn--"):
        return False
    return not decoded.isascii() and _idn_label_ok(decoded)


def _idn_label_ok(label: str) -> bool:
    """The conservative subset of UTS #46-valid labels described in the module docstring."""
    if not label or unicodedata.normalize("NFKC", label).casefold() != label:
        return False
    if unicodedata.category(label[0]) in _IDN_MARK_CATEGORIES:
        return False
    for c in label:
        if c.isascii():
            if not (c.isalnum() or c == "-"):
                return False
            continue
        category = unicodedata.category(c)
        if category not in _IDN_LETTER_CATEGORIES | _IDN_MARK_CATEGORIES:
            return False
        if unicodedata.bidirectional(c) in _RTL_BIDI_CLASSES:
            return False
    return True


def _ends_in_a_number(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and all(c in _ASCII_DIGITS for c in last):
        return True
    return _ipv4_number(last) is not None


def _ipv4_number(part: str) -> int | None:
    if part == "":
        return None
    radix = 10
    if len(part) >= 2 and part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) >= 2 and part[0] == "0":
        part, radix = part[1:], 8
    if part == "":
        return 0
    digits = "0123456789abcdef"[:radix]
    if not all(c in digits for c in part.lower()):
        return None
    significant = part.lstrip("0")
    if len(significant) > _MAX_IPV4_DIGITS:
        # Past 2**32 the exact value no longer matters, and int() refuses very long decimal strings.
        return 2**32
    return int(significant or "0", radix)


def _ipv4_ok(domain: str) -> bool:
    parts = domain.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return False
    numbers = [_ipv4_number(part) for part in parts]
    valid = [n for n in numbers if n is not None]
    if len(valid) != len(numbers):
        return False
    if any(n > 255 for n in valid[:-1]):
        return False
    return valid[-1] < 1 << (8 * (5 - len(valid)))


def _ipv6_ok(text: str) -> bool:
    """The URL standard's IPv6 parser, reduced to its failure branches."""
    pieces = 0
    compressed = False
    i = 0
    n = len(text)
    if text.startswith(":"):
        if not text.startswith("::"):
            return False
        i = 2
        pieces = 1
        compressed = True
    while i < n:
        if pieces == 8:
            return False
        if text[i] == ":":
            if compressed:
                return False
            i += 1
            pieces += 1
            compressed = True
            continue
        length = 0
        while length < 4 and i < n and text[i] in _ASCII_HEX:
            i += 1
            length += 1
        if i < n and text[i] == ".":
            if length == 0 or pieces > 6:
                return False
            return _ipv6_tail_ipv4_ok(text[i - length :]) and (compressed or pieces + 2 == 8)
        if i < n and text[i] == ":":
            i += 1
            if i == n:
                return False
        elif i < n:
            return False
        pieces += 1
    return compressed or pieces == 8


def _ipv6_tail_ipv4_ok(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part or not all(c in _ASCII_DIGITS for c in part):
            return False
        if len(part) > 1 and part[0] == "0":
            return False
        if int(part) > 255:
            return False
    return True

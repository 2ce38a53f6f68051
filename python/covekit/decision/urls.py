# ruff: noqa: RUF002  (look-alike and fullwidth characters are this module's subject)
"""URLs in text and a domain allowlist that sees the host a browser would see.

:func:`find_urls` finds what renders as a link: ``scheme://`` URLs, ``www.`` autolinks
(as GitHub-flavoured Markdown links them), Markdown link and image targets (inline
and reference definitions) and HTML ``href``/``src`` attributes; with
``bare_domains=True`` also bare host names followed by a path (``evil.com/x``).
:func:`url_host` reads the host as a WHATWG URL parser does: the user info before the
last ``@`` is not the host (``https://allowed.com@evil.com`` goes to ``evil.com``), a
backslash ends the host like a slash, tabs and line breaks inside are ignored, the host
is percent-decoded, NFKC- and case-normalised, IDNA-encoded (punycode) and loses its
trailing dot; IPv4 in any of its spellings (``127.1``, ``0x7f.0.0.1``,
``2130706433``) and IPv6 literals are recognised as IP addresses.

>>> from covekit.decision.urls import DomainAllowlist, url_host
>>> url_host("https://docs.example.com.@evil.com/x")
('evil.com', 'name')
>>> url_host("http://0x7f.1/admin")
('127.0.0.1', 'ip')
>>> allow = DomainAllowlist(["example.com", "*.example.com"])
>>> allow.allows("DOCS.Example.COM."), allow.allows("example.com.evil.net")
(True, False)
>>> allow.allows("bücher.example.com"), allow.allows("xn--bcher-kva.example.com")
(True, True)

Thread safety: every function is pure and a :class:`DomainAllowlist` is immutable.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from covekit.errors import InvalidInput

__all__ = ["DomainAllowlist", "FoundUrl", "find_urls", "normalize_host", "url_host"]

HostKind = Literal["name", "ip", "invalid"]

_SPECIAL = {"http", "https", "ws", "wss", "ftp", "file"}
_DOTS = re.compile("[\u3002\uff0e\uff61]")
_STRIP_INSIDE = re.compile("[\t\n\r]")
_TRAILING = ".,;:!?'\"*_~"

_URL_CHARS = r"[^\s<>\"'`\]\)|]"
_SCHEME_URL = re.compile(r"(?i)(?<![\w.+-])(?:[a-z][a-z0-9+.-]{1,15}):/{2,3}" + _URL_CHARS + "+")
_WWW_URL = re.compile(r"(?i)(?<![\w./@-])www\.[^\s<>\"'`\]\)|]+")
_MD_TARGET = re.compile(
    r"(?P<bang>!?)\[(?P<label>[^\]\n]{0,500})\]\(\s*(?:<(?P<aurl>[^>\n]*)>|(?P<url>[^)\s]*))"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?\s*\)"
)
_MD_REFDEF = re.compile(r"(?m)^ {0,3}\[(?P<label>[^\]\n]{1,200})\]:\s*<?(?P<url>\S+?)>?(?:\s|$)")
_HTML_ATTR = re.compile(
    r"(?i)<(?P<tag>[a-z][a-z0-9]*)\b[^>]*?\b(?P<attr>href|src|srcset|action|poster|data)"
    r"\s*=\s*(?:\"(?P<q1>[^\"]*)\"|'(?P<q2>[^']*)'|(?P<q3>[^\s>]+))"
)
_BARE = re.compile(
    r"(?i)(?<![\w@./:-])(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+"
    r"[a-z\u00a1-\uffff]{2,24}(?=[/?#])" + _URL_CHARS + "*"
)
_NOT_TLD = frozenset(
    "py js ts md txt pdf json html htm csv png jpg jpeg gif svg xml yaml yml toml ini cfg "
    "sh exe dll so zip gz tar doc docx xls xlsx ppt pptx rs go java c h cpp hpp rb php "
    "css log lock bak tmp".split()
)  # file extensions that look like top-level domains


@dataclass(frozen=True, slots=True)
class FoundUrl:
    """A URL in a text: its ``str`` span, the URL text, how it appears (``kind``:
    ``"url"``, ``"www"``, ``"markdown_link"``, ``"markdown_image"``, ``"html"``, ``"bare"``)
    and, for Markdown, the span of its label.

    >>> from covekit.decision.urls import find_urls
    >>> [(u.kind, u.url) for u in find_urls("See ![chart](https://x.io/c.png) now")]
    [('markdown_image', 'https://x.io/c.png')]
    """

    start: int
    end: int
    url: str
    kind: str
    label: str = ""


def _trim(url: str) -> str:
    """Trailing punctuation is not part of an autolinked URL (as GFM decides)."""
    while url and url[-1] in _TRAILING:
        url = url[:-1]
    if url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    return url


def find_urls(text: str, *, bare_domains: bool = False) -> list[FoundUrl]:
    """Every link target in ``text`` (module docs), by start offset; a URL inside a
    Markdown or HTML target is reported once, as the Markdown or HTML kind.

    >>> [u.url for u in find_urls("Go to www.example.com. Or https://a.example/b?c=1).")]
    ['www.example.com', 'https://a.example/b?c=1']
    """
    if not text or (
        "://" not in text
        and "www." not in text.lower()
        and "](" not in text
        and "]:" not in text
        and "<" not in text
        and not bare_domains
    ):
        return []
    found: list[FoundUrl] = []
    taken: list[tuple[int, int]] = []
    if "](" in text:
        for m in _MD_TARGET.finditer(text):
            group = "url" if m.group("url") is not None else "aurl"
            url = m.group(group)
            kind = "markdown_image" if m.group("bang") else "markdown_link"
            s = m.start(group)
            found.append(FoundUrl(s, s + len(url), url, kind, m.group("label")))
            taken.append(m.span())
    if "]:" in text:
        for m in _MD_REFDEF.finditer(text):
            url = m.group("url")
            s = m.start("url")
            found.append(FoundUrl(s, s + len(url), url, "markdown_link", m.group("label")))
            taken.append(m.span())
    if "<" in text:
        for m in _HTML_ATTR.finditer(text):
            group = next(g for g in ("q1", "q2", "q3") if m.group(g) is not None)
            url = m.group(group).strip()
            if m.group("attr").lower() == "srcset":
                url = url.split()[0] if url.split() else ""
            s = m.start(group)
            kind = "markdown_image" if m.group("tag").lower() == "img" else "html"
            found.append(FoundUrl(s, s + len(url), url, kind))
            taken.append(m.span())

    def free(s: int, e: int) -> bool:
        return not any(a <= s and e <= b for a, b in taken)

    patterns: list[tuple[re.Pattern[str], str]] = [(_SCHEME_URL, "url"), (_WWW_URL, "www")]
    if bare_domains:
        patterns.append((_BARE, "bare"))
    for pattern, kind in patterns:
        for m in pattern.finditer(text):
            url = _trim(m.group())
            s = m.start()
            if not url or not free(s, s + len(url)):
                continue
            if kind == "bare" and url.split("/")[0].rsplit(".", 1)[-1].lower() in _NOT_TLD:
                continue
            found.append(FoundUrl(s, s + len(url), url, kind))
            taken.append((s, s + len(url)))
    found.sort(key=lambda u: (u.start, u.end))
    return found


def _ipv4_number(part: str) -> int | None:
    p = part.lower()
    try:
        if p.startswith("0x"):
            return int(p[2:] or "0", 16)
        if len(p) > 1 and p.startswith("0"):
            return int(p, 8)
        return int(p, 10)
    except ValueError:
        return None


def _whatwg_ipv4(host: str) -> str | None:
    """The dotted IPv4 of a host that a WHATWG parser reads as IPv4, else None."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not parts or len(parts) > 4:
        return None
    last = parts[-1].lower()
    if not (
        last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))
    ):
        return None
    nums = [_ipv4_number(p) for p in parts]
    if any(n is None for n in nums):
        return None
    values = [n for n in nums if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    value = values[-1]
    for i, n in enumerate(values[:-1]):
        value += n << (8 * (3 - i))
    return str(ipaddress.IPv4Address(value))


def normalize_host(host: str) -> tuple[str, HostKind]:
    """``(host, kind)``: an ASCII (punycode) lower-case name without trailing dot and
    ``"name"``, a canonical IP address and ``"ip"``, or the input and ``"invalid"``.

    >>> normalize_host("ＥＸＡＭＰＬＥ。com."), normalize_host("[::FFFF:127.0.0.1]")
    (('example.com', 'name'), ('::ffff:7f00:1', 'ip'))
    """
    h = unquote(host).strip()
    if h.startswith("[") and h.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(h[1:-1].split("%")[0])), "ip"
        except ValueError:
            return host, "invalid"
    h = _DOTS.sub(".", unicodedata.normalize("NFKC", h)).lower()
    while h.endswith("."):
        h = h[:-1]
    if not h or any(c in h for c in " /\\@#?%<>^|[]"):
        return host, "invalid"
    ipv4 = _whatwg_ipv4(h)
    if ipv4 is not None:
        return ipv4, "ip"
    try:
        ascii_host = h.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host, "invalid"
    if any(len(label) == 0 for label in ascii_host.split(".")):
        return host, "invalid"
    return ascii_host, "name"


def url_host(url: str) -> tuple[str, HostKind] | None:
    """The normalised host of a URL and its kind, or None for a URL without a host
    (a relative link, ``mailto:``, ``#anchor``). ``www.x`` and ``//x`` count as http.

    >>> url_host("HTTPS://Ex%41mple.com:8443/p"), url_host("/relative/path")
    (('example.com', 'name'), None)
    """
    u = _STRIP_INSIDE.sub("", url.strip())
    if u.startswith("//"):
        u = "http:" + u
    elif u[:4].lower() == "www.":
        u = "http://" + u
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):(.*)", u, re.S)
    if not m:
        return None
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme in _SPECIAL:
        rest = rest.replace("\\", "/")
        rest = rest.lstrip("/")  # http:evil.com and http:///evil.com reach evil.com too
    elif rest.startswith("//"):
        rest = rest[2:]
    else:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    elif ":" in host:
        host = (
            host.rsplit(":", 1)[0]
            if host.rsplit(":", 1)[1].isdigit() or host.endswith(":")
            else host
        )
    if not host:
        return None
    return normalize_host(host)


def url_scheme(url: str) -> str:
    """The URL's scheme in lower case ("" when it has none; ``www.`` and ``//`` give http)."""
    u = _STRIP_INSIDE.sub("", url.strip())
    if u.startswith("//") or u[:4].lower() == "www.":
        return "http"
    m = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", u)
    return m.group(1).lower() if m else ""


class DomainAllowlist:
    """Host names a URL may point at: exact names (``example.com``), subdomain
    wildcards (``*.example.com``: any name under it, not the name itself; list both to
    allow both) and IP literals (``10.0.0.1``). Entries are normalised as hosts are
    (case, NFKC, IDNA, trailing dot); an entry that is not a host raises
    :class:`~covekit.errors.InvalidInput`.

    >>> a = DomainAllowlist(["*.corp.example"])
    >>> a.allows("wiki.corp.example"), a.allows("corp.example"), len(a)
    (True, False, 1)
    """

    __slots__ = ("_exact", "_suffixes", "entries")

    def __init__(self, entries: Iterable[str]) -> None:
        if isinstance(entries, str):
            raise InvalidInput(
                "allowed_domains must be a list of host names, not a single str; "
                f"write [{entries!r}]"
            )
        exact: set[str] = set()
        suffixes: set[str] = set()
        kept: list[str] = []
        for raw in entries:
            if not isinstance(raw, str):
                raise InvalidInput(f"an allowed domain must be a str, not {type(raw).__name__}")
            entry = raw.strip()
            wildcard = entry.startswith("*.")
            name = entry[2:] if wildcard else entry
            if "://" in name or "/" in name or "*" in name or "@" in name:
                raise InvalidInput(
                    f"allowed domain {raw!r} is not a host name: give 'example.com' or "
                    "'*.example.com' (no scheme, path or other wildcard)"
                )
            host, kind = normalize_host(name)
            if kind == "invalid":
                raise InvalidInput(f"allowed domain {raw!r} is not a valid host name")
            if wildcard and kind == "ip":
                raise InvalidInput(f"allowed domain {raw!r}: a wildcard needs a name, not an IP")
            (suffixes if wildcard else exact).add(host)
            kept.append(("*." if wildcard else "") + host)
        self._exact = frozenset(exact)
        self._suffixes = tuple(sorted(suffixes))
        self.entries = tuple(kept)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<covekit.DomainAllowlist {list(self.entries)!r}>"

    def allows(self, host: str) -> bool:
        """Whether a host (raw or normalised) is allowed."""
        h, kind = normalize_host(host)
        if kind == "invalid":
            return False
        return self.allows_normalized(h)

    def allows_normalized(self, host: str) -> bool:
        """Whether a host already normalised by :func:`normalize_host` is allowed."""
        if host in self._exact:
            return True
        return any(host.endswith("." + s) for s in self._suffixes)


def iter_strings(value: object, path: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """``(json_pointer, text)`` for every string value of a JSON-like value (keys are
    not walked). Deeper than 200 levels raises :class:`~covekit.errors.InvalidInput`."""
    if depth > 200:
        raise InvalidInput(f"value is nested deeper than 200 levels at {path or '(root)'}")
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k).replace("~", "~0").replace("/", "~1")
            yield from iter_strings(v, f"{path}/{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from iter_strings(v, f"{path}/{i}", depth + 1)

"""HTML to chunkable text, with the document's structure kept as Markdown.

Headings become ATX headings (``#`` .. ``######``) so that the chunker's heading paths
work, list items become ``- `` lines (indented two spaces per level), ``<pre>`` blocks
become fenced code blocks, table rows become ``cell | cell`` lines, and block elements
are separated by blank lines. Scripts, styles and other non-text elements are dropped.
The ``<title>``, the ``<meta name=... content=...>`` tags and ``<html lang>`` are
returned as metadata. Built on the standard library's forgiving ``html.parser``:
malformed markup never raises, and nesting depth costs no recursion.

>>> from covekit.data.html_text import html_to_text
>>> text, meta = html_to_text("<title>T</title><h2>Refunds</h2><p>Within <b>14</b> days.</p>")
>>> print(text)
## Refunds
<BLANKLINE>
Within 14 days.
>>> meta
{'title': 'T'}
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

__all__ = ["html_to_text"]

_WS = re.compile(r"[ \t\n\r\f]+")
_SKIP = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
)
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hgroup", "hr", "main", "nav", "p", "section", "summary", "table",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LISTS = frozenset({"ul", "ol", "menu"})


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pending = 0  # line breaks wanted before the next text (0, 1 or 2)
        self.prefix = ""  # written at the start of the next line: "## ", "  - "
        self.space = False  # a collapsed space is owed before the next text
        self.separator = ""  # " | " between table cells
        self.line_start = True
        self.skip: list[str] = []  # open elements whose content is dropped
        self.heading = 0
        self.lists = 0
        self.pre: list[str] | None = None  # the text of an open <pre>
        self.cells = 0
        self.title: list[str] | None = None
        self.metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------ output
    def _break(self, lines: int) -> None:
        if self.out:
            self.pending = max(self.pending, lines)
        self.space = False
        self.separator = ""

    def _write(self, text: str) -> None:
        if self.pending and self.out:
            self.out.append("\n" * self.pending)
            self.line_start = True
        self.pending = 0
        if self.line_start:
            self.out.append(self.prefix)
            self.prefix = ""
        elif self.separator:
            self.out.append(self.separator)
        elif self.space:
            self.out.append(" ")
        self.separator = ""
        self.space = False
        self.out.append(text)
        self.line_start = False

    def _end_heading(self) -> None:
        if self.heading:
            self.heading = 0
            self.prefix = ""
            self._break(2)

    # ------------------------------------------------------------------ events
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            if tag in _SKIP:
                self.skip.append(tag)
            return
        if tag in _SKIP:
            self.skip.append(tag)
            return
        if tag == "title":
            self.title = []
            return
        if tag == "meta":
            values = dict(attrs)
            name = values.get("name") or values.get("property")
            content = values.get("content")
            if name and content is not None:
                self.metadata.setdefault("meta", {})[name] = content
            return
        if tag == "html":
            lang = dict(attrs).get("lang")
            if lang:
                self.metadata["lang"] = lang
            return
        if self.pre is not None:
            if tag == "br":
                self.pre.append("\n")
            return
        if tag in _HEADINGS:
            self._end_heading()
            self._break(2)
            self.heading = _HEADINGS[tag]
            self.prefix = "#" * self.heading + " "
        elif tag in _LISTS:
            self._end_heading()
            self.lists += 1
            self._break(2 if self.lists == 1 else 1)
        elif tag == "li":
            self._end_heading()
            self._break(1)
            self.prefix = "  " * max(self.lists - 1, 0) + "- "
        elif tag == "pre":
            self._end_heading()
            self._break(2)
            self.pre = []
        elif tag == "tr":
            self._break(1)
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells and not self.line_start:
                self.separator = " | "
            self.cells += 1
        elif tag == "br":
            if self.heading:
                self.space = True
            else:
                self._break(1)
        elif tag in _BLOCKS:
            self._end_heading()
            self._break(2)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag in _SKIP:
                # close the innermost matching element (tolerates bad nesting)
                for i in range(len(self.skip) - 1, -1, -1):
                    if self.skip[i] == tag:
                        del self.skip[i:]
                        break
            return
        if tag == "title" and self.title is not None:
            title = _WS.sub(" ", "".join(self.title)).strip()
            if title:
                self.metadata["title"] = title
            self.title = None
            return
        if tag == "pre" and self.pre is not None:
            code = "".join(self.pre)
            if code.startswith("\n"):
                code = code[1:]  # HTML ignores a line break right after <pre>
            code = code.rstrip()
            if code.strip():
                fence = "```"
                while fence in code:
                    fence += "`"
                self._write(f"{fence}\n{code}\n{fence}")
            self.pre = None
            self._break(2)
            return
        if self.pre is not None:
            return
        if tag in _HEADINGS:
            self._end_heading()
        elif tag in _LISTS:
            self.lists = max(self.lists - 1, 0)
            self._break(2 if self.lists == 0 else 1)
        elif tag == "li" or tag == "tr":
            self._break(1)
        elif tag in _BLOCKS:
            self._break(2)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.title is not None:
            self.title.append(data)
            return
        if self.pre is not None:
            self.pre.append(data)
            return
        collapsed = _WS.sub(" ", data)
        words = collapsed.strip(" ")
        if not words:
            if collapsed and not self.line_start:
                self.space = True
            return
        if collapsed.startswith(" ") and not self.line_start:
            self.space = True
        self._write(words)
        if collapsed.endswith(" "):
            self.space = True


def html_to_text(html: str) -> tuple[str, dict[str, Any]]:
    """The text of an HTML document as Markdown-like plain text, and its metadata.

    Returns ``(text, metadata)`` where metadata may hold ``title`` (str), ``lang``
    (str) and ``meta`` (a dict of the ``<meta name=... content=...>`` pairs).

    >>> html_to_text("<ul><li>one<ul><li>two</li></ul></li></ul><script>x()</script>")
    ('- one\\n  - two', {})
    """
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    if parser.pre is not None:  # an unclosed <pre>
        parser.handle_endtag("pre")
    if parser.title is not None:
        parser.handle_endtag("title")
    return "".join(parser.out).strip(), parser.metadata

"""covekit.load_documents and covekit.Document: files in, normalized documents out.

The bundled knowledge base, then every file type (txt, md, html, jsonl), encodings
(BOMs, UTF-16 without a BOM, invalid UTF-8, explicit encodings, HTML charsets), edge
cases (empty files and folders, Unicode names, CRLF, NUL and control characters, a
50 MB file, deeply nested and malformed HTML, jsonl with bad lines, duplicates, a glob
that matches nothing), ACL tags and metadata, dedup, progress, summaries and the
Document type itself. Versions are checked against the reference ``xxhash`` package.
"""

from __future__ import annotations

import dataclasses
import doctest
import json
import pickle
from importlib.resources import files
from pathlib import Path

import covekit
import pytest
import shared_data
import xxhash
from covekit import Document, IngestResult, load_documents
from covekit.errors import CovekitError, IngestError, InvalidInput, SourceNotFound

KB = Path(str(files("covekit") / "samples" / "kb"))
KB_FILES = sorted(p.name for p in KB.glob("*.md"))


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", newline="")
    else:
        path.write_bytes(data)
    return path


def only(result: IngestResult) -> Document:
    assert len(result.documents) == 1, (result.documents, result.failures, result.skipped)
    return result.documents[0]


# ------------------------------------------------------------------------ the sample kb


def test_bundled_knowledge_base() -> None:
    result = load_documents(KB)
    assert [doc.id for doc in result] == KB_FILES
    assert result.failures == result.duplicates == result.skipped == ()
    assert result.files == 4
    assert result.bytes == sum((KB / name).stat().st_size for name in KB_FILES)
    for doc in result:
        raw = (KB / doc.id).read_text(encoding="utf-8")
        assert doc.text == raw  # the samples are already clean
        assert doc.version == xxhash.xxh3_128_hexdigest(doc.text.encode("utf-8"))
        assert doc.source == str(KB / doc.id)
        assert doc.normalization is not None and not doc.normalization.changed
        assert dict(doc.metadata) == {
            "path": doc.id,
            "file_type": "md",
            "mtime": (KB / doc.id).stat().st_mtime,
            "size": len(raw.encode("utf-8")),
        }
        assert doc.acl == ()


def test_acl_and_metadata_on_every_document() -> None:
    result = load_documents(KB, acl=["role:support", "user:42"], metadata={"team": "cs"})
    assert len(result) == 4
    for doc in result:
        assert doc.acl == ("role:support", "user:42")
        assert doc.metadata["team"] == "cs"
        assert doc.metadata["path"] == doc.id


def test_same_input_same_result() -> None:
    first = load_documents(KB)
    second = load_documents(KB)
    assert first.documents == second.documents
    assert [d.version for d in first] == [d.version for d in second]


def test_glob_patterns(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# A\n")
    write(tmp_path / "sub" / "deeper" / "b.md", "# B\n")
    write(tmp_path / "sub" / "c.txt", "C\n")
    assert [d.id for d in load_documents(tmp_path / "**" / "*.md")] == ["a.md", "sub/deeper/b.md"]
    assert [d.id for d in load_documents(str(tmp_path / "sub" / "*"))] == ["c.txt"]
    assert [d.id for d in load_documents(tmp_path)] == ["a.md", "sub/c.txt", "sub/deeper/b.md"]
    assert [d.id for d in load_documents(tmp_path, recursive=False)] == ["a.md"]
    assert [d.id for d in load_documents(tmp_path / "sub" / "c.txt")] == ["c.txt"]


def test_hidden_files_and_unsupported_types(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "A")
    write(tmp_path / ".hidden.md", "secret")
    write(tmp_path / ".git" / "HEAD.md", "ref")
    write(tmp_path / "report.pdf", b"%PDF-1.7")
    result = load_documents(tmp_path)
    assert [d.id for d in result] == ["a.md"]
    assert [(Path(s.source).name, s.reason.split(";")[0]) for s in result.skipped] == [
        ("report.pdf", "unsupported file type '.pdf'")
    ]
    # named explicitly, an unsupported file is a failure, not a silent skip
    explicit = load_documents(tmp_path / "report.pdf")
    assert explicit.documents == ()
    assert "covekit reads .htm, .html, .jsonl, .markdown, .md, .txt" in explicit.failures[0].reason


# ------------------------------------------------------------------------ edge cases


def test_glob_without_match_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match=r"no file matches .*\*\.md") as info:
        load_documents(tmp_path / "*.md")
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, IngestError) and isinstance(info.value, CovekitError)
    with pytest.raises(SourceNotFound, match="does not exist"):
        load_documents(tmp_path / "missing-folder" / "*.md")
    with pytest.raises(SourceNotFound, match="does not exist; pass a file, a folder"):
        load_documents(tmp_path / "nothing-here")


def test_empty_folder(tmp_path: Path) -> None:
    result = load_documents(tmp_path)
    assert result.documents == result.failures == result.skipped == ()
    summary = result.summary()
    assert (summary.documents, summary.files, summary.bytes) == (0, 0, 0)
    assert str(summary) == "0 documents from 0 files (0 bytes); 0 duplicates, 0 failures, 0 skipped"


def test_empty_and_blank_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "empty.md", b"")
    write(tmp_path / "blank.txt", " \r\n\t\n\x00")
    write(tmp_path / "bom-only.txt", b"\xef\xbb\xbf")
    write(tmp_path / "real.txt", "text")
    result = load_documents(tmp_path)
    assert [d.id for d in result] == ["real.txt"]
    assert sorted((Path(s.source).name, s.reason) for s in result.skipped) == [
        ("blank.txt", "no text"),
        ("bom-only.txt", "no text"),
        ("empty.md", "no text"),
    ]
    assert result.failures == ()


def test_unicode_file_names(tmp_path: Path) -> None:
    write(tmp_path / "résumé" / "日本語 ノート.md", "# メモ\n")
    doc = only(load_documents(tmp_path))
    assert doc.id == "résumé/日本語 ノート.md"
    assert doc.metadata["path"] == doc.id


@pytest.mark.parametrize(
    "codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"]
)
def test_byte_order_marks(tmp_path: Path, codec: str) -> None:
    text = "Grüße, 世界 🦜\n"
    data = text.encode(codec)
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00"}
    data = bom.get(codec, b"") + data
    doc = only(load_documents(write(tmp_path / "a.txt", data)))
    assert doc.text == text
    assert "\ufeff" not in doc.text


def test_crlf_file_maps_back_to_the_raw_text(tmp_path: Path) -> None:
    raw = "# Title\r\n\r\nFirst line\r\nSecond line\r\n"
    doc = only(load_documents(write(tmp_path / "a.md", raw)))
    assert doc.text == "# Title\n\nFirst line\nSecond line\n"
    assert doc.normalization is not None
    start = doc.text.index("Second")
    raw_start, raw_end = doc.normalization.to_raw_span(start, start + len("Second line"))
    assert raw[raw_start:raw_end] == "Second line"
    # the same text with LF endings is the same version
    lf = only(load_documents(write(tmp_path / "lf" / "a.md", doc.text)))
    assert lf.version == doc.version


def test_nul_and_control_characters(tmp_path: Path) -> None:
    raw = "alpha\x00beta\x1b[1mgamma\x7f\tdelta\x0c\n"
    doc = only(load_documents(write(tmp_path / "a.txt", raw)))
    assert doc.text == "alphabeta[1mgamma\tdelta\n"
    assert doc.normalization is not None
    b = doc.text.index("beta")
    assert raw[slice(*doc.normalization.to_raw_span(b, b + 4))] == "beta"
    kept = only(load_documents(tmp_path / "a.txt", normalize=False))
    assert kept.text == raw and kept.normalization is None


def test_utf16_without_bom_is_reported_not_mangled(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "hello world".encode("utf-16-le"))
    result = load_documents(path)
    assert result.documents == ()
    assert "without a byte-order mark" in result.failures[0].reason
    assert "encoding='utf-16-le'" in result.failures[0].reason
    assert only(load_documents(path, encoding="utf-16-le")).text == "hello world"


def test_invalid_utf8_fails_that_file_only(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "fine")
    write(tmp_path / "b.txt", b"caf\xe9 cr\xe8me")  # latin-1
    write(tmp_path / "c.md", "also fine")
    result = load_documents(tmp_path)
    assert [d.id for d in result] == ["a.md", "c.md"]
    (failure,) = result.failures
    assert failure.source == str(tmp_path / "b.txt")
    assert failure.line is None
    assert failure.reason.startswith("not valid UTF-8: byte 3 (b'\\xe9')")
    assert "encoding='latin-1'" in failure.reason
    assert only(load_documents(tmp_path / "b.txt", encoding="latin-1")).text == "café crème"
    # an explicit encoding that does not fit is a failure too, never a replacement
    bad = load_documents(write(tmp_path / "d.txt", b"\xff\xfe\xff"), encoding="ascii")
    assert "not valid utf-16" in bad.failures[0].reason  # the BOM wins
    bad = load_documents(write(tmp_path / "e.txt", b"ok \xff"), encoding="ascii")
    assert bad.failures[0].reason.startswith("not valid ascii: byte 3")


def test_unknown_encoding_is_a_bad_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown encoding 'klingon'"):
        load_documents(tmp_path, encoding="klingon")


def test_huge_file(tmp_path: Path) -> None:
    line = "A line of a very large plain-text file, with ünïcödé and 漢字.\n"
    path = tmp_path / "huge.txt"
    with path.open("w", encoding="utf-8", newline="") as fh:
        block = line * 10_000
        written = 0
        while written < 50_000_000:
            fh.write(block)
            written += len(block.encode("utf-8"))
        fh.write("the end\r\n")
    result = load_documents(path)
    doc = only(result)
    assert result.bytes == path.stat().st_size >= 50_000_000
    assert doc.text.endswith(line + "the end\n")
    assert len(doc.text) == written // len(line.encode("utf-8")) * len(line) + len("the end\n")
    assert doc.version == xxhash.xxh3_128_hexdigest(doc.text.encode("utf-8"))
    assert doc.normalization is not None
    assert len(list(doc.normalization.regions())) == 1  # only the final CRLF


# ------------------------------------------------------------------------ HTML


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Harbor  Lane
help</title><meta name="description" content="Billing help">
<style>h1 { color: red }</style><script>var secret = "drop me";</script></head>
<body><nav>Home</nav>
<h1>Billing</h1><p>Invoices are   issued
monthly &amp; due in <b>30</b> days.</p>
<h2>Refunds</h2><ul><li>Annual plans<ul><li>within 14 days</li></ul></li><li>Monthly plans</li></ul>
<h3>Fees</h3><table><tr><th>Plan</th><th>Fee</th></tr><tr><td>Team</td><td>5%</td></tr></table>
<pre>
curl https://api.example/v2
  --fail</pre>
<p>Line one<br>line two</p><noscript>enable js</noscript>
</body></html>"""

PAGE_TEXT = """Home

# Billing

Invoices are issued monthly & due in 30 days.

## Refunds

- Annual plans
  - within 14 days
- Monthly plans

### Fees

Plan | Fee
Team | 5%

```
curl https://api.example/v2
  --fail
```

Line one
line two"""


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_html_structure_and_metadata(tmp_path: Path, suffix: str) -> None:
    doc = only(load_documents(write(tmp_path / f"page{suffix}", PAGE)))
    assert doc.text == PAGE_TEXT
    assert doc.metadata["file_type"] == "html"
    assert doc.metadata["title"] == "Harbor Lane help"
    assert doc.metadata["lang"] == "en"
    assert doc.metadata["meta"] == {"description": "Billing help"}
    assert "secret" not in doc.text and "color" not in doc.text and "enable js" not in doc.text


def test_html_headings_are_markdown_atx(tmp_path: Path) -> None:
    html = "".join(f"<h{n}>Level {n}</h{n}><p>text {n}</p>" for n in range(1, 7))
    doc = only(load_documents(write(tmp_path / "h.html", html)))
    for n in range(1, 7):
        assert f"{'#' * n} Level {n}\n\ntext {n}" in doc.text


def test_html_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="windows-1252"></head><p>“Smart” quotes \u2013 ok</p></html>'
    doc = only(load_documents(write(tmp_path / "w.html", html.encode("cp1252"))))
    assert doc.text == "“Smart” quotes \u2013 ok"
    bad = load_documents(write(tmp_path / "x.html", b'<meta charset="nope"><p>\xff</p>'))
    assert "unknown charset 'nope'" in bad.failures[0].reason


def test_deeply_nested_html(tmp_path: Path) -> None:
    depth = 5000
    html = "<div>" * depth + "<p>deep text</p>" + "</div>" * depth
    html += "<ul>" * 100 + "<li>bottom</li>" + "</ul>" * 100
    doc = only(load_documents(write(tmp_path / "deep.html", html)))
    assert doc.text == "deep text\n\n" + "  " * 99 + "- bottom"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>unclosed <b>bold <i>italic</p>after", "unclosed bold italic\n\nafter"),
        ("</div></ul></h2></script>stray end tags", "stray end tags"),
        ("<h2>heading never closed<p>paragraph", "## heading never closed\n\nparagraph"),
        ("<pre>unclosed code", "```\nunclosed code\n```"),
        ("text <script>never closed", "text"),
        # html.parser gives up on the broken tag and keeps it as text: nothing is lost
        ("<p attr='unterminated>broken</p>ok", "<p attr='unterminated>broken\n\nok"),
        ("a < b > c &nosuch; &#xZZ;", "a < b > c &nosuch; &#xZZ;"),
        ("<<<>>> <p>x", "<<<>>>\n\nx"),
        ("<title>only a title</title>", ""),
    ],
)
def test_malformed_html_never_raises(tmp_path: Path, html: str, text: str) -> None:
    result = load_documents(write(tmp_path / "m.html", html))
    assert result.failures == ()
    got = result.documents[0].text if result.documents else ""
    assert got == text


# ------------------------------------------------------------------------ jsonl


def jsonl(*records: object) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def test_jsonl_records(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tickets.jsonl",
        jsonl(
            {"id": "t-1", "text": "Refund please", "acl": ["user:42"], "lang": "en"},
            {"text": "No id here", "priority": 2},
            {"id": 7, "text": "Numeric id"},
        ),
    )
    result = load_documents(path, acl=["role:support"])
    assert [d.id for d in result] == ["t-1", "tickets.jsonl#2", "7"]
    first, second, _ = result.documents
    assert first.acl == ("role:support", "user:42")
    assert second.acl == ("role:support",)
    assert first.metadata["lang"] == "en" and first.metadata["line"] == 1
    assert second.metadata["priority"] == 2
    assert first.metadata["path"] == "tickets.jsonl" and first.metadata["file_type"] == "jsonl"
    assert "text" not in first.metadata and "acl" not in first.metadata
    assert first.source == str(path)


def test_jsonl_custom_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl({"body": "Hello", "key": "k1", "who": ["group:x"], "a": 1, "b": 2}),
    )
    doc = only(
        load_documents(
            path, text_field="body", id_field="key", acl_field="who", metadata_fields=["a", "zz"]
        )
    )
    assert (doc.id, doc.text, doc.acl) == ("k1", "Hello", ("group:x",))
    assert "a" in doc.metadata and "b" not in doc.metadata and "zz" not in doc.metadata
    no_acl_field = only(load_documents(path, text_field="body", id_field=None, acl_field=None))
    assert no_acl_field.acl == () and no_acl_field.id == "a.jsonl#1"
    assert no_acl_field.metadata["who"] == ["group:x"]


def test_jsonl_bad_lines_are_per_line_failures(tmp_path: Path) -> None:
    good = {"id": "ok", "text": "good line"}
    data = (
        jsonl(
            good,
            "{not json",
            "[1, 2]",
            {"id": "x"},
            {"id": "y", "text": 42},
            {"id": ["list"], "text": "bad id"},
            {"id": "z", "text": "bad acl", "acl": "role:admin"},
            "",
            {"id": "ok", "text": "same id, other text"},
        ).encode("utf-8")
        + b'{"id": "bytes", "text": "caf\xe9"}\n'
        + jsonl({"id": "last", "text": "still read"}).encode("utf-8")
    )
    result = load_documents(write(tmp_path / "a.jsonl", data))
    assert [d.id for d in result] == ["ok", "last"]
    reasons = {f.line: f.reason for f in result.failures}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 9, 10]
    assert reasons[2].startswith("not valid JSON: Expecting property name")
    assert reasons[3] == "expected a JSON object, got list"
    assert reasons[4].startswith("no 'text' field")
    assert reasons[5] == "field 'text' is int, not a string"
    assert reasons[6].startswith("id field 'id' must be a non-empty string or an integer")
    assert reasons[7].startswith("acl field 'acl' must be a list of non-empty strings")
    assert reasons[9].startswith("id 'ok' is already used by ")
    assert reasons[10].startswith("not valid UTF-8: byte ")
    assert all(f.source == str(tmp_path / "a.jsonl") for f in result.failures)


def test_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    text = jsonl({"id": "a", "text": "line\r\nbreak"}).replace("\n", "\r\n")
    doc = only(load_documents(write(tmp_path / "a.jsonl", text.encode("utf-16"))))
    assert (doc.id, doc.text) == ("a", "line\nbreak")


# ------------------------------------------------------------------------ freshness


def test_jsonl_freshness_fields_are_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "policies.jsonl",
        jsonl(
            {
                "id": "r-2023",
                "text": "Refunds take 10 days.",
                "valid_until": "2023-12-31",
                "superseded_by": "r-2024",
            },
            {
                "id": "r-2024",
                "text": "Refunds take 5 days.",
                "updated_at": "2024-01-01T09:00:00Z",
                "supersedes": ["r-2023"],
            },
            {"id": "plain", "text": "No freshness here."},
        ),
    )
    old, new, plain = load_documents(path).documents
    assert old.freshness == covekit.Freshness(None, 1704067200.0, ("r-2024",), ())
    assert new.freshness == covekit.Freshness(1704099600.0, None, (), ("r-2023",))
    assert plain.freshness.is_empty
    assert old.metadata["valid_until"] == "2023-12-31"  # the raw value stays in the metadata


def test_jsonl_bad_freshness_is_a_failure_of_that_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        jsonl(
            {"id": "ok", "text": "fine", "updated_at": "2024-03-05"},
            {"id": "vague", "text": "when?", "updated_at": "next week"},
            {"id": "naive", "text": "local time", "valid_until": "2024-03-05T10:00:00"},
            {"id": "nan", "text": "not a number", "updated_at": 1e400},
            {"id": "flag", "text": "a bool", "valid_until": True},
            {
                "id": "order",
                "text": "backwards",
                "updated_at": "2024-03-05",
                "valid_until": "2024-03-01",
            },
            {"id": "empty", "text": "empty id", "superseded_by": ["a", ""]},
            {"id": "self", "text": "itself", "supersedes": "self"},
            {"id": "last", "text": "still read", "valid_until": 1893456000},
        ),
    )
    result = load_documents(path)
    assert [d.id for d in result] == ["ok", "last"]
    reasons = {f.line: f.reason for f in result.failures}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8]
    assert all(f.source == str(path) for f in result.failures)
    assert reasons[2].startswith("updated_at must be an ISO 8601 date")
    assert "'next week'" in reasons[2]
    assert "without a UTC offset is ambiguous: add 'Z'" in reasons[3]
    assert reasons[4].startswith("metadata must be JSON-serialisable")  # 1e400 is inf
    assert reasons[5].startswith("valid_until must be") and "(a bool)" in reasons[5]
    assert "is earlier than updated_at" in reasons[6]
    assert reasons[7].startswith("superseded_by must be a document id")
    assert reasons[8] == (
        "supersedes names the document itself ('self'); list the ids of the other documents"
    )
    assert result.summary().failures == 7


def test_freshness_from_the_metadata_argument(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# A\n")
    write(tmp_path / "b.jsonl", jsonl({"id": "b", "text": "B", "valid_until": "2031-01-01"}))
    result = load_documents(tmp_path, metadata={"valid_until": "2030-12-31"})
    by_id = {d.id: d for d in result}
    assert by_id["a.md"].freshness.valid_until == 1924992000.0  # the end of 2030-12-31
    assert by_id["b"].freshness.valid_until == 1924992000.0 + 86400  # the record wins
    # a bad value for the whole batch is a bad argument, not one failure per file
    with pytest.raises(InvalidInput, match=r"updated_at must be .* got 'soon'"):
        load_documents(tmp_path, metadata={"updated_at": "soon"})


def test_freshness_from_html_meta_tags(tmp_path: Path) -> None:
    write(
        tmp_path / "p.html",
        '<html><head><meta name="updated_at" content="2024-03-05T10:00:00Z">'
        '<meta name="Superseded_By" content="p2.html"></head><p>Old page</p></html>',
    )
    write(tmp_path / "bad.html", '<meta name="valid_until" content="tomorrow"><p>Bad page</p>')
    result = load_documents(tmp_path)
    (doc,) = result.documents
    assert doc.freshness == covekit.Freshness(1709632800.0, None, ("p2.html",), ())
    assert doc.metadata["meta"]["updated_at"] == "2024-03-05T10:00:00Z"  # kept there too
    (failure,) = result.failures
    assert failure.source == str(tmp_path / "bad.html") and failure.line is None
    assert failure.reason.startswith("valid_until must be an ISO 8601 date")


def test_freshness_with_metadata_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({"text": "t", "updated_at": "bad", "lang": "en"}))
    # only the listed fields reach the metadata: an unlisted freshness field is not read
    doc = only(load_documents(path, metadata_fields=["lang"]))
    assert doc.freshness.is_empty
    assert load_documents(path, metadata_fields=["updated_at"]).failures[0].line == 1


def test_mtime_is_not_freshness(tmp_path: Path) -> None:
    doc = only(load_documents(write(tmp_path / "a.md", "# A\n")))
    assert "mtime" in doc.metadata and doc.freshness.is_empty


def test_per_file_freshness_by_replace(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# A\n")
    doc = only(load_documents(tmp_path))
    dated = dataclasses.replace(doc, metadata={**doc.metadata, "updated_at": "2024-03-05"})
    assert dated.freshness.updated_at == 1709596800.0
    assert (dated.version, dated.normalization) == (doc.version, doc.normalization)
    with pytest.raises(InvalidInput, match="updated_at must be"):
        dataclasses.replace(doc, metadata={"updated_at": "last week"})


# ------------------------------------------------------------------------ dedup


def test_duplicate_files(tmp_path: Path) -> None:
    write(tmp_path / "a.md", "# Same\n\nContent.\n")
    write(tmp_path / "b.md", "# Same\r\n\r\nContent.\r\n")  # same once normalized
    write(tmp_path / "c.md", "# Other\n")
    result = load_documents(tmp_path)
    assert [d.id for d in result] == ["a.md", "c.md"]
    (dup,) = result.duplicates
    assert (dup.id, dup.duplicate_of) == ("b.md", "a.md")
    assert dup.version == result.documents[0].version
    assert dup.source == str(tmp_path / "b.md")
    assert result.summary().duplicates == 1
    kept = load_documents(tmp_path, dedup=False)
    assert [d.id for d in kept] == ["a.md", "b.md", "c.md"]
    assert kept.duplicates == ()


def test_duplicates_across_files_and_lines(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "shared text")
    write(tmp_path / "b.jsonl", jsonl({"id": "r1", "text": "shared text"}))
    result = load_documents(tmp_path)
    assert [(d.id, d.duplicate_of) for d in result.duplicates] == [("r1", "a.txt")]


# ------------------------------------------------------------------------ options


def test_normalize_options(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "  spaced   out \n\n\n\ntext ﬁ ")
    doc = only(load_documents(path, normalize={"fold_whitespace": True, "form": "NFKC"}))
    assert doc.text == "spaced out\n\ntext fi"
    with pytest.raises(InvalidInput, match=r"unknown normalize options \['fold'\]"):
        load_documents(path, normalize={"fold": True})
    with pytest.raises(InvalidInput, match="form must be one of"):
        load_documents(path, normalize={"form": "NFX"})
    with pytest.raises(TypeError, match="normalize must be a bool or a dict"):
        load_documents(path, normalize="NFC")  # type: ignore[arg-type]


def test_bad_arguments(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "x")
    with pytest.raises(InvalidInput, match="acl must be a list of principals"):
        load_documents(tmp_path, acl="role:support")
    with pytest.raises(InvalidInput, match="every acl entry must be a non-empty str"):
        load_documents(tmp_path, acl=["ok", ""])
    with pytest.raises(InvalidInput, match="JSON-serialisable"):
        load_documents(tmp_path, metadata={"when": object()})
    with pytest.raises(InvalidInput, match="metadata_fields must be a list"):
        load_documents(tmp_path, metadata_fields="lang")
    with pytest.raises(TypeError, match="path_or_glob must be a str or a path"):
        load_documents(42)  # type: ignore[arg-type]


def test_metadata_precedence(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", jsonl({"text": "t", "team": "from-record"}))
    doc = only(load_documents(tmp_path, metadata={"team": "from-call", "size": "mine"}))
    assert doc.metadata["team"] == "from-record"  # record > call > file
    assert doc.metadata["size"] == "mine"


def test_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        write(tmp_path / f"{i}.txt", f"file {i}")
    load_documents(tmp_path, progress=True)
    assert "covekit: loading" in capsys.readouterr().err
    load_documents(tmp_path, progress=False)
    load_documents(tmp_path)  # 3 files, not a terminal: no bar
    assert capsys.readouterr().err == ""


def test_summary_counts_tokens() -> None:
    shared_data.tokenizer_dir()  # skips without the tokenizer files
    result = load_documents(KB)
    enc = covekit.get_tokenizer("cl100k_base")
    summary = result.summary(enc)
    assert summary.tokens == sum(enc.count(d.text) for d in result)
    assert summary == result.summary("cl100k_base")
    assert (summary.documents, summary.files, summary.failures, summary.chunks) == (4, 4, 0, None)
    assert str(summary).endswith(f", {summary.tokens:,} tokens")


# ------------------------------------------------------------------------ Document


def test_document_is_frozen_and_read_only() -> None:
    doc = Document("text", "id-1", metadata={"k": [1, 2]}, acl=("role:a", "role:a", "user:1"))
    assert doc.acl == ("role:a", "user:1")  # repeats dropped, order kept
    assert doc.version == xxhash.xxh3_128_hexdigest(b"text")
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.text = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        doc.metadata["k"] = 3  # type: ignore[index]
    assert Document("text", "x", version="v1").version == "v1"
    assert Document("", "empty").version == xxhash.xxh3_128_hexdigest(b"")


def test_document_copies_its_metadata() -> None:
    meta = {"k": "v"}
    doc = Document("t", "i", metadata=meta)
    meta["k"] = "changed"
    assert doc.metadata["k"] == "v"


def test_document_bad_input() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        Document(b"bytes", "i")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="id must be a str"):
        Document("t", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="id must be a non-empty str"):
        Document("t", "")
    with pytest.raises(InvalidInput, match="acl must be a list"):
        Document("t", "i", acl="role:x")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="metadata keys must be str"):
        Document("t", "i", metadata={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="JSON-serialisable"):
        Document("t", "i", metadata={"x": float("nan")})
    with pytest.raises(InvalidInput, match="lone surrogates"):
        Document("a\ud800", "i")


def test_document_pickles_and_compares() -> None:
    norm = covekit.normalize_text("a\r\nb")
    doc = Document(norm.text, "d", metadata={"k": 1}, acl=["r"], source="s", normalization=norm)
    again = pickle.loads(pickle.dumps(doc))
    assert again == doc and hash(again) == hash(doc)
    assert again.normalization == norm
    assert again.metadata == {"k": 1}
    assert repr(doc) == (
        f"Document(id='d', text='a\\nb', metadata={{'k': 1}}, acl=('r',), version={doc.version!r})"
    )


def test_document_has_the_chunker_protocol_attributes() -> None:
    doc = only(load_documents(KB / "refunds.md"))
    assert all(hasattr(doc, name) for name in ("text", "id", "metadata", "acl"))


# ------------------------------------------------------------------------ API surface


def test_public_names() -> None:
    for name in ("Document", "IngestResult", "Normalization", "load_documents", "normalize_text"):
        assert name in covekit.__all__ and hasattr(covekit, name)
    for name in ("IngestError", "SourceNotFound"):
        assert name in covekit.errors.__all__


@pytest.mark.parametrize(
    "module",
    [
        "covekit.data.documents",
        "covekit.data.html_text",
        "covekit.data.ingest",
    ],
)
def test_doctests(module: str) -> None:
    import importlib

    shared_data.tokenizer_dir()  # IngestResult.summary's example loads a tokenizer
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0
    assert result.failed == 0

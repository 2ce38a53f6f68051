"""The Answer as data and as a notebook view; the trace's spans as plain data.

The HTML view is rendered in headless Chromium when it is installed (Debian
``chromium``), and the screenshot is checked for the bar's colours: red at the left
end, green at the right end only when the confidence reaches it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from covekit.execution.answer import Answer, AnswerCitation
from covekit.execution.calibrate import ConfidenceSignals
from covekit.observe.trace import Span, SpanEvent, Trace, Tracer
from hypothesis import given
from hypothesis import strategies as st

CITE = AnswerCitation(1, "refunds.md", 7, "v1", 0, 29, "Refunds take 5 business days.")


def test_to_dict_is_json_ready_and_complete() -> None:
    tr = Tracer()
    with tr.span("covekit.pipeline"):
        pass
    a = Answer(
        "Refunds take 5 business days [1].",
        value={"answer": "x", "n": np.int64(3)},
        citations=(CITE,),
        confidence=0.8,
        reasons=("one source only",),
        signals=ConfidenceSignals(sources=1, grounding=1.0),
        trace=tr.trace(),
    )
    d = json.loads(json.dumps(a.to_dict()))
    assert d["outcome"] == "answered" and d["citations"][0]["quote"] == CITE.quote
    assert d["value"] == {"answer": "x", "n": 3}
    assert d["signals"]["sources"] == 1 and d["trace"]["spans"][0]["name"] == "covekit.pipeline"
    assert a.doc_ids == ["refunds.md"] and str(a) == a.text
    assert json.loads(a.to_json())["confidence"] == 0.8


def test_outcomes() -> None:
    assert Answer("", refused=True, reason="no evidence").outcome == "refused"
    assert Answer("", escalated=True, reason="contract").outcome == "escalated"
    assert str(Answer("", refused=True, reason="no evidence")) == "[refused: no evidence]"


@given(st.text(max_size=200), st.floats(-5, 5, allow_nan=False), st.lists(st.text(max_size=30)))
def test_html_escapes_everything(text: str, conf: float, reasons: list[str]) -> None:
    a = Answer(text + "<script>x</script>", citations=(CITE,), confidence=conf,
               reasons=(*reasons, "<b>r</b>"))  # fmt: skip
    h = a._repr_html_()
    assert "<script>" not in h and "<b>r</b>" not in h
    assert h.startswith('<div class="covekit-answer"')


def test_html_edges_unicode_huge_and_refused() -> None:
    big = "é" * 200_000 + " 👍"
    h = Answer(big, confidence=1.0)._repr_html_()
    assert "👍" in h and "No sources cited" in h
    h = Answer("", refused=True, reason="not enough evidence")._repr_html_()
    assert "refused: not enough evidence" in h and "(no answer)" in h
    h = Answer("", value={"answer": 1})._repr_html_()
    assert "&quot;answer&quot;: 1" in h


def _decode(png: Path) -> tuple[list[bytes], int]:
    """The rows of an 8-bit RGB or RGBA PNG (unfiltered) and its bytes per pixel."""
    import zlib

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8
            ctype = body[9]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = {2: 3, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    for r in range(height):
        f = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append(bytes(line))
        prev = line
    return rows, bpp


def _pixel(image: tuple[list[bytes], int], x: int, y: int) -> tuple[int, int, int]:
    rows, bpp = image
    px = rows[y][x * bpp : x * bpp + 3]
    return px[0], px[1], px[2]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    """The bar: a red start, an amber middle, and the part past the confidence veiled."""
    a = Answer("Refunds take 5 business days [1].", citations=(CITE,), confidence=0.9,
               reasons=("one source only",))  # fmt: skip
    page = tmp_path / "a.html"
    page.write_text(
        "<html><body style='margin:0;background:#fff'>" + a._repr_html_().replace(
            'title="confidence"', 'id="bar" title="confidence"') + "</body></html>",
        encoding="utf-8",
    )  # fmt: skip
    png = tmp_path / "a.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", "--window-size=900,600", page.as_uri()],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    image = _decode(png)
    # find the bar: the row with the most strongly red pixel near the left edge
    best = None
    for y in range(0, 600, 1):
        r, g, b = _pixel(image, 22, y)
        if r > 180 and g < 90 and b < 80:
            best = y
            break
    assert best is not None, "no red start of the confidence bar in the screenshot"
    y = best + 3
    r, g, b = _pixel(image, 22 + int(0.5 * 420), y)  # the middle: amber
    assert r > 200 and 120 < g < 200 and b < 90, (r, g, b)
    r, g, b = _pixel(image, 22 + int(0.97 * 420), y)  # past 0.9: veiled, pale
    assert min(r, g, b) > 170, (r, g, b)


def test_trace_round_trip_and_errors() -> None:
    tr = Tracer("ab" * 16)
    with pytest.raises(RuntimeError):
        with tr.span("root") as root:
            root.event("retry", {"attempt": 2})
            raise RuntimeError("boom")
    t = tr.trace()
    assert root.status == "ERROR" and root.attributes["error.type"] == "RuntimeError"
    assert Trace.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    assert t.root is root and t.span("root") is root and t.names() == ["root"]
    with pytest.raises(KeyError):
        t.span("nope")
    with pytest.raises(KeyError):
        _ = Trace("x").root
    assert Span.from_dict({**root.to_dict(), "status": "weird"}).status == "UNSET"
    assert SpanEvent.from_dict(root.events[0].to_dict()) == root.events[0]
    assert len(root.span_id) == 16 and len(t.trace_id) == 32

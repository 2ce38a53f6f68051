"""covekit.Policy: injection detection per family, false positives on benign text, speed.

Run with ``make bench`` (pytest-benchmark collects the test functions), or as a script
that prints the tables::

    python tests/benchmarks/bench_policy.py [--update docs/benchmarks.md]

**Detection.** ``tests/data/injection_set.jsonl``: attacks written for the tests, each
labelled with its family (override, role_header, invisible_text, encoded_blob,
exfiltration) and language, plus benign look-alikes. An attack counts as detected
when ``Policy().check_context(text)`` has a finding of its family (any action);
a look-alike counts as a false positive when it has any finding. The allowlist is
``example.com``, ``*.example.com``, ``img.shields.io`` and ``en.wikipedia.org``.

**False positives.** Text no one here wrote, checked with ``check_context`` and the
default policy: every SciFact document (``title + " " + text``, 5,183) and the
multilingual corpus of ``shared/data/corpus`` (36 languages, in 2,000-character
chunks). A document or chunk counts when the verdict has any finding (flags included).

**Throughput.** ``check_context`` over the SciFact documents one at a time (one
thread, best of 3 passes), and over the multilingual chunks: UTF-8 MB/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from doc_block import update_block  # noqa: E402
from shared_data import beir_dir, corpus_files  # noqa: E402

SET = _HERE.parent / "data" / "injection_set.jsonl"
FAMILIES = ("override", "role_header", "invisible_text", "encoded_blob", "exfiltration")
ALLOWED = ["example.com", "*.example.com", "img.shields.io", "en.wikipedia.org"]


def detection() -> dict[str, Any]:
    import covekit

    p = covekit.Policy(allowed_domains=ALLOWED)
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    langs: dict[str, set[str]] = {}
    benign = benign_hits = 0
    for r in rows:
        fams = {f.family for f in p.check_context(r["text"]).findings}
        if r["label"] == "attack":
            total[r["family"]] += 1
            found[r["family"]] += r["family"] in fams
            langs.setdefault(r["family"], set()).add(r["lang"])
        else:
            benign += 1
            benign_hits += bool(fams)
    return {
        "found": found,
        "total": total,
        "langs": langs,
        "benign": benign,
        "benign_hits": benign_hits,
    }


def detection_table(d: dict[str, Any]) -> str:
    lines = ["| family | attacks | languages | detected | rate |", "|---|---|---|---|---|"]
    for fam in FAMILIES:
        n, k = d["total"][fam], d["found"][fam]
        lines.append(f"| {fam} | {n} | {len(d['langs'][fam])} | {k} | {k / n:.3f} |")
    lines.append(
        f"| benign look-alikes (false positives) | {d['benign']} | | {d['benign_hits']} | "
        f"{d['benign_hits'] / d['benign']:.3f} |"
    )
    return "\n".join(lines)


def _scifact() -> list[str]:
    path = beir_dir("scifact") / "corpus.jsonl"
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            out.append(d["title"] + " " + d["text"])
    return out


def _corpus_chunks() -> list[str]:
    chunks = []
    for path in corpus_files():
        if path.suffix != ".txt":
            continue
        text = path.read_text(encoding="utf-8")
        chunks += [text[k : k + 2000] for k in range(0, len(text), 2000)]
    return chunks


def false_positives_and_speed() -> list[dict[str, Any]]:
    import covekit

    p = covekit.Policy()
    rows = []
    for name, texts in (("SciFact (all documents)", _scifact()),
                        ("multilingual corpus (2,000-char chunks)", _corpus_chunks())):  # fmt: skip
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        hits: Counter[str] = Counter()
        flagged = 0
        best = float("inf")
        for rnd in range(3):
            t0 = time.perf_counter()
            verdicts = [p.check_context(t) for t in texts]
            best = min(best, time.perf_counter() - t0)
            if rnd == 0:
                for v in verdicts:
                    flagged += bool(v.findings)
                    for f in v.findings:
                        hits[f.rule] += 1
        rows.append({"name": name, "n": len(texts), "mb": mb, "flagged": flagged,
                     "rules": dict(hits), "mbps": mb / best})  # fmt: skip
    return rows


def fp_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| text | items | MB | items with a finding | FP rate | findings by rule | "
        "check_context MB/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rules = ", ".join(f"{k} {v}" for k, v in sorted(r["rules"].items())) or "none"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {r['mb']:.1f} | {r['flagged']} | "
            f"{r['flagged'] / r['n']:.4f} | {rules} | {r['mbps']:.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    import covekit

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, covekit {covekit.__version__}"
    )


def test_policy_detection() -> None:
    print("\n" + detection_table(detection()))


def test_policy_false_positives_and_speed() -> None:
    print("\n" + fp_table(false_positives_and_speed()))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--update", type=Path)
    args = ap.parse_args()
    parts = [
        f"Machine: {machine()}.",
        "#### Prompt-injection detection (tests/data/injection_set.jsonl)",
        detection_table(detection()),
        "#### False positives and throughput of check_context (default Policy, one thread)",
        fp_table(false_positives_and_speed()),
    ]
    text = "\n\n".join(parts)
    print(text)
    if args.update:
        update_block(args.update, "bench_policy.py", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

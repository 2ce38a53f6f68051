"""PII and secret scanning: covekit.Redactor against Presidio and detect-secrets (issue 16).

Run with ``make bench`` (pytest collects ``test_redact``), or as a script that prints
the tables::

    python tests/benchmarks/bench_redact.py [--markdown] [--update docs/benchmarks.md]
        [--items 2400] [--timing-items 800] [--fp-mb 1.0]

**Inputs.** The labelled synthetic corpus of ``tests/pii_corpus.py`` (``generate()``:
2,400 items, ten Faker locales, tickets, chats, e-mails, logs and configs, every
entity at known offsets, plus labelled hard negatives), and, for false positives,
real text no one here wrote: BEIR SciFact's abstracts and the multilingual corpus of
``shared/data/corpus`` (Gutenberg books in 30+ languages), read through
``tests/shared_data.py``. All three scanners see the same strings in one process.

**Presidio** (``presidio-analyzer``): pattern recognizers only. Its spaCy engine is
given ``spacy.blank("en")`` by a subclass of ``SpacyNlpEngine`` whose ``load()``
builds the blank pipeline: ``NlpEngineProvider`` with ``model_name: "blank:en"`` does
not work offline (it asks spaCy's model index online and fails). ``SpacyRecognizer``
(NER) is removed from the registry; with a blank pipeline it finds nothing anyway.
``PhoneRecognizer`` is given the corpus's ten regions (its default is eight, without
ES, IT, NL, JP): the strongest configuration of the peer, not the default. Every text
is analyzed with ``language="en"`` (Presidio's context words are per language; the
pattern recognizers are not), ``entities=`` restricted to the seven that map to
covekit's (so Presidio runs only those recognizers), score threshold 0 (its default).
tldextract, which Presidio's e-mail validator calls, is pointed at its bundled suffix
list (``suffix_list_urls=()``) so nothing is fetched.

**detect-secrets**: the plugins for the same kinds (AWSKeyDetector,
GitHubTokenDetector, OpenAIDetector, SlackDetector, StripeDetector,
PrivateKeyDetector, JwtTokenDetector, KeywordDetector, BasicAuthDetector,
Base64HighEntropyString limit 4.5, HexHighEntropyString limit 3.0: its defaults) with
its default filters, in-process: each text's lines go through
``detect_secrets.core.scan._process_line_based_plugins``, the loop behind
``scan_file``. (``scan_line``, the ad-hoc entry point, runs an *eager* search in
which the entropy plugins report every token regardless of entropy, so it is not
what a repository scan does.) detect-secrets reports a secret's value and line, not
its offset: the offset is every occurrence of the value in that line. It has no
Google or Anthropic plugin; a generic entropy or keyword finding still counts in the
*any plugin* column.

**Match rule.** A gold span is *found* (overlap) when a finding of the same entity
overlaps it by at least one character; *exact* when a finding of the same entity has
the same ``[start, end)``. Precision: the share of a scanner's findings of an entity
that overlap a gold span of that entity; findings on placeholders count as false
positives (the allowlist view) and the EMAIL row is also given with placeholder
e-mails counted as positives (Presidio's view). A hard negative is *flagged* when
any finding overlaps it.

**Throughput**: one thread, the first ``--timing-items`` items of the corpus, one
call per item (``scan`` for covekit, ``analyze`` for Presidio, the line loop for
detect-secrets), best of rounds; MB is UTF-8 bytes.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import logging
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for p in (_HERE, _HERE.parent):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import pii_corpus as pc  # noqa: E402
from doc_block import update_block  # noqa: E402
from timing import best_per_call  # noqa: E402

NA = "n/a"
Finding = tuple[str, int, int]  # (covekit entity, start, end)

#: Presidio entity -> covekit entity (the recognizers that produce them)
PRESIDIO_MAP = {
    "EMAIL_ADDRESS": "EMAIL",  # EmailRecognizer (regex + tldextract validation)
    "PHONE_NUMBER": "PHONE",  # PhoneRecognizer (phonenumbers' matcher)
    "CREDIT_CARD": "CREDIT_CARD",  # CreditCardRecognizer (regex + Luhn)
    "IBAN_CODE": "IBAN",  # IbanRecognizer (per-country regex + mod-97)
    "US_SSN": "US_SSN",  # UsSsnRecognizer (regex + invalid-range checks)
    "IP_ADDRESS": "IP_ADDRESS",  # IpRecognizer (v4 and v6 regex + ipaddress)
    "MAC_ADDRESS": "MAC_ADDRESS",  # MacAddressRecognizer
}
# Not compared: Presidio's UrlRecognizer finds URLs, not the credentials inside one
# (URL_CREDENTIALS), and Presidio has no secret recognizers.
PRESIDIO_ENTITIES = sorted(set(PRESIDIO_MAP.values()))

#: detect-secrets secret type -> covekit entity
DS_MAP = {
    "AWS Access Key": "AWS_ACCESS_KEY",
    "GitHub Token": "GITHUB_TOKEN",
    "OpenAI Token": "OPENAI_API_KEY",
    "Slack Token": "SLACK_TOKEN",
    "Stripe Access Key": "STRIPE_KEY",
    "Private Key": "PRIVATE_KEY",
    "JSON Web Token": "JWT",
    "Secret Keyword": "GENERIC_SECRET",
    "Base64 High Entropy String": "GENERIC_SECRET",
    "Hex High Entropy String": "GENERIC_SECRET",
    "Basic Auth Credentials": "URL_CREDENTIALS",
}
DS_PLUGINS = [
    {"name": n}
    for n in (
        "AWSKeyDetector",
        "GitHubTokenDetector",
        "OpenAIDetector",
        "SlackDetector",
        "StripeDetector",
        "PrivateKeyDetector",
        "JwtTokenDetector",
        "KeywordDetector",
        "BasicAuthDetector",
    )
] + [
    {"name": "Base64HighEntropyString", "limit": 4.5},
    {"name": "HexHighEntropyString", "limit": 3.0},
]
DS_ENTITIES = sorted(set(DS_MAP.values()))
#: the secret kinds whose recall is compared with detect-secrets'
SECRET_KINDS = [e for e in pc.SECRETS] + ["URL_CREDENTIALS"]


@dataclass
class Scanner:
    name: str
    scan: Callable[[str], list[Finding]]
    entities: list[str]
    note: str = ""


# ----------------------------------------------------------------------------- adapters
def covekit_scanner() -> Scanner | None:
    """covekit.Redactor behind the benchmark's interface; None until it exists."""
    import covekit

    cls = getattr(covekit, "Redactor", None)
    if cls is None:
        return None
    r = cls()

    # covekit's AWS_SECRET_KEY (a keyword-assigned AWS secret) is the corpus's generic secret
    alias = {"AWS_SECRET_KEY": "GENERIC_SECRET"}

    def scan(text: str) -> list[Finding]:
        return [(alias.get(f.entity, f.entity), f.start, f.end) for f in r.scan(text)]

    return Scanner("covekit", scan, list(pc.ENTITIES), "covekit.Redactor() defaults")


@functools.lru_cache(maxsize=1)
def presidio_scanner() -> Scanner:
    import spacy
    import tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    # offline: the bundled public-suffix snapshot, never a download
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    class BlankSpacyEngine(SpacyNlpEngine):
        """Presidio's spaCy engine on ``spacy.blank``: tokens, no model download."""

        def load(self) -> None:
            self.nlp = {m["lang_code"]: spacy.blank(m["lang_code"]) for m in self.models}

    engine = BlankSpacyEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
    registry.remove_recognizer("SpacyRecognizer")
    registry.remove_recognizer("PhoneRecognizer")
    regions = tuple(r for _, r in pc.LOCALES.values())
    registry.add_recognizer(PhoneRecognizer(supported_regions=regions))
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    wanted = list(PRESIDIO_MAP)

    def scan(text: str) -> list[Finding]:
        res = analyzer.analyze(text, language="en", entities=wanted)
        return [(PRESIDIO_MAP[r.entity_type], r.start, r.end) for r in res]

    return Scanner(
        "Presidio",
        scan,
        PRESIDIO_ENTITIES,
        f"presidio-analyzer {_version('presidio-analyzer')}, spaCy {spacy.__version__} blank('en')",
    )


_KEEP: list[Any] = []


@functools.lru_cache(maxsize=1)
def detect_secrets_scanner() -> Scanner:
    from detect_secrets.core.scan import _process_line_based_plugins
    from detect_secrets.settings import transient_settings

    # detect-secrets' settings are global: entered once and kept for the process (the
    # context manager object must stay referenced, or its generator's finally restores
    # the old settings when it is collected)
    ctx = transient_settings({"plugins_used": DS_PLUGINS})
    ctx.__enter__()
    _KEEP.append(ctx)
    atexit.register(ctx.__exit__, None, None, None)

    def scan(text: str) -> list[Finding]:
        lines = text.split("\n")
        starts = [0]
        for ln in lines[:-1]:
            starts.append(starts[-1] + len(ln) + 1)
        out: list[Finding] = []
        seen = set()
        for s in _process_line_based_plugins(list(enumerate(lines, 1)), filename="adhoc.txt"):
            ent = DS_MAP.get(s.type)
            if ent is None or not s.secret_value:
                continue
            line = lines[s.line_number - 1]
            base, i = starts[s.line_number - 1], line.find(s.secret_value)
            while i >= 0:
                f = (ent, base + i, base + i + len(s.secret_value))
                if f not in seen:
                    seen.add(f)
                    out.append(f)
                i = line.find(s.secret_value, i + 1)
        return out

    return Scanner(
        "detect-secrets", scan, DS_ENTITIES, f"detect-secrets {_version('detect-secrets')}"
    )


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


# ----------------------------------------------------------------------------- metrics
def _ov(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


@dataclass
class Scores:
    gold: dict[str, int]
    found: dict[str, int]
    exact: dict[str, int]
    any_found: dict[str, int]  # found by a finding of any entity
    pred: dict[str, int]
    tp_pred: dict[str, int]
    placeholder_email_found: int
    placeholder_email_total: int
    email_pred_on_placeholder: int
    neg_total: dict[str, int]
    neg_flagged: dict[str, int]
    neg_examples: dict[str, list[str]]


def score(items: list[pc.Item], results: list[list[Finding]]) -> Scores:
    dd = lambda: defaultdict(int)  # noqa: E731
    gold, found, exact, anyf, pred, tpp = dd(), dd(), dd(), dd(), dd(), dd()
    negt, negf = dd(), dd()
    negx: dict[str, list[str]] = defaultdict(list)
    ph_found = ph_total = ph_pred = 0
    for it, fs in zip(items, results, strict=True):
        for s in it.spans:
            gold[s.entity] += 1
            same = [f for f in fs if f[0] == s.entity and _ov(f[1], f[2], s.start, s.end)]
            found[s.entity] += bool(same)
            exact[s.entity] += any(f[1] == s.start and f[2] == s.end for f in same)
            anyf[s.entity] += any(_ov(f[1], f[2], s.start, s.end) for f in fs)
        for g in it.negatives:
            negt[g.kind] += 1
            hit = [f for f in fs if _ov(f[1], f[2], g.start, g.end)]
            if hit:
                negf[g.kind] += 1
                if len(negx[g.kind]) < 3:
                    negx[g.kind].append(f"`{g.value[:40]}` as {hit[0][0]}")
            if g.kind == "placeholder" and g.lookalike == "EMAIL":
                ph_total += 1
                ph_found += any(f[0] == "EMAIL" for f in hit)
        for f in fs:
            pred[f[0]] += 1
            tpp[f[0]] += any(s.entity == f[0] and _ov(f[1], f[2], s.start, s.end) for s in it.spans)
            if f[0] == "EMAIL":
                ph_pred += any(
                    g.kind == "placeholder"
                    and g.lookalike == "EMAIL"
                    and _ov(f[1], f[2], g.start, g.end)
                    for g in it.negatives
                )
    return Scores(
        gold, found, exact, anyf, pred, tpp, ph_found, ph_total, ph_pred, negt, negf, negx
    )


def run(scanner: Scanner, texts: list[str]) -> list[list[Finding]]:
    return [scanner.scan(t) for t in texts]


def throughput(scanner: Scanner, texts: list[str], rounds: int) -> dict[str, float]:
    mb = sum(len(t.encode()) for t in texts) / 1e6
    sec = best_per_call(lambda: [scanner.scan(t) for t in texts], rounds, min_time=0.0)
    return {"seconds": sec, "mb_s": mb / sec, "items_s": len(texts) / sec, "mb": mb}


# ----------------------------------------------------------------------------- real text
def real_text(mb_per_source: float) -> dict[str, list[str]]:
    """Paragraphs of SciFact abstracts and of the multilingual corpus, about
    ``mb_per_source`` MB (UTF-8) each; the corpus sample takes the same share of every
    file."""
    from shared_data import beir_dir, corpus_files, data_dir

    budget = int(mb_per_source * 1e6)
    sci: list[str] = []
    used = 0
    with open(beir_dir("scifact") / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            t = (d.get("title", "") + "\n" + d.get("text", "")).strip()
            sci.append(t)
            used += len(t.encode())
            if used >= budget:
                break
    root = data_dir("corpus")
    files = [f for f in corpus_files() if f.parent != root]  # not SOURCES.md, LICENSE
    per_file = budget // len(files)
    multi: list[str] = []
    for f in files:
        data = f.read_bytes()[: per_file * 2].decode("utf-8", errors="ignore")
        taken = 0
        for para in data.split("\n"):
            para = para.strip()
            if not para:
                continue
            multi.append(para)
            taken += len(para.encode())
            if taken >= per_file:
                break
    return {
        "SciFact abstracts": sci,
        "shared/data/corpus: 46 books in 30+ languages, 5 English texts": multi,
    }


def false_positives(scanner: Scanner, texts: list[str]) -> tuple[float, dict[str, int], list[str]]:
    mb = sum(len(t.encode()) for t in texts) / 1e6
    per: dict[str, int] = defaultdict(int)
    ex: list[str] = []
    for t in texts:
        for e, s, end in scanner.scan(t):
            per[e] += 1
            if len(ex) < 4:
                ex.append(f"{e} `{t[s:end][:40]}`")
    return sum(per.values()) / mb, dict(per), ex


# ----------------------------------------------------------------------------- report
def _pct(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else NA


def report(n_items: int, timing_items: int, fp_mb: float, rounds: int = 2) -> str:
    t0 = time.perf_counter()
    items = pc.generate(n_items)
    gen_s = time.perf_counter() - t0
    texts = [it.text for it in items]
    ck = covekit_scanner()
    pr = presidio_scanner()
    ds = detect_secrets_scanner()
    scanners = [s for s in (ck, pr, ds) if s is not None]
    res = {s.name: run(s, texts) for s in scanners}
    sc = {name: score(items, r) for name, r in res.items()}
    timing = {s.name: throughput(s, texts[:timing_items], rounds) for s in scanners}
    missing = (
        ""
        if ck
        else (
            "**covekit.Redactor does not exist yet: its rows are missing (n/a); the peers' "
            "figures below are measured.**"
        )
    )
    mb_all = sum(len(t.encode()) for t in texts) / 1e6
    parts = [
        f"Machine: {machine()}.",
        f"Corpus: tests/pii_corpus.py, {len(items):,} items ({mb_all:.2f} MB), "
        f"{sum(len(i.spans) for i in items):,} labelled entities, "
        f"{sum(len(i.negatives) for i in items):,} labelled hard negatives, generated in "
        f"{gen_s:.2f} s. Peers: {pr.note}, pattern recognizers only (blank pipeline via a "
        f"`SpacyNlpEngine` subclass, no model download; `NlpEngineProvider` with "
        f"`blank:en` fails offline); {ds.note}.",
    ]
    if missing:
        parts.append(missing)

    # throughput
    lines = [
        "| scanner (one thread) | items/s | MB/s | covekit / scanner |",
        "|---|---:|---:|---:|",
    ]
    for s in scanners:
        t = timing[s.name]
        ratio = f"{timing['covekit']['mb_s'] / t['mb_s']:.0f}x" if ck else NA
        lines.append(f"| {s.name} | {t['items_s']:,.0f} | {t['mb_s']:.3f} | {ratio} |")
    if not ck:
        lines.insert(2, "| covekit | n/a | n/a | n/a |")
    parts += [
        "#### Throughput",
        f"First {timing_items:,} items ({timing[pr.name]['mb']:.2f} MB), one call per item.",
        "\n".join(lines),
    ]

    # PII recall / precision vs Presidio
    c, p = sc.get("covekit"), sc["Presidio"]
    lines = [
        "| entity | gold | covekit recall (overlap / exact) | Presidio recall (overlap / exact) | "
        "covekit precision | Presidio precision | covekit ≥ Presidio? |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for e in PRESIDIO_ENTITIES:
        cr = f"{_pct(c.found[e], c.gold[e])} / {_pct(c.exact[e], c.gold[e])}" if c else NA
        cp = _pct(c.tp_pred[e], c.pred[e]) if c else NA
        ok = ("yes" if c.found[e] / c.gold[e] >= p.found[e] / p.gold[e] else "**no**") if c else NA
        lines.append(
            f"| {e} | {p.gold[e]} | {cr} | {_pct(p.found[e], p.gold[e])} / "
            f"{_pct(p.exact[e], p.gold[e])} | {cp} | {_pct(p.tp_pred[e], p.pred[e])} | {ok} |"
        )

    def with_ph(s: Scores) -> str:
        rec = _pct(
            s.found["EMAIL"] + s.placeholder_email_found,
            s.gold["EMAIL"] + s.placeholder_email_total,
        )
        prec = _pct(s.tp_pred["EMAIL"] + s.email_pred_on_placeholder, s.pred["EMAIL"])
        return f"{rec} / {prec}"

    lines.append(
        f"| EMAIL, placeholders as positives (recall / precision) | "
        f"{p.gold['EMAIL'] + p.placeholder_email_total} | {with_ph(c) if c else NA} | "
        f"{with_ph(p)} | | | |"
    )
    parts += ["#### PII: recall and precision against Presidio", "\n".join(lines)]

    # secrets vs detect-secrets
    d = sc["detect-secrets"]
    lines = [
        "| kind | gold | covekit recall | detect-secrets recall (same kind) | detect-secrets "
        "recall "
        "(any plugin) | covekit precision | detect-secrets precision | covekit ≥ detect-secrets? |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in SECRET_KINDS:
        cr = _pct(c.found[e], c.gold[e]) if c else NA
        ok = (
            ("yes" if c.found[e] / d.gold[e] >= d.any_found[e] / d.gold[e] else "**no**")
            if c
            else NA
        )
        lines.append(
            f"| {e} | {d.gold[e]} | {cr} | {_pct(d.found[e], d.gold[e])} | "
            f"{_pct(d.any_found[e], d.gold[e])} | {_pct(c.tp_pred[e], c.pred[e]) if c else NA} | "
            f"{_pct(d.tp_pred[e], d.pred[e]) if e in DS_ENTITIES else NA} | {ok} |"
        )
    parts += [
        "#### Secrets: recall against detect-secrets",
        "covekit is compared with "
        "detect-secrets' *any plugin* column (a secret counts as caught when any of its "
        "plugins overlaps it).",
        "\n".join(lines),
    ]

    # hard negatives
    lines = [
        "| hard negative | n | covekit flagged | Presidio flagged | detect-secrets flagged | "
        "examples (Presidio; detect-secrets) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for k in pc.NEGATIVE_KINDS:
        n = p.neg_total[k]
        exs = "; ".join(p.neg_examples.get(k, [])[:2] + d.neg_examples.get(k, [])[:1])
        lines.append(
            f"| {k} | {n} | {_pct(c.neg_flagged[k], n) if c else NA} | "
            f"{_pct(p.neg_flagged[k], n)} | {_pct(d.neg_flagged[k], n)} | {exs} |"
        )
    parts += ["#### Hard negatives (share flagged by any finding)", "\n".join(lines)]

    # false positives on real text
    try:
        real = real_text(fp_mb)
    except BaseException as exc:  # pytest.skip outside pytest: data missing
        parts.append(f"False positives on real text: skipped ({exc}).")
        real = {}
    if real:
        lines = [
            "| text | MB | covekit findings/MB | Presidio findings/MB | "
            "detect-secrets findings/MB |",
            "|---|---:|---:|---:|---:|",
        ]
        notes = []
        for src, tx in real.items():
            mb = sum(len(t.encode()) for t in tx) / 1e6
            row = [f"| {src} | {mb:.2f}"]
            for name in ("covekit", "Presidio", "detect-secrets"):
                s = next((x for x in scanners if x.name == name), None)
                if s is None:
                    row.append(NA)
                    continue
                per_mb, per, ex = false_positives(s, tx)
                row.append(f"{per_mb:.1f}")
                if per:
                    top = ", ".join(
                        f"{k} {v}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])
                    )
                    notes.append(f"- {name} on {src}: {top}; e.g. {'; '.join(ex[:3])}")
            lines.append(" | ".join(row) + " |")
        parts += [
            "#### Findings per MB on real text (no PII was put there: all are false "
            "positives, bar the odd real address in a Gutenberg licence)",
            "\n".join(lines),
            "\n".join(notes),
        ]

    # targets
    lines = ["| target | measured | met? |", "|---|---|---|"]
    if ck:
        r = timing["covekit"]["mb_s"] / timing["Presidio"]["mb_s"]
        lines.append(
            f"| throughput ≥ 50x Presidio (one thread) | {r:.0f}x | "
            f"{'yes' if r >= 50 else '**no**'} |"
        )
        bad = [e for e in PRESIDIO_ENTITIES if c.found[e] / c.gold[e] < p.found[e] / p.gold[e]]
        lines.append(
            f"| recall ≥ Presidio's on every shared entity | below on: {', '.join(bad) or 'none'} "
            f"| {'yes' if not bad else '**no**'} |"
        )
        bad = [e for e in SECRET_KINDS if c.found[e] < d.any_found[e]]
        lines.append(
            f"| recall ≥ detect-secrets' on every secret kind | below on: "
            f"{', '.join(bad) or 'none'} | {'yes' if not bad else '**no**'} |"
        )
        r2 = timing["covekit"]["mb_s"] / timing["detect-secrets"]["mb_s"]
        lines.append(f"| throughput vs detect-secrets (reported) | {r2:.0f}x | n/a |")
    else:
        lines.append("| all covekit targets | covekit.Redactor missing | n/a |")
    parts += ["#### Targets", "\n".join(lines)]
    return "\n\n".join(parts)


def machine() -> str:
    import covekit

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, covekit {covekit.__version__}"
    )


def test_redact() -> None:
    import pytest

    for mod in ("faker", "phonenumbers", "presidio_analyzer", "spacy", "detect_secrets"):
        pytest.importorskip(mod, reason=f"bench_redact needs {mod} (bench extra)")
    print("\n" + report(2400, 800, 1.0))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print the tables (the default)")
    ap.add_argument("--update", type=Path)
    ap.add_argument("--items", type=int, default=2400)
    ap.add_argument("--timing-items", type=int, default=800)
    ap.add_argument("--fp-mb", type=float, default=1.0, help="MB of each real-text source")
    args = ap.parse_args()
    text = report(args.items, args.timing_items, args.fp_mb)
    print(text)
    if args.update:
        update_block(args.update, "bench_redact.py", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

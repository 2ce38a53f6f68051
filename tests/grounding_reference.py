"""A straightforward pure-Python version of the native grounding scores (the oracle of
test_grounding.py and the peer of bench_grounding.py).

Same formulas and the same floating-point operations as cpp/src/grounding.cpp, so the
results must match: sentence order, spans, and scores. Terms and sentence spans come
from covekit's analyzer and segmenter (tested on their own); quotes are left out.
"""

from __future__ import annotations

import itertools
import math
import re

import covekit
from covekit._core import Grounder, english_stopwords

ANALYZER = covekit.Analyzer(stopwords=[w for w in english_stopwords() if w not in ("no", "not")])
_SEGMENTER = Grounder()
_MARKER = re.compile(r"\[(\d{1,9}(?:, *\d{1,9})*)\]")


def rank(
    question: str,
    passages: list[str],
    *,
    k1: float = 1.2,
    b: float = 0.75,
    overlap_weight: float = 0.5,
) -> list[tuple[int, int, int, float, float, float, int]]:
    """(passage, start, end, score, bm25, overlap, terms), best first, as Grounder.rank."""
    qtf: dict[str, float] = {}
    for t in ANALYZER.analyze(question):
        qtf[t] = qtf.get(t, 0.0) + 1
    sents = []
    for pi, text in enumerate(passages):
        for s, e in _SEGMENTER.sentences(text):
            terms = ANALYZER.analyze(text[s:e])
            counts: dict[str, int] = {}
            for t in terms:
                if t in qtf:
                    counts[t] = counts.get(t, 0) + 1
            sents.append([pi, s, e, 0.0, 0.0, 0.0, len(terms), counts])
    nonempty = sum(1 for x in sents if x[6])
    if qtf and nonempty:
        n = float(nonempty)
        avgdl = sum(x[6] for x in sents) / n
        df = {t: sum(1 for x in sents if t in x[7]) for t in qtf}
        idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in qtf}
        best = 0.0
        for x in sents:
            norm = k1 * (1.0 - b + b * x[6] / avgdl)
            score = 0.0
            for t in qtf:  # question order, as the native ids
                tf = x[7].get(t)
                if tf:
                    score += qtf[t] * idf[t] * (tf / (tf + norm))
            x[4] = score
            x[5] = len(x[7]) / len(qtf)
            best = max(best, score)
        for x in sents:
            x[3] = overlap_weight * x[5] + (
                (1.0 - overlap_weight) * x[4] / best if best > 0 else 0.0
            )
    sents.sort(key=lambda x: -x[3])
    return [(x[0], x[1], x[2], x[3], x[4], x[5], x[6]) for x in sents]


def support(answer: str, passages: dict[int, str]) -> list[tuple[int, int, tuple[int, ...], float]]:
    """(start, end, markers, support) of each sentence, as Grounder.support."""
    marks = [
        (m.start(), m.end(), [int(v) for v in m.group(1).split(",")])
        for m in _MARKER.finditer(answer)
    ]

    def blanked(s: int, e: int) -> str:
        chars = list(answer[s:e])
        for ms, me, _ in marks:
            if ms >= s and me <= e:
                chars[ms - s : me - s] = " " * (me - ms)
        return "".join(chars)

    spans: list[list[int]] = []
    for s, e in _SEGMENTER.sentences(answer):
        inside = any(ms >= s and me <= e for ms, me, _ in marks)
        if inside and spans and not ANALYZER.analyze(blanked(s, e)):
            spans[-1][1] = e
            continue
        spans.append([s, e])
    cited: list[int] = []
    for _, _, values in marks:
        for v in values:
            if v in passages and v not in cited:
                cited.append(v)
    fallback = cited or list(passages)
    sets: dict[int, tuple[set[str], set[tuple[str, str]]]] = {}
    for m, text in passages.items():
        terms = ANALYZER.analyze(text)
        sets[m] = (set(terms), set(itertools.pairwise(terms)))
    out = []
    for s, e in spans:
        markers: list[int] = []
        for ms, me, values in marks:
            if ms >= s and me <= e:
                markers += [v for v in values if v not in markers]
        terms = ANALYZER.analyze(blanked(s, e))
        uni = list(dict.fromkeys(terms))
        bi = list(dict.fromkeys(itertools.pairwise(terms)))
        cand = [m for m in markers if m in passages] if markers else fallback
        if not uni:
            out.append((s, e, tuple(markers), 1.0))
            continue
        best = -1.0
        for m in cand:
            pu, pb = sets[m]
            u = sum(1 for t in uni if t in pu) / len(uni)
            sup = u if not bi else (u + sum(1 for p in bi if p in pb) / len(bi)) / 2.0
            best = max(best, sup)
        out.append((s, e, tuple(markers), max(best, 0.0)))
    return out

# ruff: noqa: RUF001, RUF002  (look-alike and fullwidth characters are this module's subject)
"""Banned terms (literal, on folded text) and banned topics (embedding similarity).

:class:`BannedTerms` compiles every term into one regular expression over the folded
text (:mod:`covekit.decision.textfold`: case, width, accents, invisible characters and
mixed-script look-alikes do not hide a term). A term is matched as a whole word where
its first or last character is a letter or digit of a script that separates words with
spaces; in Chinese, Japanese, Thai and similar scripts it is matched anywhere.

:class:`Topic` describes a topic by a few example phrases; :class:`TopicMatcher`
embeds each sentence of a text and reports the sentences whose cosine similarity to
an example reaches the topic's threshold.

>>> from covekit.decision.topics import BannedTerms
>>> bt = BannedTerms(["acme secret", "Project X"])
>>> [(t, s, e) for t, s, e in bt.find("Is ＡＣＭＥ  Secret out? project xray, project X.")]
[('acme secret', 3, 15), ('Project X', 35, 44)]

Thread safety: both classes are immutable after construction; ``find`` may run from
many threads at once (as the embedder allows: covekit's do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from covekit.decision.textfold import Folded, fold
from covekit.errors import InvalidInput

if TYPE_CHECKING:
    import numpy.typing as npt

    from covekit.data.embed import Embedder

__all__ = ["BannedTerms", "Topic", "TopicMatcher", "split_sentences"]


def _unspaced(c: str) -> bool:
    """Scripts written without spaces between words (a term there has no boundaries)."""
    o = ord(c)
    return (
        0x0E00 <= o < 0x0F00  # Thai, Lao
        or 0x1000 <= o < 0x10A0  # Myanmar
        or 0x1780 <= o < 0x1800  # Khmer
        or 0x2E80 <= o < 0xA000  # CJK, kana
        or 0xF900 <= o < 0xFB00
        or 0x20000 <= o < 0x30000
    )


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(part) for part in term.split())
    left = r"(?<!\w)" if (term[0].isalnum() and not _unspaced(term[0])) else ""
    right = r"(?!\w)" if (term[-1].isalnum() and not _unspaced(term[-1])) else ""
    return left + body + right


class BannedTerms:
    """Literal terms never allowed, matched on folded text (module docs).

    >>> BannedTerms(["naïve"]).find("NAIVE and naive")
    [('naïve', 0, 5), ('naïve', 10, 15)]
    """

    __slots__ = ("_by_folded", "_order", "_pattern", "terms")

    def __init__(self, terms: Iterable[str]) -> None:
        if isinstance(terms, str):
            raise InvalidInput(
                f"banned_terms must be a list of str, not one str: write [{terms!r}]"
            )
        by_folded: dict[str, str] = {}
        for t in terms:
            if not isinstance(t, str):
                raise InvalidInput(f"a banned term must be a str, not {type(t).__name__}")
            folded = " ".join(fold(t).text.split())
            if not folded:
                raise InvalidInput(f"banned term {t!r} is empty once folded")
            by_folded.setdefault(folded, t)
        self.terms: tuple[str, ...] = tuple(by_folded.values())
        self._by_folded = by_folded
        ordered = sorted(by_folded, key=len, reverse=True)  # longest first
        self._order: list[str] = ordered
        self._pattern = (
            re.compile("|".join(f"({_term_pattern(t)})" for t in ordered)) if ordered else None
        )

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, text: str, folded: Folded | None = None) -> list[tuple[str, int, int]]:
        """``(term as given, start, end)`` for every occurrence, ``str`` offsets into
        ``text``."""
        if self._pattern is None or not text:
            return []
        f = folded if folded is not None else fold(text)
        out = []
        for m in self._pattern.finditer(f.text):
            key = self._order[(m.lastindex or 1) - 1]
            s, e = f.span(m.start(), m.end())
            out.append((self._by_folded[key], s, e))
        return out


@dataclass(frozen=True, slots=True)
class Topic:
    """A banned topic: a ``name``, a few ``examples`` (phrases that are on the topic)
    and an optional ``threshold`` (cosine similarity; default: the policy's).

    >>> Topic("weapons", ["how to build a bomb", "making explosives at home"]).name
    'weapons'
    """

    name: str
    examples: tuple[str, ...] = field(default=())
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput("a topic needs a non-empty name")
        ex = self.examples
        if isinstance(ex, str):
            raise InvalidInput(
                f"topic {self.name!r}: examples must be a list of phrases, not one str"
            )
        ex = tuple(ex)
        if not ex or not all(isinstance(e, str) and e.strip() for e in ex):
            raise InvalidInput(f"topic {self.name!r} needs at least one non-empty example phrase")
        object.__setattr__(self, "examples", ex)
        if self.threshold is not None and not (0.0 < float(self.threshold) <= 1.0):
            raise InvalidInput(
                f"topic {self.name!r}: threshold must be in (0, 1], got {self.threshold!r}"
            )


_SENTENCE = re.compile(r"[^\n.!?。！？;；]+(?:[.!?。！？;；]+|$)", re.M)


def split_sentences(text: str, *, max_chars: int = 1000) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text`` (ends at ``.!?;`` and their CJK
    forms, or a line break), surrounding spaces trimmed; a sentence longer than
    ``max_chars`` is cut into windows of that size.

    >>> t = "First one. Second!\\nThird"
    >>> [t[s:e] for s, e in split_sentences(t)]
    ['First one.', 'Second!', 'Third']
    """
    out = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if not any(c.isalnum() for c in text[s:e]):
            continue
        while e - s > max_chars:
            out.append((s, s + max_chars))
            s += max_chars
        out.append((s, e))
    return out


def _unit(m: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: npt.NDArray[np.float32] = (m / norms).astype(np.float32, copy=False)
    return out


class TopicMatcher:
    """Sentence-level similarity of a text to banned topics, with an :class:`Embedder`.

    >>> import covekit
    >>> m = TopicMatcher([Topic("gambling", ["best online casino bonus", "bet on sports odds"])],
    ...                  covekit.HashingEmbedder(), threshold=0.5)
    >>> [(name, s, e) for name, s, e, _ in m.find("Hi. Best online casino bonus codes here.")]
    [('gambling', 4, 40)]
    """

    def __init__(self, topics: Sequence[Topic], embedder: Embedder, *, threshold: float) -> None:
        if not callable(getattr(embedder, "embed", None)):
            raise InvalidInput(
                "embedder must be a covekit.Embedder (with embed(texts) -> array), e.g. "
                f"covekit.HashingEmbedder(); got {type(embedder).__name__}"
            )
        if not 0.0 < threshold <= 1.0:
            raise InvalidInput(f"topic_threshold must be in (0, 1], got {threshold!r}")
        self.topics = tuple(topics)
        self.embedder = embedder
        self.threshold = float(threshold)
        examples = [e for t in self.topics for e in t.examples]
        self._owner = np.array([i for i, t in enumerate(self.topics) for _ in t.examples], np.int64)
        self._vectors = _unit(np.asarray(embedder.embed(examples), dtype=np.float32))
        if self._vectors.shape[0] != len(examples):
            raise InvalidInput(
                f"the embedder returned {self._vectors.shape[0]} vectors for {len(examples)} texts"
            )
        self._thresholds = np.array(
            [t.threshold if t.threshold is not None else self.threshold for t in self.topics],
            np.float32,
        )

    def find(self, text: str) -> list[tuple[str, int, int, float]]:
        """``(topic, start, end, similarity)`` for each sentence on a banned topic (its
        best topic only)."""
        if not self.topics or not text:
            return []
        spans = split_sentences(text)
        if not spans:
            return []
        vecs = _unit(np.asarray(self.embedder.embed([text[s:e] for s, e in spans]), np.float32))
        sims = vecs @ self._vectors.T  # (sentences, examples)
        best = np.full((len(spans), len(self.topics)), -1.0, np.float32)
        for j in range(len(self.topics)):
            cols = self._owner == j
            best[:, j] = sims[:, cols].max(axis=1)
        margin = best - self._thresholds[None, :]
        out = []
        for i in np.nonzero((margin >= 0).any(axis=1))[0]:
            j = int(np.argmax(margin[i]))
            s, e = spans[int(i)]
            out.append((self.topics[j].name, s, e, float(best[i, j])))
        return out

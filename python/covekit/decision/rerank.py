"""Reranking the retrieved candidates before they are packed: the :class:`Reranker`
protocol, maximal marginal relevance in C++ (:class:`MMRReranker`, the default) and a
sentence-transformers cross-encoder (:class:`CrossEncoderReranker`).

A reranker gets the query and the candidates and returns ``(chunk_id, score)`` pairs,
best first. It may leave candidates out (they are dropped as ``below_threshold``);
it may not return ids it was not given, repeat one, or give a score that is not a
finite number: :func:`run_reranker` turns each of those, and any exception it raises,
into :class:`~covekit.errors.RerankerError` naming the reranker.

>>> import numpy as np
>>> from covekit.decision.rerank import Candidate, MMRReranker
>>> cands = [Candidate(1, "a", "refunds take 5 days", 2.0, 1, np.array([1, 0], np.float32)),
...          Candidate(2, "a", "refunds take 5 days.", 1.9, 2, np.array([1, 0.01], np.float32)),
...          Candidate(3, "b", "cards are charged monthly", 1.0, 3, np.array([0, 1], np.float32))]
>>> [cid for cid, _ in MMRReranker(lambda_=0.5).rerank("refunds", cands)]
[1, 3, 2]

Thread safety: the rerankers here keep no per-call state; :class:`CrossEncoderReranker`
is as thread-safe as the model it wraps (sentence-transformers models are, for
``predict``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from covekit import _core
from covekit.data.embed import Embedder, HashingEmbedder
from covekit.data.fusion import _normalize
from covekit.errors import OptionalDependencyMissing, RerankerError

__all__ = [
    "Candidate",
    "CrossEncoderReranker",
    "MMRReranker",
    "Reranker",
    "run_reranker",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A retrieved chunk as the rerankers see it: its ids, text, retrieval ``score``
    and ``rank`` (1-based), and its embedding when the retriever has one.

    >>> Candidate(7, "doc", "text", 0.5, 1).vector is None
    True
    """

    chunk_id: int
    doc_id: str
    text: str
    score: float
    rank: int
    vector: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)


@runtime_checkable
class Reranker(Protocol):
    """Reorders candidates: ``rerank(query, candidates) -> [(chunk_id, score), ...]``,
    best first (a subset is allowed)."""

    @property
    def name(self) -> str: ...

    def rerank(
        self, query: str, candidates: Sequence[Candidate]
    ) -> Sequence[tuple[int, float]]: ...


class MMRReranker:
    """Maximal marginal relevance (Carbonell & Goldstein, 1998), in C++.

    Each pick maximises ``lambda_ * relevance - (1 - lambda_) * max cos(picked)``, where
    relevance is the retrieval score scaled to [0, 1] over the candidates and the
    similarity is the cosine of the chunks' embeddings. Embeddings come from the
    candidates (the knowledge base's stored vectors) or, when they have none, from
    ``embedder`` (default: :class:`~covekit.HashingEmbedder`). The score returned is the
    one each candidate had when picked, so near-copies of an earlier pick score low.

    >>> MMRReranker(lambda_=0.7)
    MMRReranker(lambda_=0.7)
    """

    def __init__(self, lambda_: float = 0.7, *, embedder: Embedder | None = None) -> None:
        if (
            isinstance(lambda_, bool)
            or not isinstance(lambda_, int | float)
            or not (0.0 <= lambda_ <= 1.0)
        ):
            raise RerankerError(
                f"lambda_ must be a number in [0, 1], got {lambda_!r}", reranker="mmr"
            )
        self.lambda_ = float(lambda_)
        self._embedder = embedder

    @property
    def name(self) -> str:
        return f"mmr(lambda={self.lambda_:g})"

    def __repr__(self) -> str:
        return f"MMRReranker(lambda_={self.lambda_:g})"

    def _vectors(self, candidates: Sequence[Candidate]) -> npt.NDArray[np.float32]:
        if all(c.vector is not None for c in candidates):
            return np.ascontiguousarray(np.stack([c.vector for c in candidates]), dtype=np.float32)  # type: ignore[misc]
        if self._embedder is None:
            self._embedder = HashingEmbedder()
        return np.ascontiguousarray(
            self._embedder.embed([c.text for c in candidates]), dtype=np.float32
        )

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[tuple[int, float]]:
        """The candidates in MMR order with their MMR scores."""
        if not candidates:
            return []
        vecs = self._vectors(candidates)
        relevance = _normalize(np.array([c.score for c in candidates], np.float64), "minmax")
        order, scores = _core.mmr(vecs, relevance, self.lambda_, len(candidates))
        return [(candidates[int(i)].chunk_id, float(s)) for i, s in zip(order, scores, strict=True)]


class CrossEncoderReranker:
    """Scores (query, chunk) pairs with a sentence-transformers ``CrossEncoder``.

    ``model`` is a model name or path (loaded on first use; needs the ``st`` extra and
    the model files) or an already-built object with a ``predict(pairs)`` method.

    >>> class Overlap:  # any object with predict(pairs) -> scores
    ...     def predict(self, pairs, batch_size=32):
    ...         return [len(set(q.split()) & set(t.split())) for q, t in pairs]
    >>> r = CrossEncoderReranker(Overlap())
    >>> [cid for cid, _ in r.rerank("late refund", [Candidate(1, "a", "card fees", 1.0, 1),
    ...                                             Candidate(2, "b", "a late refund", 0.5, 2)])]
    [2, 1]
    """

    def __init__(
        self, model: Any = "cross-encoder/ms-marco-MiniLM-L-6-v2", *, batch_size: int = 32
    ) -> None:
        self._model = model
        self._name = model if isinstance(model, str) else type(model).__name__
        self.batch_size = int(batch_size)

    @property
    def name(self) -> str:
        return f"cross-encoder({self._name})"

    def _loaded(self) -> Any:
        if isinstance(self._model, str):
            try:
                from sentence_transformers import CrossEncoder
            except ImportError:
                raise OptionalDependencyMissing(
                    "CrossEncoderReranker needs sentence-transformers: pip install 'covekit[st]'"
                ) from None
            self._model = CrossEncoder(self._model)
        return self._model

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[tuple[int, float]]:
        """The candidates by descending cross-encoder score (ties: retrieval order)."""
        if not candidates:
            return []
        scores = self._loaded().predict(
            [(query, c.text) for c in candidates], batch_size=self.batch_size
        )
        s = [float(x) for x in np.asarray(scores, dtype=np.float64).reshape(-1)]
        order = sorted(range(len(candidates)), key=lambda i: (-s[i], i))
        return [(candidates[i].chunk_id, s[i]) for i in order]


def run_reranker(
    reranker: Reranker, query: str, candidates: Sequence[Candidate]
) -> list[tuple[int, float]]:
    """Calls ``reranker`` and checks its answer.

    Raises:
        RerankerError: it raised (the cause is chained), returned something that is not
            a list of ``(chunk_id, score)`` pairs, an id it was not given, an id twice,
            or a score that is not a finite number.

    >>> class Bad:
    ...     name = "bad"
    ...     def rerank(self, query, candidates):
    ...         return [(999, 1.0)]
    >>> try:
    ...     run_reranker(Bad(), "q", [Candidate(1, "a", "t", 1.0, 1)])
    ... except RerankerError as exc:
    ...     print(exc)
    reranker bad returned chunk id 999, which it was not given (given: 1)
    """
    name = str(getattr(reranker, "name", type(reranker).__name__))
    try:
        got = reranker.rerank(query, candidates)
        pairs = [(int(cid), float(score)) for cid, score in got]
    except RerankerError:
        raise
    except (TypeError, ValueError) as exc:
        raise RerankerError(
            f"reranker {name} must return a list of (chunk_id, score) pairs: {exc}", reranker=name
        ) from exc
    except Exception as exc:
        raise RerankerError(
            f"reranker {name} raised {type(exc).__name__}: {exc}", reranker=name
        ) from exc
    given = {c.chunk_id for c in candidates}
    seen: set[int] = set()
    for cid, score in pairs:
        if cid not in given:
            shown = ", ".join(str(c.chunk_id) for c in candidates[:5])
            more = f", ... ({len(candidates)} in all)" if len(candidates) > 5 else ""
            raise RerankerError(
                f"reranker {name} returned chunk id {cid}, which it was not given "
                f"(given: {shown}{more})",
                reranker=name,
            )
        if cid in seen:
            raise RerankerError(f"reranker {name} returned chunk id {cid} twice", reranker=name)
        if not math.isfinite(score):
            raise RerankerError(
                f"reranker {name} gave chunk {cid} the score {score}; scores must be finite",
                reranker=name,
            )
        seen.add(cid)
    return pairs

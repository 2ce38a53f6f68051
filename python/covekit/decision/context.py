"""The context builder: the best evidence the caller may see, packed into an exact
token budget, with a record of why each piece is in or out.

:meth:`ContextBuilder.build` runs these steps, each replaceable or configurable:

1. **retrieve** with the caller's principals (required) and a filter;
2. **threshold** (``min_score``), **freshness** (stale and superseded documents,
   :class:`FreshnessPolicy`) and the **policy hook** (``policy``: a callable that may
   flag a candidate);
3. **rerank** through a :class:`~covekit.decision.rerank.Reranker` (default: MMR in
   C++ over the chunks' stored embeddings);
4. **near-duplicate removal** (:class:`~covekit.NearDuplicates`: MinHash over token
   shingles, XXH3, in C++);
5. **pack** the sections (system, policy, tools, query, evidence, history) into the
   budget with the native packer (:func:`covekit.pack`): exact optimum up to 24
   optional items, a greedy with repair above; at most ``per_document_cap`` chunks
   of one document;
6. **conflicts**: values (durations, amounts, dates...) on which kept chunks of
   different documents disagree (:func:`covekit.find_conflicts`), noted in the
   evidence and the manifest;
7. **order and render**: evidence ordered ``"edges"`` (most relevant first and last),
   ``"rank"`` or ``"document"``, numbered ``[1]``, ``[2]``... and counted exactly as the
   model is billed (every message's framing, the reply priming). If the rendered
   prompt comes out above the budget (tokens merge differently once blocks are joined)
   the evidence is packed again into the smaller room, until it fits.

>>> import covekit
>>> kb = covekit.KnowledgeBase(covekit.Chunker("cl100k_base", max_tokens=64))
>>> _ = kb.add([covekit.Document("Refunds take 5-10 business days.", "refunds.md",
...                              acl=["role:support"]),
...             covekit.Document("Salaries are paid monthly.", "payroll.md", acl=["role:hr"])])
>>> builder = covekit.ContextBuilder(kb, model="gpt-4o-mini")
>>> ctx = builder.build("How long do refunds take?", principals=["role:support"],
...                     budget=300, system="Answer from the sources; cite them as [n].")
>>> [m["role"] for m in ctx.messages]
['system', 'user', 'user']
>>> print(ctx.messages[1]["content"])
Sources:
<BLANKLINE>
[1] refunds.md
Refunds take 5-10 business days.
>>> ctx.citations[1].doc_id, ctx.prompt_tokens <= 300
('refunds.md', True)
>>> ctx.prompt_tokens == covekit.count_chat_tokens(ctx.messages, model="gpt-4o-mini")
True

Thread safety: a ContextBuilder is immutable after construction and ``build`` may run
from many threads at once (as its retriever, reranker and hooks allow: the ones
covekit provides do).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from covekit.data.filters import Filter
from covekit.data.fusion import _normalize
from covekit.data.knowledge_base import KnowledgeBase, SearchHit
from covekit.data.tokenize import Tokenizer, get_tokenizer, tokenizer_for_model
from covekit.decision.budget import Budget, BudgetPlan, Deadline
from covekit.decision.chat_format import ChatFormat, chat_format_for_model
from covekit.decision.dedup import NearDuplicates
from covekit.decision.manifest import (
    CandidateRecord,
    Citation,
    ContextManifest,
    SectionRecord,
    StepRecord,
)
from covekit.decision.packing import Section, pack
from covekit.decision.policy import Policy
from covekit.decision.rerank import Candidate, MMRReranker, Reranker, run_reranker
from covekit.errors import BudgetExceeded, InvalidInput
from covekit.observe.trace import child_span

if TYPE_CHECKING:
    from covekit.decision.conflicts import Conflict

__all__ = ["Context", "ContextBuilder", "FreshnessPolicy", "Retriever"]

Message = dict[str, Any]
Order = Literal["edges", "rank", "document"]

#: The sections a context has, in the order their messages appear.
SECTION_NAMES = ("system", "policy", "tools", "history", "evidence", "query")
DEFAULT_SECTIONS: dict[str, Section] = {
    "system": Section("system", priority=0, required=True),
    "policy": Section("policy", priority=0, required=True),
    "tools": Section("tools", priority=0, required=True),
    "query": Section("query", priority=0, required=True),
    "evidence": Section("evidence", priority=1),
    "history": Section("history", priority=2),
}
_MAX_REPACKS = 16


class Retriever(Protocol):
    """Anything that finds chunks for a principal: ``search(query, k, *, principals,
    filter) -> list[SearchHit]`` (a :class:`~covekit.KnowledgeBase` is one)."""

    def search(
        self,
        query: str,
        k: int = ...,
        *,
        principals: Sequence[str] | None,
        filter: Filter | None = ...,
    ) -> list[SearchHit]: ...


@dataclass(frozen=True, slots=True)
class FreshnessPolicy:
    """What to do with chunks of stale or superseded documents.

    A document is **stale** when its ``valid_until`` has passed, or when its
    ``updated_at`` is older than the TTL of its source (``ttl`` maps a prefix of the
    document's ``source`` metadata field, or of its id when it has none, to seconds;
    the longest matching prefix wins; ``""`` matches every document). It is
    **superseded** when another document names it in ``supersedes`` or it names
    another in ``superseded_by``, and the caller may see that document (a knowledge
    base checks; another retriever's hits are taken at their word). ``"drop"`` leaves
    such chunks out (reason ``stale`` or ``superseded_by``); ``"flag"`` keeps them with a
    flag in the manifest.
    ``now`` gives the time (POSIX seconds; default: the wall clock).

    >>> FreshnessPolicy(stale="flag", ttl={"tickets/": 30 * 86400}).stale
    'flag'
    """

    stale: Literal["drop", "flag"] = "drop"
    superseded: Literal["drop", "flag"] = "drop"
    ttl: Mapping[str, float] = field(default_factory=dict)
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        for name in ("stale", "superseded"):
            if getattr(self, name) not in ("drop", "flag"):
                raise InvalidInput(
                    f"FreshnessPolicy.{name} must be 'drop' or 'flag', got {getattr(self, name)!r}"
                )
        for prefix, secs in self.ttl.items():
            if not isinstance(prefix, str):
                raise InvalidInput(f"ttl keys are source prefixes (str), got {prefix!r}")
            if isinstance(secs, bool) or not isinstance(secs, int | float) or not secs > 0:
                raise InvalidInput(f"ttl[{prefix!r}] must be a number of seconds > 0, got {secs!r}")

    def ttl_for(self, source: str) -> float | None:
        """The TTL (seconds) of a source: its longest matching prefix, or None."""
        best: str | None = None
        for prefix in self.ttl:
            if source.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        return None if best is None else float(self.ttl[best])


@dataclass(frozen=True, slots=True)
class Context:
    """What :meth:`ContextBuilder.build` returns.

    ``messages`` is ready for a chat model; ``citations`` maps each marker of the
    evidence to its chunk, document, version and offsets; ``manifest`` records every
    decision (:class:`~covekit.decision.manifest.ContextManifest`); ``prompt_tokens``
    is the prompt exactly as the model is billed for it; ``conflicts`` lists what the
    kept sources disagree on; ``plan`` is the budget plan the deadline chose, if any.

    >>> import covekit
    >>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=32))
    >>> _ = kb.add(covekit.Document("Refunds take 5 days.", "refunds.md", acl=["u:1"]))
    >>> ctx = covekit.ContextBuilder(kb, model="gpt-4o").build("refunds?", principals=["u:1"],
    ...                                                        budget=100)
    >>> [c.doc_id for c in ctx.evidence], ctx.prompt_tokens <= 100
    (['refunds.md'], True)
    """

    messages: list[Message]
    citations: dict[int, Citation]
    manifest: ContextManifest
    prompt_tokens: int
    conflicts: tuple[Conflict, ...] = ()
    plan: BudgetPlan | None = None

    @property
    def text(self) -> str:
        """The messages as one text (role headers and contents), for completion models."""
        return "\n\n".join(f"{m['role']}:\n{m['content']}" for m in self.messages)

    @property
    def evidence(self) -> list[Citation]:
        """The cited chunks, in marker order."""
        return [self.citations[k] for k in sorted(self.citations)]


@dataclass(slots=True)
class _Cand:
    """A candidate while it moves through the steps (mutable, private)."""

    hit: SearchHit
    record: dict[str, Any]
    rerank_score: float | None = None
    utility: float = 0.0
    tokens: int = 0
    vector: Any = None
    flags: list[str] = field(default_factory=list)


class _Costs:
    """The tokens each message adds to the prompt, counted once per build: the fixed
    messages and the whole history turns are the same objects in every repack, and only
    the evidence message (and a cut history turn) is new. Entries keep their message
    alive, so an id is never reused while it is a key."""

    __slots__ = ("_count", "_memo")

    def __init__(self, count: Callable[[Message], int]) -> None:
        self._count = count
        self._memo: dict[int, tuple[Message, int]] = {}

    def __call__(self, message: Message) -> int:
        hit = self._memo.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        n = self._count(message)
        self._memo[id(message)] = (message, n)
        return n


def _signals(hit: SearchHit) -> dict[str, dict[str, float | int | None]]:
    if not hit.signals:
        return {}
    return {k: {"rank": v.rank, "score": v.score} for k, v in hit.signals.items()}


class ContextBuilder:
    """Builds the context of a request from a retriever (module docs).

    Args:
        retriever: a :class:`~covekit.KnowledgeBase`, or anything with
            ``search(query, k, *, principals, filter) -> list[SearchHit]``.
        model: the target model (``"gpt-4o-mini"``, ``"openai:gpt-4o"``): its
            tokenizer and chat framing count the tokens, and its context window and
            price come from the price table via :class:`~covekit.Budget`.
        tokenizer: counts the tokens instead (default: the model's, else the knowledge
            base's chunker's, else ``o200k_base``).
        chat_format: the per-message framing (default: the model's).
        candidates: chunks retrieved per request.
        sections: per-section overrides (:class:`~covekit.Section` by name: ``system``,
            ``policy``, ``tools``, ``query``, ``evidence``, ``history``).
        reranker: a :class:`~covekit.decision.rerank.Reranker`, or ``None`` to keep the
            retrieval order (default: :class:`~covekit.decision.rerank.MMRReranker`).
        dedup: a :class:`~covekit.NearDuplicates`, ``None`` to keep duplicates, or a
            threshold (default 0.8) for one over word shingles.
        freshness: a :class:`FreshnessPolicy` (default: drop stale and superseded).
        policy: a :class:`covekit.Policy`, whose ``check_context`` runs on each
            candidate: a ``"quarantine"`` or ``"block"`` verdict drops it with the
            reason ``flagged`` (the manifest record carries the findings: rule and span
            into the chunk's text), a ``"flag"`` verdict keeps it with the flag
            ``"flagged"`` and the findings; or a ``hook(hit) -> None | reason``, where a
            reason flags the candidate out.
        min_score: candidates whose retrieval score is below it are left out.
        per_document_cap: at most this many chunks of one document (0: no cap).
        order: the evidence order: ``"edges"`` (best first and last, to counter "lost in
            the middle"), ``"rank"`` or ``"document"`` (by document, then offset).
        utility: what the packer maximises for evidence: ``"rank"`` (1 / rank² of the
            reranked order: steep enough that a long top chunk is not traded for a few
            short low-ranked ones, and robust to a reranker's score scale),
            ``"log-rank"`` (1 / log2(1 + rank), flatter) or ``"score"`` (the reranker's
            scores scaled to [0.05, 1]).
        truncate_evidence: let the packer cut the last chunk that does not fit whole
            (at token boundaries, keeping at least 32 tokens; the citation's ``end``
            says where the shown text stops).
        note_conflicts: add a line to the evidence that names what the sources disagree
            on (counted in the budget).
        evidence_header: the first line of the evidence message.

    >>> import covekit
    >>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=32))
    >>> b = covekit.ContextBuilder(kb, model="gpt-4o-mini", per_document_cap=1, order="rank")
    >>> b.tokenizer.name, b.per_document_cap, b.reranker.name
    ('o200k_base', 1, 'mmr(lambda=0.9)')
    """

    def __init__(
        self,
        retriever: Retriever | KnowledgeBase,
        *,
        model: str | None = None,
        tokenizer: Tokenizer | str | None = None,
        chat_format: ChatFormat | None = None,
        candidates: int = 50,
        sections: Sequence[Section] | Mapping[str, Section] | None = None,
        reranker: Reranker | Literal["default"] | None = "default",
        dedup: NearDuplicates | float | None = 0.8,
        freshness: FreshnessPolicy | None = None,
        policy: Policy | Callable[[SearchHit], str | None] | None = None,
        min_score: float | None = None,
        per_document_cap: int = 2,
        order: Order = "edges",
        utility: Literal["rank", "log-rank", "score"] = "rank",
        truncate_evidence: bool = False,
        note_conflicts: bool = True,
        evidence_header: str = "Sources:",
    ) -> None:
        if not callable(getattr(retriever, "search", None)):
            raise InvalidInput(
                "retriever must be a covekit.KnowledgeBase or have a search(query, k, *, "
                f"principals, filter) method; got {type(retriever).__name__}"
            )
        self.retriever = retriever
        self.model = model
        self.tokenizer = self._tokenizer(tokenizer, model, retriever)
        self.chat_format = chat_format or (chat_format_for_model(model) if model else ChatFormat())
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise InvalidInput(f"candidates must be an int >= 1, got {candidates!r}")
        self.candidates = candidates
        self.sections = self._sections(sections)
        self.reranker: Reranker | None = (
            MMRReranker(0.9) if isinstance(reranker, str) and reranker == "default" else reranker
        )
        if self.reranker is not None and not callable(getattr(self.reranker, "rerank", None)):
            raise InvalidInput(
                f"reranker must have a rerank(query, candidates) method, got {self.reranker!r}"
            )
        if isinstance(dedup, bool):
            raise InvalidInput("dedup must be a NearDuplicates, a threshold in [0, 1], or None")
        self.dedup = NearDuplicates(threshold=dedup) if isinstance(dedup, int | float) else dedup
        self.freshness = freshness or FreshnessPolicy()
        if policy is not None and not isinstance(policy, Policy) and not callable(policy):
            raise InvalidInput("policy must be a covekit.Policy or a callable hit -> None | reason")
        self.policy = policy
        if min_score is not None and not math.isfinite(min_score):
            raise InvalidInput(f"min_score must be a finite number or None, got {min_score!r}")
        self.min_score = min_score
        if (
            isinstance(per_document_cap, bool)
            or not isinstance(per_document_cap, int)
            or (per_document_cap < 0)
        ):
            raise InvalidInput(f"per_document_cap must be an int >= 0, got {per_document_cap!r}")
        self.per_document_cap = per_document_cap
        if order not in ("edges", "rank", "document"):
            raise InvalidInput(f"order must be 'edges', 'rank' or 'document', got {order!r}")
        self.order: Order = order
        if utility not in ("rank", "log-rank", "score"):
            raise InvalidInput(f"utility must be 'rank' or 'score', got {utility!r}")
        self.utility = utility
        self.truncate_evidence = bool(truncate_evidence)
        self.note_conflicts = bool(note_conflicts)
        self.evidence_header = str(evidence_header)
        # framing costs, counted once
        self._reply = self._count_messages([])  # the reply priming
        self._evidence_overhead = self._message_cost(
            {"role": "user", "content": self.evidence_header + "\n\n"}
        )

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _tokenizer(tok: Tokenizer | str | None, model: str | None, retriever: Any) -> Tokenizer:
        if isinstance(tok, Tokenizer):
            return tok
        if isinstance(tok, str):
            return get_tokenizer(tok)
        if tok is not None:
            raise InvalidInput(
                f"tokenizer must be a covekit.Tokenizer or an encoding name, not {tok!r}"
            )
        if model:
            return tokenizer_for_model(model.split(":", 1)[-1])
        if isinstance(retriever, KnowledgeBase):
            return retriever.chunker.tokenizer
        return get_tokenizer("o200k_base")

    @staticmethod
    def _sections(given: Sequence[Section] | Mapping[str, Section] | None) -> dict[str, Section]:
        out = dict(DEFAULT_SECTIONS)
        if given is None:
            return out
        items = list(given.values()) if isinstance(given, Mapping) else list(given)
        for s in items:
            if not isinstance(s, Section):
                raise InvalidInput(
                    f"sections must be covekit.Section objects, not {type(s).__name__}"
                )
            if s.name not in out:
                raise InvalidInput(
                    f"unknown section {s.name!r}; the sections are {', '.join(SECTION_NAMES)}"
                )
            out[s.name] = s
        if out["query"].required is False:
            raise InvalidInput("the query section must stay required: the question is the request")
        return out

    def __repr__(self) -> str:
        return (
            f"<covekit.ContextBuilder model={self.model!r} encoding={self.tokenizer.name!r} "
            f"candidates={self.candidates} reranker={getattr(self.reranker, 'name', None)!r}>"
        )

    # ------------------------------------------------------------------ counting
    def _count(self, text: str) -> int:
        return int(self.tokenizer.count(text, disallowed_special=()))

    def _count_messages(self, messages: Sequence[Message]) -> int:
        return int(self.chat_format.count(list(messages), self.tokenizer))

    def _message_cost(self, message: Message) -> int:
        """The tokens one message adds to a prompt (its framing included)."""
        return self._count_messages([message]) - self._reply

    # ------------------------------------------------------------------ build
    def build(
        self,
        query: str,
        *,
        principals: Sequence[str],
        budget: Budget | int,
        system: str | None = None,
        policy: str | None = None,
        history: Sequence[Mapping[str, Any]] = (),
        tools: Sequence[Mapping[str, Any]] = (),
        filter: Filter | None = None,
        deadline: Deadline | None = None,
    ) -> Context:
        """The context for ``query`` as ``principals`` may see it, within ``budget``.

        Args:
            query: the user's request (the last message).
            principals: the caller's identities; required, never ``None`` here.
            budget: prompt tokens (an int) or a :class:`~covekit.Budget` (its
                ``prompt_room`` for the builder's model; its deadline and degrade
                thresholds apply).
            system, policy: instructions, each a system message (required sections).
            history: earlier chat messages (``{"role", "content"}``), truncated from the
                oldest when they do not fit.
            tools: tool definitions (OpenAI's ``{"type": "function", "function": ...}``),
                rendered as text in a system message so that their tokens are exact.
            deadline: overrides the budget's deadline.

        Raises:
            InvalidInput: an empty query, missing principals, a bad message.
            BudgetExceeded: the required sections (system, policy, tools, the query)
                and the section minimums do not fit; the message says by how much.
            RerankerError: the reranker raised or returned ids it was not given.
        """
        t_start = time.perf_counter()
        if not isinstance(query, str):
            raise InvalidInput(f"query must be a str, not {type(query).__name__}")
        if not query.strip():
            raise InvalidInput("query is empty; pass the user's request")
        if principals is None:
            raise InvalidInput(
                "principals is required: pass the caller's identities, e.g. ['user:42', "
                "'role:support']; the context builder never retrieves without them"
            )
        if isinstance(principals, str):
            raise InvalidInput("principals must be a list such as ['user:42'], not a single str")
        principals = list(principals)
        room, plan, deadline = self._room(budget, deadline)
        skip = set(plan.skip) if plan is not None else set()
        steps: list[StepRecord] = []

        def step_skipped(name: str) -> str | None:
            if name in skip:
                return f"skipped by the budget plan ({plan.reason})" if plan else "skipped"
            if deadline is not None:
                return deadline.should_skip(name)
            return None

        # fixed sections
        fixed = self._fixed_messages(query, system, policy, tools)
        history_msgs = self._history(history)

        # 1. retrieve
        t = time.perf_counter()
        why = step_skipped("retrieve")
        hits: list[SearchHit] = []
        if why is None:
            top_k = {"gen_ai.operation.name": "retrieval", "gen_ai.request.top_k": self.candidates}
            with child_span("retrieve", top_k) as span:
                hits = self._retrieve(query, principals, filter)
                if span is not None:
                    span.set("covekit.retrieve.hits", len(hits))
                    if hits:
                        span.set("gen_ai.data_source.id", hits[0].index_version)
            steps.append(
                StepRecord("retrieve", time.perf_counter() - t, detail=f"{len(hits)} hits")
            )
        else:
            steps.append(StepRecord("retrieve", 0.0, skipped=why))
        cands = [
            _Cand(
                h,
                {
                    "chunk_id": h.chunk_id,
                    "doc_id": h.doc_id,
                    "doc_version": getattr(h, "doc_version", ""),
                    "rank": h.rank,
                    "score": float(h.score),
                    "signals": _signals(h),
                    "start": h.start,
                    "end": h.end,
                },
            )
            for h in hits
        ]
        alive = list(cands)

        def drop(c: _Cand, reason: str, detail: str | None = None, **extra: Any) -> None:
            c.record.update(kept=False, reason=reason, detail=detail, **extra)

        # 2. threshold, freshness, policy
        t = time.perf_counter()
        alive = self._screen(alive, drop, principals)
        steps.append(StepRecord("screen", time.perf_counter() - t))

        # 3. rerank
        t = time.perf_counter()
        why = step_skipped("rerank") if self.reranker is not None else "no reranker"
        if why is None and alive:
            assert self.reranker is not None
            vectors = self._vectors(alive)
            given = [
                Candidate(
                    c.hit.chunk_id,
                    c.hit.doc_id,
                    c.hit.text,
                    float(c.hit.score),
                    c.hit.rank,
                    None if vectors is None else vectors[i],
                )
                for i, c in enumerate(alive)
            ]
            with child_span("rerank", {"covekit.rerank.model": self.reranker.name,
                                       "covekit.rerank.candidates": len(given)}):  # fmt: skip
                ranked = run_reranker(self.reranker, query, given)
            by_id = {c.hit.chunk_id: c for c in alive}
            order = []
            for cid, score in ranked:
                by_id[cid].rerank_score = score
                order.append(by_id.pop(cid))
            for c in by_id.values():
                drop(c, "below_threshold", f"not returned by the reranker {self.reranker.name}")
            alive = order
            steps.append(StepRecord("rerank", time.perf_counter() - t, detail=self.reranker.name))
        else:
            steps.append(StepRecord("rerank", 0.0, skipped=why))

        # 4. near duplicates
        t = time.perf_counter()
        why = step_skipped("dedup") if self.dedup is not None else "no dedup"
        if why is None and len(alive) > 1:
            assert self.dedup is not None
            with child_span("dedup", {"covekit.dedup.candidates": len(alive)}):
                dup = self.dedup.find(
                    [c.hit.text for c in alive], keys=[c.hit.chunk_id for c in alive]
                )
            kept_now = []
            for c, d in zip(alive, dup, strict=True):
                if d >= 0:
                    other = alive[d].hit.chunk_id
                    drop(c, "near_duplicate_of", f"chunk {other}", near_duplicate_of=other)
                else:
                    kept_now.append(c)
            alive = kept_now
            steps.append(StepRecord("dedup", time.perf_counter() - t))
        else:
            steps.append(StepRecord("dedup", 0.0, skipped=why if why else None))

        # utilities and block sizes
        self._utilities(alive)
        self._estimate_tokens(alive)

        # 5-7. pack, conflicts, render, count exactly; repack into less room if over
        t = time.perf_counter()
        limit = room
        repacks = 0
        cost = _Costs(self._message_cost)
        with child_span("pack", {"covekit.pack.room": room}) as pack_span:
            while True:
                packing, layout = self._pack(fixed, history_msgs, alive, limit, cost)
                kept = [alive[i] for i in layout["evidence_kept"]]
                conflicts = self._conflicts(kept) if step_skipped("conflicts") is None else []
                messages, citations, evidence_shown = self._render(
                    fixed, history_msgs, layout, kept, conflicts, cost
                )
                costs = [cost(m) for m in messages]
                total = sum(costs) + self._reply
                if total <= room:
                    break
                repacks += 1
                if repacks > _MAX_REPACKS:
                    raise BudgetExceeded(
                        "the rendered context stayed above the budget after "
                        f"{_MAX_REPACKS} repacks ({total:,} > {room:,} tokens)",
                        needed=total,
                        available=room,
                    )
                # Shrink by the overshoot, doubling each time: a packer that refills the
                # smaller room with other blocks whose seams merge the same way cannot keep
                # the prompt over the budget, and with no evidence left the count is exact
                # (every other section is whole messages, counted alone).
                limit -= (total - room) << (repacks - 1)
            if pack_span is not None:
                pack_span.set("covekit.pack.method", packing.method)
                pack_span.set("covekit.pack.repacks", repacks)
                pack_span.set("covekit.pack.kept", len(kept))
                pack_span.set("covekit.context.prompt_tokens", total)
        steps.append(
            StepRecord(
                "pack", time.perf_counter() - t, detail=f"{packing.method}, {repacks} repacks"
            )
        )

        # the manifest
        marker_of = {c.chunk_id: c.marker for c in citations.values()}
        shown_of = {c.chunk_id: c for c in citations.values()}
        kept_ids = {c.hit.chunk_id for c in kept}
        packed_status = {alive[i].hit.chunk_id: r for i, r in layout["evidence_status"].items()}
        for c in alive:
            cid = c.hit.chunk_id
            c.record.update(
                rerank_score=c.rerank_score,
                utility=c.utility,
                tokens=c.tokens,
                flags=tuple(c.flags),
            )
            if cid in kept_ids and cid in marker_of:
                cit = shown_of[cid]
                c.record.update(
                    kept=True,
                    reason=None,
                    marker=marker_of[cid],
                    kept_tokens=evidence_shown[cid],
                    end=cit.end,
                )
            else:
                why = packed_status.get(cid, "over_budget")
                reason = {"per_group_cap": "per_document_cap", "kept": "over_budget"}.get(why, why)
                drop(c, reason, self._drop_detail(reason))
        for c in cands:
            c.record.setdefault("kept", False)
            c.record.setdefault("tokens", c.tokens)
        records = tuple(CandidateRecord(**c.record) for c in cands)
        sections = self._section_records(messages, costs, layout)
        steps.append(StepRecord("total", time.perf_counter() - t_start))
        manifest = ContextManifest(
            candidates=records,
            sections=sections,
            total_tokens=total,
            budget_tokens=room,
            model=self.model,
            encoding=self.tokenizer.name,
            index_version=hits[0].index_version
            if hits
            else getattr(self.retriever, "version", None),
            steps=tuple(steps),
            conflicts=tuple(c.to_dict() for c in conflicts),
            citations=tuple(citations[k] for k in sorted(citations)),
            packer={
                "method": packing.method,
                "exact": packing.exact,
                "nodes": packing.nodes,
                "repacks": repacks,
                "budget": packing.budget,
            },
            plan=plan.to_dict() if plan is not None else None,
        )
        return Context(messages, citations, manifest, total, tuple(conflicts), plan)

    # ------------------------------------------------------------------ steps
    def _room(
        self, budget: Budget | int, deadline: Deadline | None
    ) -> tuple[int, BudgetPlan | None, Deadline | None]:
        if isinstance(budget, bool):
            raise InvalidInput("budget must be a number of prompt tokens or a covekit.Budget")
        if isinstance(budget, int):
            if budget < 0:
                raise InvalidInput(f"budget must be >= 0 prompt tokens, got {budget}")
            return budget, None, deadline
        if not isinstance(budget, Budget):
            raise InvalidInput(
                "budget must be a number of prompt tokens or a covekit.Budget, not "
                f"{type(budget).__name__}"
            )
        dl = deadline if deadline is not None else budget.deadline
        plan = None
        room = budget.prompt_room(model=self.model)
        if dl is not None:
            plan = budget.plan(model=self.model, deadline=dl)
            room = plan.prompt_tokens
        if room is None:
            raise InvalidInput(
                "the budget sets no prompt token limit: give Budget(max_prompt_tokens=...), "
                "max_tokens with max_completion_tokens, or a model whose context window the "
                "price table knows"
            )
        return int(room), plan, dl

    def _retrieve(
        self, query: str, principals: list[str], filter: Filter | None
    ) -> list[SearchHit]:
        if isinstance(self.retriever, KnowledgeBase):
            return self.retriever.search(
                query, self.candidates, principals=principals, filter=filter, explain=True
            )
        hits = list(
            self.retriever.search(query, self.candidates, principals=principals, filter=filter)
        )
        for h in hits:
            if not isinstance(h, SearchHit):
                raise InvalidInput(
                    f"the retriever returned {type(h).__name__}; it must return "
                    "covekit.SearchHit objects"
                )
        return hits

    def _screen(
        self, alive: list[_Cand], drop: Callable[..., None], principals: list[str]
    ) -> list[_Cand]:
        out = []
        fp = self.freshness
        now: float | None = None
        superseded_of = getattr(self.retriever, "superseded_by", None)
        for c in alive:
            h = c.hit
            if self.min_score is not None and h.score < self.min_score:
                drop(c, "below_threshold", f"score {h.score:.4g} < min_score {self.min_score:g}")
                continue
            fresh = getattr(h, "freshness", None)
            newer: tuple[str, ...] = ()
            if callable(superseded_of) and (fresh is None or fresh.superseded_by):
                # only newer documents the caller may see (no reason names another one)
                try:
                    newer = tuple(superseded_of(h.doc_id, principals=principals))
                except KeyError:  # removed by a concurrent write
                    newer = ()
            elif fresh is not None:
                newer = tuple(fresh.superseded_by)
            if newer:
                if fp.superseded == "drop":
                    drop(c, "superseded_by", f"document {newer[0]}", superseded_by=newer[0])
                    continue
                c.flags.append("superseded")
                c.record["superseded_by"] = newer[0]
            if fresh is not None or fp.ttl:
                if now is None:
                    now = float(fp.now())
                stale = self._stale(h, fresh, now)
                if stale is not None:
                    if fp.stale == "drop":
                        drop(c, "stale", stale)
                        continue
                    c.flags.append("stale")
            if self.policy is not None:
                if isinstance(self.policy, Policy):
                    verdict = self.policy.check_context(h)
                    if verdict.findings:
                        found = tuple(f.to_dict() for f in verdict.findings)
                        if not verdict.allowed:
                            shown = "; ".join(
                                f"{f.family}/{f.rule} at {f.start}-{f.end}"
                                for f in verdict.findings
                                if f.action == verdict.action
                            )
                            drop(c, "flagged", f"policy {verdict.action}: {shown}", findings=found)
                            continue
                        if verdict.action == "flag":
                            c.flags.append("flagged")
                        c.record["findings"] = found
                else:
                    flagged = self.policy(h)
                    if flagged:
                        drop(c, "flagged", str(flagged))
                        continue
            out.append(c)
        return out

    def _stale(self, hit: SearchHit, fresh: Any, now: float) -> str | None:
        if fresh is not None and fresh.expired(now):
            return f"valid_until passed {_ago(now - fresh.valid_until)} ago"
        if self.freshness.ttl:
            meta = getattr(hit, "metadata", {}) or {}
            declared = meta.get("source")
            source = declared if isinstance(declared, str) else hit.doc_id
            ttl = self.freshness.ttl_for(source)
            if ttl is not None:
                age = fresh.age(now) if fresh is not None else None
                if age is None:
                    return f"no updated_at, and its source has a TTL of {_ago(ttl)}"
                if age > ttl:
                    return f"updated {_ago(age)} ago, past its source's TTL of {_ago(ttl)}"
        return None

    def _vectors(self, alive: list[_Cand]) -> Any:
        getter = getattr(self.retriever, "vectors", None)
        if not callable(getter):
            return None
        try:
            return getter([c.hit.chunk_id for c in alive])
        except KeyError:  # a chunk removed by a concurrent write: let the reranker embed
            return None

    def _utilities(self, alive: list[_Cand]) -> None:
        if self.utility == "rank" or not alive:
            for r, c in enumerate(alive, start=1):
                c.utility = 1.0 / (r * r)
            return
        if self.utility == "log-rank":
            for r, c in enumerate(alive, start=1):
                c.utility = 1.0 / math.log2(1 + r)
            return
        scores = np.array(
            [c.rerank_score if c.rerank_score is not None else c.hit.score for c in alive],
            np.float64,
        )
        for c, s in zip(alive, _normalize(scores, "minmax"), strict=True):
            c.utility = 0.05 + 0.95 * float(s)

    def _fixed_messages(
        self, query: str, system: str | None, policy: str | None, tools: Sequence[Mapping[str, Any]]
    ) -> dict[str, Message]:
        out: dict[str, Message] = {}
        for name, text in (("system", system), ("policy", policy)):
            if text is None:
                continue
            if not isinstance(text, str):
                raise InvalidInput(f"{name} must be a str, not {type(text).__name__}")
            if text.strip():
                out[name] = {"role": "system", "content": text}
        if tools:
            if isinstance(tools, Mapping):
                raise InvalidInput("tools must be a list of tool definitions, not a single mapping")
            lines = ["Tools you may call (JSON Schema of their arguments):"]
            for tool in tools:
                if not isinstance(tool, Mapping):
                    raise InvalidInput(f"each tool must be a mapping, not {type(tool).__name__}")
                lines.append(json.dumps(tool, ensure_ascii=False, sort_keys=True))
            out["tools"] = {"role": "system", "content": "\n".join(lines)}
        out["query"] = {"role": "user", "content": query}
        return out

    def _history(self, history: Sequence[Mapping[str, Any]]) -> list[Message]:
        if isinstance(history, Mapping | str):
            raise InvalidInput("history must be a list of messages ({'role', 'content'})")
        out = []
        for i, m in enumerate(history):
            if (
                not isinstance(m, Mapping)
                or "role" not in m
                or not isinstance(m.get("content"), str)
            ):
                raise InvalidInput(
                    f"history[{i}] must be a message {{'role': ..., 'content': str}}, got {m!r:.80}"
                )
            out.append(dict(m))
        return out

    def _estimate_tokens(self, alive: list[_Cand]) -> None:
        """Each candidate's block tokens, for the packer: the chunk's own count (kept by
        the knowledge base, when it counts with this builder's encoding) plus its header
        line and the blank line after it. Joined blocks can merge a token at a seam,
        which the exact count of the rendered prompt settles."""
        if not alive:
            return
        same = (
            isinstance(self.retriever, KnowledgeBase)
            and self.retriever.chunker.tokenizer.name == self.tokenizer.name
        )
        heads = self._block_texts(alive, list(range(1, len(alive) + 1)), [""] * len(alive))
        head_tokens = self.tokenizer.count_batch(heads, num_threads=1, disallowed_special=())
        missing = [i for i, c in enumerate(alive) if not (same and c.hit.token_count)]
        body = (
            dict(
                zip(
                    missing,
                    self.tokenizer.count_batch(
                        [alive[i].hit.text for i in missing], num_threads=1, disallowed_special=()
                    ),
                    strict=True,
                )
            )
            if missing
            else {}
        )
        for i, c in enumerate(alive):
            n = body[i] if i in body else c.hit.token_count
            c.tokens = int(head_tokens[i]) + int(n)

    def _block_texts(
        self, cands: Sequence[_Cand], markers: Sequence[int], texts: Sequence[str] | None = None
    ) -> list[str]:
        out = []
        for i, c in enumerate(cands):
            h = c.hit
            title = h.doc_id + ("" if not h.heading_path else " — " + " > ".join(h.heading_path))
            body = h.text if texts is None else texts[i]
            out.append(f"[{markers[i]}] {title}\n{body}")
        return out

    def _pack(
        self,
        fixed: dict[str, Message],
        history: list[Message],
        alive: list[_Cand],
        limit: int,
        cost: Callable[[Message], int],
    ) -> tuple[Any, dict[str, Any]]:
        secs = self.sections
        names = [n for n in SECTION_NAMES if n in secs]
        index = {n: i for i, n in enumerate(names)}
        tokens: list[int] = []
        utility: list[float] = []
        section: list[int] = []
        groups: list[str | None] = []
        required: list[bool] = []
        truncate: list[str | None] = []
        min_keep: list[int] = []
        owner: list[tuple[str, int]] = []
        sep = 1  # the blank line between two blocks (counted exactly after rendering)
        for name in ("system", "policy", "tools", "query"):
            if name in fixed:
                tokens.append(cost(fixed[name]))
                utility.append(1.0)
                section.append(index[name])
                groups.append(None)
                required.append(secs[name].required)
                truncate.append(None)
                min_keep.append(1)
                owner.append((name, 0))
        if history:
            costs = [cost(m) for m in history]
            tokens.append(sum(costs))
            utility.append(1.0)
            section.append(index["history"])
            groups.append(None)
            required.append(secs["history"].required)
            truncate.append("start")
            min_keep.append(costs[-1])
            owner.append(("history", 0))
        for i, c in enumerate(alive):
            tokens.append(c.tokens + sep)
            utility.append(c.utility)
            section.append(index["evidence"])
            groups.append(c.hit.doc_id)
            required.append(False)
            truncate.append("end" if self.truncate_evidence else None)
            min_keep.append(min(c.tokens + sep, 32))
            owner.append(("evidence", i))
        pack_secs = [
            Section(
                n,
                priority=secs[n].priority,
                min_tokens=secs[n].min_tokens,
                max_tokens=secs[n].max_tokens,
                overhead=self._evidence_overhead if n == "evidence" else 0,
                required=secs[n].required,
            )
            for n in names
        ]
        budget = limit - self._reply
        if budget < 0:
            raise BudgetExceeded(
                f"a budget of {limit:,} tokens leaves nothing after the {self._reply} tokens that "
                "prime the reply",
                needed=self._reply,
                available=limit,
            )
        packing = pack(
            tokens,
            utility,
            budget=budget,
            sections=pack_secs,
            section=section,
            groups=groups,
            group_cap=self.per_document_cap,
            required=required,
            truncate=truncate,  # type: ignore[arg-type]
            min_keep=min_keep,
        )
        layout: dict[str, Any] = {
            "history_full": sum(cost(m) for m in history),
            "evidence_kept": [],
            "evidence_tokens": {},
            "evidence_status": {},
            "history_tokens": 0,
            "fixed": {},
        }
        reasons = packing.reasons
        for j, (name, i) in enumerate(owner):
            k = int(packing.kept[j])
            if name == "evidence":
                layout["evidence_status"][i] = reasons[j]
                if k:
                    layout["evidence_kept"].append(i)
                    layout["evidence_tokens"][i] = k - sep
            elif name == "history":
                layout["history_tokens"] = k
            elif k:
                layout["fixed"][name] = k
        return packing, layout

    def _ordered(self, kept: list[_Cand]) -> list[_Cand]:
        if self.order == "rank":
            return list(kept)
        if self.order == "document":
            return sorted(kept, key=lambda c: (c.hit.doc_id, c.hit.start))
        front: list[_Cand] = []  # edges: 1st, 3rd, 5th ... 6th, 4th, 2nd
        back: list[_Cand] = []
        for i, c in enumerate(kept):
            (front if i % 2 == 0 else back).append(c)
        return front + back[::-1]

    def _conflicts(self, kept: list[_Cand]) -> list[Conflict]:
        if len({c.hit.doc_id for c in kept}) < 2:
            return []
        from covekit.decision.conflicts import find_conflicts

        return find_conflicts([(c.hit.chunk_id, c.hit.doc_id, c.hit.text) for c in kept])

    def _render(
        self,
        fixed: dict[str, Message],
        history: list[Message],
        layout: dict[str, Any],
        kept: list[_Cand],
        conflicts: list[Conflict],
        cost: Callable[[Message], int],
    ) -> tuple[list[Message], dict[int, Citation], dict[int, int]]:
        messages: list[Message] = []
        for name in ("system", "policy", "tools"):
            if name in layout["fixed"]:
                messages.append(fixed[name])
        if history and layout["history_tokens"]:
            messages.extend(self._history_within(history, layout["history_tokens"], cost))
        citations: dict[int, Citation] = {}
        shown: dict[int, int] = {}
        if kept:
            index_of = {id(c): i for i, c in zip(layout["evidence_kept"], kept, strict=True)}
            ordered = self._ordered(kept)
            texts = []
            for marker, c in enumerate(ordered, start=1):
                h = c.hit
                allowed = layout["evidence_tokens"][index_of[id(c)]]
                text, end, truncated = h.text, h.end, False
                if allowed < c.tokens:  # truncated by the packer: a prefix at token boundaries
                    header = self._count(self._block_texts([c], [marker], [""])[0])
                    text = self.tokenizer.truncate(
                        h.text, max(0, allowed - header), disallowed_special=()
                    )
                    end, truncated = h.start + len(text), True
                texts.append(text)
                citations[marker] = Citation(
                    marker,
                    h.chunk_id,
                    h.doc_id,
                    getattr(h, "doc_version", ""),
                    h.start,
                    end,
                    tuple(h.heading_path),
                    truncated,
                )
                shown[h.chunk_id] = self._count(text) if truncated else allowed
            blocks = self._block_texts(ordered, list(range(1, len(ordered) + 1)), texts)
            content = self.evidence_header + "\n\n" + "\n\n".join(blocks)
            if self.note_conflicts and conflicts:
                content += "\n\n" + self._conflict_note(conflicts, citations)
            messages.append({"role": "user", "content": content})
        messages.append(fixed["query"])
        return messages, citations, shown

    def _history_within(
        self, history: list[Message], allowed: int, cost: Callable[[Message], int]
    ) -> list[Message]:
        """The latest messages whose framing and content fit ``allowed`` tokens; the
        oldest one kept may lose its start (at a token boundary)."""
        out: list[Message] = []
        left = allowed
        for m in reversed(history):
            n = cost(m)
            if n <= left:
                out.append(m)
                left -= n
                continue
            framing = self._message_cost({**m, "content": ""})
            if left - framing >= 8:
                cut = dict(m)
                cut["content"] = self._suffix(str(m["content"]), left - framing)
                if cut["content"]:
                    out.append(cut)
            break
        return out[::-1]

    def _suffix(self, text: str, max_tokens: int) -> str:
        """The longest suffix of ``text``, starting at a token boundary, that counts at
        most ``max_tokens`` on its own."""
        ids, starts = self.tokenizer.encode_with_offsets(text, disallowed_special=())
        n = len(ids)
        k = max(0, n - max_tokens)
        while k < n:
            tail = text[starts[k] :] if k < len(starts) else ""
            if self._count(tail) <= max_tokens:
                return tail
            k += 1
        return ""

    @staticmethod
    def _conflict_note(conflicts: Sequence[Conflict], citations: Mapping[int, Citation]) -> str:
        marker = {c.chunk_id: m for m, c in citations.items()}
        parts = []
        for conflict in conflicts:
            said = "; ".join(f"[{marker.get(m.chunk_id, '?')}] {m.text}" for m in conflict.mentions)
            parts.append(f"{' '.join(conflict.terms)}: {said}")
        return "Note: these sources disagree on " + " | ".join(parts) + "."

    def _drop_detail(self, reason: str) -> str | None:
        if reason == "per_document_cap":
            return f"per_document_cap={self.per_document_cap}"
        if reason == "section_full":
            return f"evidence max_tokens={self.sections['evidence'].max_tokens}"
        return None

    def _section_records(
        self, messages: list[Message], costs: list[int], layout: dict[str, Any]
    ) -> tuple[SectionRecord, ...]:
        """Each section's exact share of the prompt (its messages' costs)."""
        out = []
        i = 0
        spans: dict[str, list[int]] = {n: [] for n in SECTION_NAMES}
        roles_fixed = [n for n in ("system", "policy", "tools") if n in layout["fixed"]]
        for n in roles_fixed:
            spans[n].append(i)
            i += 1
        n_hist = len(messages) - i - 1 - (1 if layout["evidence_kept"] else 0)
        spans["history"] = list(range(i, i + n_hist))
        i += n_hist
        if layout["evidence_kept"]:
            spans["evidence"] = [i]
            i += 1
        spans["query"] = [i]
        for name in SECTION_NAMES:
            s = self.sections[name]
            idx = spans[name]
            out.append(
                SectionRecord(
                    name=name,
                    priority=s.priority,
                    tokens=sum(costs[j] for j in idx),
                    items=len(layout["evidence_kept"]) if name == "evidence" else len(idx),
                    min_tokens=s.min_tokens,
                    max_tokens=s.max_tokens,
                    required=s.required,
                    truncated=name == "history"
                    and layout["history_tokens"] < layout["history_full"],
                )
            )
        out.append(SectionRecord("reply_priming", 0, self._reply, 0))
        return tuple(out)


def _ago(seconds: float) -> str:
    s = abs(seconds)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.1f} s"

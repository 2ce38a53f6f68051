"""The security property: no entry point ever returns a chunk a principal may not see.

Random documents with random ACLs, random principals and random queries go through
every way of searching: the vector index, the BM25 index, the hybrid retriever, and the
knowledge base with an exact + semantic cache in front (so that a cached result of one
principal is offered to another, and a result cached before an ACL change is offered
after it). Every returned id must belong to a document whose ACL names one of the
caller's principals.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from covekit import (
    BM25Index,
    Chunker,
    Document,
    Filter,
    HashingEmbedder,
    HybridRetriever,
    KnowledgeBase,
    QueryCache,
    VectorIndex,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_EXAMPLES = int(os.environ.get("COVEKIT_MAX_EXAMPLES", "40"))
PRINCIPALS = ["user:1", "user:2", "user:3", "role:support", "role:hr", "role:eng", "group:x"]
WORDS = [
    "refund",
    "salary",
    "password",
    "deploy",
    "invoice",
    "vacation",
    "outage",
    "laptop",
    "policy",
    "bonus",
]

acl_st = st.lists(st.sampled_from(PRINCIPALS), max_size=3, unique=True)
text_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
docs_st = st.lists(st.tuples(text_st, acl_st), min_size=1, max_size=30)
principals_st = st.lists(st.sampled_from(PRINCIPALS), max_size=3, unique=True)
query_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)

EMB = HashingEmbedder(dim=32)


def visible(acl: list[str] | tuple[str, ...], principals: list[str]) -> bool:
    return bool(set(acl) & set(principals))


@settings(deadline=None, max_examples=MAX_EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs_st,
    st.lists(st.tuples(principals_st, query_st), min_size=1, max_size=6),
    st.integers(1, 12),
)
def test_indexes_and_hybrid_never_leak(
    docs: list[tuple[str, list[str]]], searches: list[tuple[list[str], str]], k: int
) -> None:
    ids = np.arange(1, len(docs) + 1, dtype=np.uint64)
    texts = [t for t, _ in docs]
    attrs = [{"acl": acl} for _, acl in docs]
    acl_of = {i + 1: acl for i, (_, acl) in enumerate(docs)}
    bm25 = BM25Index()
    bm25.add(ids, texts, attrs)
    vectors = VectorIndex(EMB.dim, M=8, ef_construction=32, seed=1)
    vectors.add(ids, EMB.embed(texts), attrs)
    hybrid = HybridRetriever(bm25, vectors, EMB, candidates=k)
    for principals, query in searches:
        if not principals:
            continue
        f = Filter.acl_any(principals)
        got = set()
        for arr in (
            bm25.search([query], k, filter=f)[0],
            vectors.search(EMB.embed([query]), k, filter=f)[0],
        ):
            got |= {int(x) for x in arr[0] if int(x) != 2**64 - 1}
        got |= {h.id for h in hybrid.search(query, k, filter=f)}
        for d in got:
            assert visible(acl_of[d], principals), (d, acl_of[d], principals)


@settings(
    deadline=None,
    max_examples=max(10, MAX_EXAMPLES // 2),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    docs_st,
    st.lists(
        st.one_of(
            st.tuples(st.just("search"), principals_st, query_st),
            st.tuples(st.just("reacl"), st.integers(0, 29), acl_st),
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_knowledge_base_with_cache_never_leaks(
    docs: list[tuple[str, list[str]]], ops: list[tuple[str, object, object]]
) -> None:
    cache = QueryCache(capacity=64, embedder=EMB, threshold=0.5)
    kb = KnowledgeBase(Chunker("cl100k_base", max_tokens=16), EMB, cache=cache)
    current = {f"d{i}": (t, list(acl)) for i, (t, acl) in enumerate(docs)}
    kb.add([Document(t, d, acl=acl) for d, (t, acl) in current.items()])
    for op in ops:
        if op[0] == "reacl":
            i, acl = op[1], op[2]
            d = f"d{int(i) % len(docs)}"  # type: ignore[call-overload]
            current[d] = (current[d][0], list(acl))  # type: ignore[call-overload]
            kb.add([Document(current[d][0], d, acl=current[d][1])])
            continue
        principals, query = op[1], op[2]
        for hit in kb.search(str(query), 5, principals=list(principals)):  # type: ignore[call-overload]
            assert visible(current[hit.doc_id][1], list(principals)), (hit, current[hit.doc_id])  # type: ignore[call-overload]
            assert hit.index_version == kb.version


def test_empty_principals_see_nothing() -> None:
    kb = KnowledgeBase(Chunker("cl100k_base", max_tokens=16), EMB)
    kb.add([Document("refund policy", "a", acl=["user:1"]), Document("refund bonus", "b")])
    assert kb.search("refund", principals=[]) == []
    assert [h.doc_id for h in kb.search("refund", principals=["user:1"])] == ["a"]
    # a document with no ACL is visible to no principal
    assert all(h.doc_id != "b" for h in kb.search("bonus", principals=PRINCIPALS))
    with pytest.raises(ValueError, match="single str"):
        kb.search("refund", principals="user:1")  # type: ignore[arg-type]

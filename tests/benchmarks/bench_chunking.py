"""covekit's Chunker against LangChain, chonkie, semchunk and semantic-text-splitter.

Run with ``make bench`` (pytest-benchmark; the tables are printed at the end), or as a
script that prints the same tables::

    python tests/benchmarks/bench_chunking.py              # aligned text
    python tests/benchmarks/bench_chunking.py --quick      # cl100k_base, 512 tokens only
    python tests/benchmarks/bench_chunking.py --markdown   # docs/benchmarks.md's tables
    python tests/benchmarks/bench_chunking.py --update docs/benchmarks.md  # rewrite them

Every chunker runs in this one process on the same documents, with the same tokenizer
(a tiktoken ``Encoding`` for cl100k_base or o200k_base, read offline from the shared
files; semantic-text-splitter has tiktoken-rs's copy of the same BPE built in) and the same
``max_tokens`` (512, 256) and overlap (0, 50 tokens, in each library's own sense: see
:data:`OVERLAP_NOTES`). Each library is given its best settings for the job (see
:data:`LIBS`); one that cannot be installed or built here says so in the tables.

Before a chunker is timed its output is measured by one function for everyone
(``chunk_quality.measure``): chunks over the limit (each chunk's text encoded alone with
tiktoken), chunks ending mid-sentence and mid-word, mean fill, and offsets that do not
give back the chunk's text. covekit must have no chunk over the limit and no offset
error (the pytest run fails otherwise; the script exits 1). The checking run is the
warm-up; the time kept is the best of several rounds, each after ``gc.collect()`` and
after clearing the caches a library keeps between calls (semchunk's memoized token
counter, chonkie's ``lru_cache``), so that no round is timed on memoized results.

Inputs (``tests/shared_data.py``): "english" is ``corpus/english/*.txt`` (three Gutenberg
novels and a play), "markdown" is ``corpus/english/*.md`` plus the demo knowledge base
``python/covekit/samples/kb/*.md``, "multilingual" is ``corpus/*_multilingual/*``
(47 files, 35 languages). Each file is one document. To keep a full run near ten minutes
on two cores, each corpus is sampled to about ``--sample-kb`` KB (default 400): every file
keeps a prefix of its share, cut at a paragraph break; ``--sample-kb 0`` takes everything.
MB means 10**6 bytes of UTF-8 input; MB/s is input bytes per second of wall time.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import itertools
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from bench_tokenizer import (  # noqa: E402
    _compiler,
    _git_commit,
    _markdown,
    _plain,
    environment,
    machine_load,
    note_cpu_before,
)
from chunk_quality import Quality, Span, measure  # noqa: E402
from doc_block import update_block  # noqa: E402
from shared_data import corpus_files, link_tiktoken_cache, tokenizer_dir  # noqa: E402

ENCODINGS = ("cl100k_base", "o200k_base")
LIMITS = (512, 256)
OVERLAPS = (0, 50)
CORPORA = ("english", "markdown", "multilingual")
THREADS = (1, 2)
#: Settings of the thread-scaling table: every encoding and corpus, one limit.
THREAD_LIMIT, THREAD_OVERLAP = 512, 0
X = "\u00d7"
KB_DIR = _HERE.parent.parent / "python" / "covekit" / "samples" / "kb"
SAMPLE_KB = int(os.environ.get("COVEKIT_BENCH_SAMPLE_KB", "400"))

Timer = Callable[[Callable[[], Any], Callable[[], None], int, int], "float | None"]


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Corpus:
    name: str
    files: tuple[Path, ...]
    docs: tuple[str, ...]  # one (possibly sampled) document per file
    nbytes: int  # UTF-8 bytes of docs
    full_nbytes: int  # UTF-8 bytes of the files as they are


def _prefix(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes that ends at a
    paragraph break (else a line break, else a character boundary)."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    head = data[:max_bytes].decode("utf-8", errors="ignore")
    for sep in ("\n\n", "\n"):
        i = head.rfind(sep)
        if i > len(head) // 2:
            return head[: i + len(sep)]
    return head


def sample(texts: Sequence[str], budget: int) -> list[str]:
    """Prefixes of ``texts`` that add up to about ``budget`` bytes: each text gets an equal
    share of what the shorter ones leave (water filling). ``budget <= 0``: all of it."""
    if budget <= 0:
        return list(texts)
    sizes = [len(t.encode("utf-8")) for t in texts]
    share = dict.fromkeys(range(len(texts)), 0)
    left, todo = budget, sorted(range(len(texts)), key=lambda i: sizes[i])
    while todo:
        each = left // len(todo)
        i = todo.pop(0)
        share[i] = min(sizes[i], each)
        left -= share[i]
    return [_prefix(t, share[i]) for i, t in enumerate(texts)]


@cache
def corpus(name: str, sample_kb: int | None = None) -> Corpus:
    """``english``, ``markdown`` or ``multilingual``, read once and sampled."""
    every = corpus_files()
    if name == "english":
        files = [p for p in every if p.parent.name == "english" and p.suffix == ".txt"]
    elif name == "markdown":
        files = [p for p in every if p.parent.name == "english" and p.suffix == ".md"]
        files += sorted(KB_DIR.glob("*.md"))
    elif name == "multilingual":
        files = [p for p in every if p.parent.name.endswith("_multilingual")]
    else:
        raise ValueError(name)
    if not files:
        pytest.skip(f"no {name} corpus files in the shared data")
    texts = [p.read_text(encoding="utf-8") for p in files]
    kb = SAMPLE_KB if sample_kb is None else sample_kb
    docs = tuple(d for d in sample(texts, kb * 1000) if d.strip())
    return Corpus(
        name,
        tuple(files),
        docs,
        sum(len(d.encode("utf-8")) for d in docs),
        sum(len(t.encode("utf-8")) for t in texts),
    )


# --------------------------------------------------------------------------- libraries
@cache
def tiktoken_enc(name: str) -> Any:
    import tiktoken

    return tiktoken.get_encoding(name)


#: semantic-text-splitter takes a model name, not an encoding name (tiktoken-rs).
TEXT_SPLITTER_MODEL = {"cl100k_base": "gpt-4", "o200k_base": "gpt-4o"}


@dataclass
class Runner:
    """One configured chunker: ``run`` is what is timed, ``spans`` turns its output into
    :class:`Span` lists (untimed), ``reset`` runs before every timed round."""

    run: Callable[[list[str]], Any]
    spans: Callable[[list[str], Any], list[list[Span]]]
    reset: Callable[[], None] = lambda: None
    batch: dict[int, Callable[[list[str]], Any]] = field(default_factory=dict)
    batch_spans: Callable[[list[str], Any], list[list[Span]]] | None = None


@dataclass(frozen=True)
class Lib:
    key: str
    label: str  # for the tables
    family: str  # "token", "structure" or "sentence": peers compared with covekit
    package: str  # distribution, for its version
    call: str  # what is timed, for the notes
    make: Callable[[str, int, int, str], Runner | str]  # (encoding, max, overlap, corpus)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _missing(package: str) -> str:
    return f"not installed: pip install -e '.[bench]' ({package})"


# covekit ----------------------------------------------------------------------------
@cache
def covekit_chunker_cls() -> Any:
    """``covekit.Chunker``, or a str saying why there is none."""
    try:
        import covekit

        return covekit.Chunker
    except (ImportError, AttributeError) as exc:
        return f"covekit Chunker not available ({type(exc).__name__}: {exc})"


@cache
def covekit_tok(name: str) -> Any:
    import covekit

    return covekit.get_tokenizer(name)


def _covekit_spans(docs: list[str], out: Any) -> list[list[Span]]:
    return [[Span(c.text, c.start, c.end) for c in chunks] for chunks in out]


def _make_covekit(strategy: str) -> Callable[[str, int, int, str], Runner | str]:
    def make(enc: str, limit: int, overlap: int, corpus_name: str) -> Runner | str:
        cls = covekit_chunker_cls()
        if isinstance(cls, str):
            return cls
        try:
            # With an overlap, the recursive strategy starts it at a boundary (at most
            # `overlap` tokens, like LangChain's and text-splitter's overlaps).
            extra = {"overlap": "boundary"} if overlap and strategy == "recursive" else {}
            ck = cls(
                covekit_tok(enc),
                max_tokens=limit,
                overlap_tokens=overlap,
                strategy=strategy,
                **extra,
            )
        except (ValueError, TypeError, NotImplementedError) as exc:
            return f"not supported: {type(exc).__name__}: {exc}"
        return Runner(
            run=lambda docs: [ck.chunk(d) for d in docs],
            spans=_covekit_spans,
            batch={t: (lambda docs, t=t: ck.chunk_batch(docs, num_threads=t)) for t in THREADS},
            batch_spans=_covekit_spans,
        )

    return make


# LangChain ----------------------------------------------------------------------------
def _langchain_spans(splitter: Any) -> Callable[[list[str], Any], list[list[Span]]]:
    """The offsets LangChain reports: ``create_documents`` with ``add_start_index=True``
    (it locates each chunk with ``str.find`` from an estimated position), untimed; the
    texts must be those that ``split_text`` returned."""

    def spans(docs: list[str], out: Any) -> list[list[Span]]:
        splitter._add_start_index = True
        try:
            result = []
            for doc, texts in zip(docs, out, strict=True):
                got = splitter.create_documents([doc])
                if [d.page_content for d in got] != texts:
                    raise AssertionError("LangChain: create_documents differs from split_text")
                result.append(
                    [
                        Span(d.page_content, s, s + len(d.page_content))
                        for d in got
                        for s in [d.metadata["start_index"]]
                    ]
                )
            return result
        finally:
            splitter._add_start_index = False

    return spans


def _make_langchain(kind: str) -> Callable[[str, int, int, str], Runner | str]:
    def make(enc: str, limit: int, overlap: int, corpus_name: str) -> Runner | str:
        try:
            from langchain_text_splitters import RecursiveCharacterTextSplitter, TokenTextSplitter
        except ImportError:
            return _missing("langchain-text-splitters")
        tiktoken_enc(enc)  # load it from the shared files before LangChain asks for it
        if kind == "recursive":
            splitter: Any = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
                encoding_name=enc, chunk_size=limit, chunk_overlap=overlap, disallowed_special=()
            )
        else:
            splitter = TokenTextSplitter(
                encoding_name=enc, chunk_size=limit, chunk_overlap=overlap, disallowed_special=()
            )
        return Runner(
            run=lambda docs: [splitter.split_text(d) for d in docs],
            spans=_langchain_spans(splitter),
        )

    return make


# chonkie ------------------------------------------------------------------------------
def _chonkie_spans(docs: list[str], out: Any) -> list[list[Span]]:
    return [[Span(c.text, c.start_index, c.end_index) for c in chunks] for chunks in out]


def _make_chonkie(kind: str) -> Callable[[str, int, int, str], Runner | str]:
    def make(enc: str, limit: int, overlap: int, corpus_name: str) -> Runner | str:
        try:
            import chonkie
        except ImportError:
            return _missing("chonkie")
        tok = tiktoken_enc(enc)
        reset: Callable[[], None] = lambda: None  # noqa: E731
        if kind == "token":
            ck: Any = chonkie.TokenChunker(tok, chunk_size=limit, chunk_overlap=overlap)
        elif kind == "sentence":
            ck = chonkie.SentenceChunker(tok, chunk_size=limit, chunk_overlap=overlap)
        else:
            if overlap:
                return "no overlap option (chonkie's OverlapRefinery adds context, not overlap)"
            ck = chonkie.RecursiveChunker(tok, chunk_size=limit)
            cached = type(ck)._estimate_token_count  # an lru_cache shared by instances
            reset = cached.cache_clear
        batch: dict[int, Callable[[list[str]], Any]] = {}
        if kind == "token":  # 2: encode_batch/decode_batch, tiktoken's pool of 8 threads
            batch = {
                1: lambda docs: [ck.chunk(d) for d in docs],
                2: lambda docs: ck.chunk_batch(docs, batch_size=len(docs), show_progress_bar=False),
            }
        return Runner(
            run=lambda docs: [ck.chunk(d) for d in docs],
            spans=_chonkie_spans,
            reset=reset,
            batch=batch,
            batch_spans=_chonkie_spans if batch else None,
        )

    return make


# semchunk ----------------------------------------------------------------------------
def _make_semchunk(enc: str, limit: int, overlap: int, corpus_name: str) -> Runner | str:
    try:
        import semchunk
    except ImportError:
        return _missing("semchunk")
    chunker = semchunk.chunkerify(tiktoken_enc(enc), limit)
    kwargs = {"offsets": True, "overlap": overlap or None}

    def spans(docs: list[str], out: Any) -> list[list[Span]]:
        texts, offsets = out
        return [
            [Span(t, s, e) for t, (s, e) in zip(ts, os_, strict=True)]
            for ts, os_ in zip(texts, offsets, strict=True)
        ]

    def run(docs: list[str]) -> Any:
        pairs = [chunker(d, **kwargs) for d in docs]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    return Runner(
        run=run,
        spans=spans,
        reset=chunker.token_counter.cache_clear,  # memoized across calls otherwise
        batch={t: (lambda docs, t=t: chunker(docs, processes=t, **kwargs)) for t in THREADS},
        batch_spans=spans,
    )


# semantic-text-splitter ---------------------------------------------------------------
def _make_text_splitter(kind: str) -> Callable[[str, int, int, str], Runner | str]:
    def make(enc: str, limit: int, overlap: int, corpus_name: str) -> Runner | str:
        try:
            import semantic_text_splitter as sts
        except ImportError:
            return _missing("semantic-text-splitter")
        if kind == "markdown" and corpus_name != "markdown":
            return "markdown corpus only"
        cls = sts.MarkdownSplitter if kind == "markdown" else sts.TextSplitter
        splitter = cls.from_tiktoken_model(TEXT_SPLITTER_MODEL[enc], limit, overlap=overlap)

        def spans(docs: list[str], out: Any) -> list[list[Span]]:
            return [[Span(t, s, s + len(t)) for s, t in chunks] for chunks in out]

        return Runner(
            run=lambda docs: [splitter.chunk_indices(d) for d in docs],
            spans=spans,
            # 1 thread: one call per document; 2: chunk_all_indices, rayon's global pool
            # (as many threads as CPUs: 2 here).
            batch={
                1: lambda docs: [splitter.chunk_indices(d) for d in docs],
                2: lambda docs: splitter.chunk_all_indices(docs),
            },
            batch_spans=spans,
        )

    return make


LIBS: dict[str, Lib] = {
    lib.key: lib
    for lib in (
        Lib("covekit-recursive", "covekit recursive", "structure", "covekit",
            'Chunker(tok, max_tokens=N, overlap_tokens=K, strategy="recursive").chunk(doc)',
            _make_covekit("recursive")),
        Lib("covekit-token", "covekit token", "token", "covekit",
            'Chunker(..., strategy="token").chunk(doc)', _make_covekit("token")),
        Lib("covekit-sentence", "covekit sentence", "sentence", "covekit",
            'Chunker(..., strategy="sentence").chunk(doc)', _make_covekit("sentence")),
        Lib("langchain-recursive", "LangChain Recursive", "structure", "langchain-text-splitters",
            "RecursiveCharacterTextSplitter.from_tiktoken_encoder(encoding_name=enc, "
            "chunk_size=N, chunk_overlap=K, disallowed_special=()).split_text(doc)",
            _make_langchain("recursive")),
        Lib("langchain-token", "LangChain Token", "token", "langchain-text-splitters",
            "TokenTextSplitter(encoding_name=enc, chunk_size=N, chunk_overlap=K, "
            "disallowed_special=()).split_text(doc)", _make_langchain("token")),
        Lib("chonkie-recursive", "chonkie Recursive", "structure", "chonkie",
            "RecursiveChunker(tiktoken_encoding, chunk_size=N).chunk(doc) (default rules)",
            _make_chonkie("recursive")),
        Lib("chonkie-token", "chonkie Token", "token", "chonkie",
            "TokenChunker(tiktoken_encoding, chunk_size=N, chunk_overlap=K).chunk(doc)",
            _make_chonkie("token")),
        Lib("chonkie-sentence", "chonkie Sentence", "sentence", "chonkie",
            "SentenceChunker(tiktoken_encoding, chunk_size=N, chunk_overlap=K).chunk(doc)",
            _make_chonkie("sentence")),
        Lib("semchunk", "semchunk", "structure", "semchunk",
            "chunkerify(tiktoken_encoding, N)(doc, offsets=True, overlap=K or None)",
            _make_semchunk),
        Lib("text-splitter", "text-splitter Text", "structure", "semantic-text-splitter",
            'TextSplitter.from_tiktoken_model("gpt-4"|"gpt-4o", N, overlap=K).chunk_indices(doc)',
            _make_text_splitter("text")),
        Lib("text-splitter-md", "text-splitter Markdown", "structure", "semantic-text-splitter",
            "MarkdownSplitter.from_tiktoken_model(...).chunk_indices(doc), markdown corpus only",
            _make_text_splitter("markdown")),
    )
}  # fmt: skip
COVEKIT_LIBS = tuple(k for k in LIBS if k.startswith("covekit"))
PEER_LIBS = tuple(k for k in LIBS if not k.startswith("covekit"))
#: The thread table: covekit's chunk_batch and the peers that have a batch/parallel mode.
THREAD_LIBS = ("covekit-recursive", "chonkie-token", "semchunk", "text-splitter")

OVERLAP_NOTES = {
    "covekit": "`overlap_tokens=K`: token and sentence strategies: each chunk begins with "
    "exactly the last K tokens of its predecessor (`overlap='exact'`, the default); the "
    "recursive rows run `overlap='boundary'`: the overlap starts at the strongest boundary "
    "(sentence, word, token) within those K tokens, so it is at most K, like the peers' "
    'below. The "mean overlap" column shows what each one delivers.',
    "LangChain Recursive": "`chunk_overlap=K` in the length function's unit (tokens): the "
    "trailing splits of the previous chunk whose summed token counts stay within K are "
    "repeated, so the overlap is whole words/pieces and usually under K tokens.",
    "LangChain Token / chonkie Token": "exactly K tokens of the encoded document are repeated "
    "(windows with stride N - K); decoded per window, so a window edge inside a character "
    "gives U+FFFD.",
    "chonkie Sentence": "whole sentences from the end of the previous chunk, as many as fit "
    "in K tokens (each counted +1).",
    "chonkie Recursive": "no overlap parameter: its rows at overlap 50 say so.",
    "semchunk": "`overlap=K` (K >= 1 is tokens): it chunks to sub-chunks of min(K, N - K) "
    "tokens and joins runs of them, so neighbours share whole sub-chunks, up to K tokens.",
    "text-splitter": "`overlap=K`: at most K tokens, made of whole semantic units (words, "
    "sentences) of the previous chunk; in practice most of its chunks repeat nothing (see "
    '"mean overlap"), which leaves it the room of a chunker without overlap.',
}


# --------------------------------------------------------------------------- measuring
@dataclass
class Result:
    seconds: float | None  # best round; None when timing was disabled
    nbytes: int
    quality: Quality | None = None
    note: str | None = None  # why there is no measurement
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mbps(self) -> float | None:
        return None if not self.seconds else self.nbytes / self.seconds / 1e6


Config = tuple[str, int, int, str]  # encoding, max_tokens, overlap, corpus
#: ("chunk", config, lib) or ("threads", (encoding, corpus), f"{lib} {threads}") -> Result
RESULTS: dict[tuple[str, tuple[Any, ...], str], Result] = {}
#: Invariant violations by covekit, for the exit status and the targets table.
VIOLATIONS: list[str] = []


def rounds_for(first_seconds: float) -> tuple[int, int]:
    """(timed rounds, extra warm-up rounds) for a call that took ``first_seconds``."""
    if first_seconds < 0.05:
        return 9, 1
    if first_seconds < 0.5:
        return 5, 0
    if first_seconds < 2.0:
        return 3, 0
    return 2, 0


def best_of(fn: Callable[[], Any], reset: Callable[[], None], rounds: int, warmup: int) -> float:
    """The script's timer: the fastest of ``rounds`` calls, each after ``reset()`` and a
    settled garbage collector, after ``warmup`` calls."""
    for _ in range(warmup):
        reset()
        fn()
    best = float("inf")
    for _ in range(rounds):
        reset()
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _settled(reset: Callable[[], None]) -> Callable[[], None]:
    def setup() -> None:
        reset()
        gc.collect()

    return setup


def count_tokens_for(enc: str) -> Callable[[list[str]], list[int]]:
    tok = tiktoken_enc(enc)
    return lambda texts: [len(ids) for ids in tok.encode_ordinary_batch(texts, num_threads=2)]


def quality_of(enc: str, limit: int, docs: Sequence[str], spans: list[list[Span]]) -> Quality:
    total = Quality()
    count = count_tokens_for(enc)
    for doc, chunk_spans in zip(docs, spans, strict=True):
        total += measure(doc, chunk_spans, count, limit)
    return total


def covekit_violations(what: str, q: Quality) -> list[str]:
    found = []
    if q.over_limit:
        found.append(f"{what}: {q.over_limit} chunks over the limit")
    if q.offset_errors:
        found.append(f"{what}: {q.offset_errors} offset errors")
    if q.not_in_source:
        found.append(f"{what}: {q.not_in_source} chunks not in the source")
    return found


def run_chunk(config: Config, lib_key: str, timer: Timer) -> Result:
    """One chunker on one corpus at one setting: check, measure quality, then time."""
    enc, limit, overlap, corpus_name = config
    lib = LIBS[lib_key]
    c = corpus(corpus_name)
    docs = list(c.docs)
    made = lib.make(enc, limit, overlap, corpus_name)
    if isinstance(made, str):
        result = Result(None, c.nbytes, note=made)
        RESULTS["chunk", config, lib_key] = result
        return result
    made.reset()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = made.run(docs)
    first = time.perf_counter() - start
    q = quality_of(enc, limit, docs, made.spans(docs, out))
    del out
    if lib_key.startswith("covekit"):
        found = covekit_violations(f"{lib.label} {enc} {limit}/{overlap} {corpus_name}", q)
        if found:  # recorded for the tables, then fails before any timing
            VIOLATIONS.extend(found)
            RESULTS["chunk", config, lib_key] = Result(None, c.nbytes, q, note="invariant broken")
            raise AssertionError("; ".join(found))
    rounds, warmup = rounds_for(first)

    def quiet() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return made.run(docs)

    seconds = timer(quiet, made.reset, rounds, warmup)
    result = Result(seconds, c.nbytes, q, extra={"first": first})
    RESULTS["chunk", config, lib_key] = result
    return result


def run_threads(enc: str, corpus_name: str, lib_key: str, threads: int, timer: Timer) -> Result:
    """A batch call on every document of the corpus with 1 or 2 threads (processes for
    semchunk), at THREAD_LIMIT tokens, no overlap; the output must equal the one-call-
    per-document output."""
    c = corpus(corpus_name, sample_kb=0)  # whole corpora: enough work to time threads
    docs = list(c.docs)
    key = ("threads", (enc, corpus_name), f"{lib_key} {threads}")
    made = LIBS[lib_key].make(enc, THREAD_LIMIT, THREAD_OVERLAP, corpus_name)
    if isinstance(made, str) or threads not in made.batch:
        note = made if isinstance(made, str) else "no batch mode"
        RESULTS[key] = Result(None, c.nbytes, note=note)
        return RESULTS[key]
    assert made.batch_spans is not None
    fn = made.batch[threads]
    want = made.spans(docs, made.run(docs))
    made.reset()
    got = made.batch_spans(docs, fn(docs))
    if got != want:
        raise AssertionError(
            f"{lib_key} batch with {threads} threads differs from one call per doc"
        )
    wall, cpu = time.perf_counter(), time.process_time()
    seconds = timer(lambda: fn(docs), made.reset, 3, 1)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    busy = cpu / wall if seconds is not None and wall > 0 else None
    RESULTS[key] = Result(seconds, c.nbytes, extra={"cpu_per_wall": busy, "docs": len(docs)})
    return RESULTS[key]


# --------------------------------------------------------------------------- tables
def _num(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _pct(n: int, d: int) -> str:
    return f"{n} ({100 * n / d:.1f}%)" if d else str(n)


def _unavailable(note: str | None) -> bool:
    """covekit without a Chunker: said once in the notes, not on every row."""
    return bool(note) and note.startswith("covekit Chunker not available")  # type: ignore[union-attr]


def fastest_peer(config: Config, family: str | None) -> tuple[str, Result] | None:
    best: tuple[str, Result] | None = None
    for key in PEER_LIBS:
        if family is not None and LIBS[key].family != family:
            continue
        r = RESULTS.get(("chunk", config, key))
        if r is None or not r.seconds:
            continue
        if best is None or r.seconds < best[1].seconds:  # type: ignore[operator]
            best = (key, r)
    return best


def _vs(r: Result, other: tuple[str, Result] | None) -> str:
    if other is None or not r.seconds or not other[1].seconds:
        return "—"
    return f"{other[1].seconds / r.seconds:.2f}{X}"


CHUNK_HEAD = [
    "corpus",
    "library",
    "strategy",
    "MB/s",
    "vs fastest peer, same strategy",
    "vs fastest peer, any",
    "chunks",
    "over limit",
    "mid-sentence ends",
    "mid-word ends",
    "mean fill",
    "mean overlap",
    "offset errors",
    "not in source",
]


def table_config(enc: str, limit: int, overlap: int) -> tuple[list[str], list[list[str]]]:
    rows = []
    for corpus_name in CORPORA:
        config = (enc, limit, overlap, corpus_name)
        for key, lib in LIBS.items():
            r = RESULTS.get(("chunk", config, key))
            if r is None:
                continue
            if r.quality is None:
                if r.note != "markdown corpus only" and not _unavailable(r.note):
                    rows.append([corpus_name, lib.label, lib.family, r.note or "—"] + [""] * 10)
                continue
            q = r.quality
            speed = _num(r.mbps) if r.mbps else "—"
            vs_family = _vs(r, fastest_peer(config, lib.family))
            vs_any = _vs(r, fastest_peer(config, None))
            rows.append(
                [
                    corpus_name,
                    lib.label,
                    lib.family,
                    speed,
                    vs_family,
                    vs_any,
                    str(q.chunks),
                    str(q.over_limit) + (f" (max {q.max_tokens_seen})" if q.over_limit else ""),
                    _pct(q.mid_sentence, q.cuts),
                    _pct(q.mid_word, q.cuts),
                    f"{q.mean_fill:.2f}" if q.mean_fill is not None else "—",
                    f"{q.mean_overlap:.1f}" if q.mean_overlap is not None else "—",
                    "n/a (no offsets)" if q.offset_errors is None else str(q.offset_errors),
                    str(q.not_in_source),
                ]
            )
    return CHUNK_HEAD, rows


def table_threads() -> tuple[list[str], list[list[str]]]:
    head = ["encoding", "corpus", "docs", "library"]
    head += [f"{t} thread{'s' if t > 1 else ''} MB/s" for t in THREADS]
    head += ["scaling", f"CPU/wall, {THREADS[-1]} thr."]
    rows = []
    for enc, corpus_name in itertools.product(ENCODINGS, CORPORA):
        for key in THREAD_LIBS:
            got = [RESULTS.get(("threads", (enc, corpus_name), f"{key} {t}")) for t in THREADS]
            if got[0] is None or _unavailable(got[0].note):
                continue
            if any(g is None or not g.seconds for g in got):
                note = next((g.note for g in got if g is not None and g.note), "—")
                rows.append([enc, corpus_name, "", LIBS[key].label, note, "", "", ""])
                continue
            one, two = got[0], got[-1]
            assert one is not None and two is not None and one.seconds and two.seconds
            busy = two.extra.get("cpu_per_wall")
            rows.append(
                [
                    enc,
                    corpus_name,
                    str(one.extra.get("docs", "?")),
                    LIBS[key].label,
                    *(_num(g.mbps) if g and g.mbps else "—" for g in got),
                    f"{one.seconds / two.seconds:.2f}{X}",
                    "—" if busy is None else f"{busy:.2f}",
                ]
            )
    return head, rows


def table_targets() -> tuple[list[str], list[list[str]]]:
    head = ["target", "measured", "met?"]
    rows: list[list[str]] = []
    missing: list[str] = []
    # Each strategy against the fastest peer of the same family, at equal settings.
    for lib_key, family, what in (
        ("covekit-recursive", "structure", "structure-aware peer"),
        ("covekit-token", "token", "token-window peer"),
    ):
        speed: list[tuple[str, float]] = []
        for config in _configs_with_results():
            enc, limit, overlap, corpus_name = config
            r = RESULTS.get(("chunk", config, lib_key))
            peer = fastest_peer(config, family)
            if r is None or not r.seconds or peer is None or not peer[1].seconds:
                continue
            speed.append((f"{enc} {limit}/{overlap} {corpus_name}", peer[1].seconds / r.seconds))
        if speed:
            low = [k for k, v in speed if v < 2.0]
            worst = min(speed, key=lambda kv: kv[1])
            rows.append(
                [
                    f"{LIBS[lib_key].label} ≥ 2{X} the fastest {what}, 1 thread",
                    f"{len(speed)} settings, lowest {worst[1]:.2f}{X} ({worst[0]})",
                    f"**no**: {len(low)} of {len(speed)}" if low else "yes",
                ]
            )
        elif lib_key == "covekit-recursive":
            missing.append("speed")
    scaling = []
    for enc, corpus_name in itertools.product(ENCODINGS, CORPORA):
        one = RESULTS.get(("threads", (enc, corpus_name), "covekit-recursive 1"))
        two = RESULTS.get(("threads", (enc, corpus_name), "covekit-recursive 2"))
        # Threads share out documents: a corpus of a few documents, one of them most
        # of the bytes (english: 5 files, one 2/3 of it; markdown: 6 small files),
        # cannot scale, for any library, so the target is read on the corpus of many.
        if one and two and one.seconds and two.seconds and one.extra.get("docs", 0) >= 20:
            scaling.append((f"{enc} {corpus_name}", one.seconds / two.seconds))
    if scaling:
        low = [k for k, v in scaling if v < 1.8]
        rows.append(
            [
                f"covekit chunk_batch scaling ≥ 1.8{X} from 1 to 2 threads (corpora of 20+ "
                "documents)",
                ", ".join(f"{k} {v:.2f}{X}" for k, v in scaling),
                f"**no**: {', '.join(low)}" if low else "yes",
            ]
        )
    checked = [
        r for (kind, _, key), r in RESULTS.items() if kind == "chunk" and key in COVEKIT_LIBS
    ]
    checked = [r for r in checked if r.quality is not None]
    if checked or VIOLATIONS:
        rows.append(
            [
                "zero chunks over the limit, zero offset errors (covekit)",
                f"{len(checked)} runs checked"
                + (f"; {'; '.join(VIOLATIONS)}" if VIOLATIONS else ""),
                "**no**" if VIOLATIONS else "yes",
            ]
        )
    mid: list[tuple[str, int, int]] = []  # setting, covekit's count, the best peer's count
    totals: dict[str, list[int]] = {}  # peer -> [its mid-sentence ends, covekit's], same settings
    for config in _configs_with_results():
        r = RESULTS.get(("chunk", config, "covekit-recursive"))
        if r is None or r.quality is None or not r.quality.cuts:
            continue
        # Only peers that keep every chunk within the limit (a chunker that lets chunks
        # grow past it can always end on a sentence) and, with an overlap, that deliver at
        # least half of it on average (one that mostly skips the overlap has the room
        # of a chunker without one).
        want = config[2] / 2
        rates = []
        for k in PEER_LIBS:
            p = RESULTS.get(("chunk", config, k))
            q = p.quality if p is not None else None
            if q is None or not q.cuts or q.over_limit or (want and (q.mean_overlap or 0.0) < want):
                continue
            rates.append(q.mid_sentence)
            t = totals.setdefault(LIBS[k].label, [0, 0])
            t[0] += q.mid_sentence
            t[1] += r.quality.mid_sentence
        if rates:
            name = "{} {}/{} {}".format(*config)
            mid.append((name, r.quality.mid_sentence, min(rates)))
    if mid:
        lose = [f"{k} ({m} vs {b})" for k, m, b in mid if m > b]
        ties = sum(1 for _, m, b in mid if m == b)
        rows.append(
            [
                "no more mid-sentence ends than the best peer in any setting "
                "(peers within the limit and, with overlap K, a mean overlap of at least K/2; "
                "covekit recursive)",
                f"{len(mid)} settings, {ties} tied",
                f"**no**: {', '.join(lose)}" if lose else "yes",
            ]
        )
    if totals:
        worse = [
            f"{k} ({c} vs {p})" for k, (p, c) in sorted(totals.items()) if c > p or (c == p and p)
        ]
        rows.append(
            [
                "fewer mid-sentence ends in total than every peer, over the settings both ran "
                "(covekit recursive)",
                ", ".join(f"{k}: {c} vs {p}" for k, (p, c) in sorted(totals.items())),
                f"**no**: {', '.join(worse)}" if worse else "yes",
            ]
        )
    if not rows:
        rows.append(["all", "covekit Chunker not measured", "—"])
    return head, rows


def _configs_with_results() -> list[Config]:
    seen = []
    for kind, config, _ in RESULTS:
        if kind == "chunk" and config not in seen:
            seen.append(config)
    return seen  # type: ignore[return-value]


def notes() -> list[str]:
    out = []
    versions = []
    for pkg in ("tiktoken", "langchain-text-splitters", "chonkie", "semchunk",
                "semantic-text-splitter"):  # fmt: skip
        versions.append(f"{pkg} {_version(pkg) or 'not installed'}")
    out.append("Versions: " + ", ".join(versions) + ".")
    cls = covekit_chunker_cls()
    if isinstance(cls, str):
        out.append(f"covekit: {cls}; its rows are absent.")
    for name in CORPORA:
        try:
            c = corpus(name)
        except pytest.skip.Exception:
            continue
        how = (
            "all of it"
            if c.nbytes == c.full_nbytes
            else f"sampled from {c.full_nbytes / 1e6:.2f} MB"
        )
        out.append(f"{name}: {len(c.docs)} documents, {c.nbytes / 1e6:.2f} MB ({how}).")
    out.append(
        "Each row chunks every document of the corpus, one call per document, one thread. "
        "What is timed: "
        + "; ".join(f"{LIBS[k].label}: `{LIBS[k].call}`" for k in LIBS)
        + ". Offsets: LangChain's come from `create_documents([doc])` with "
        "`add_start_index=True` (untimed; it locates chunks with `str.find`), text-splitter's "
        "are its start index plus the chunk's length."
    )
    out.append(
        "\"vs fastest peer\" = the fastest peer's time / this row's time at the same encoding, "
        "max_tokens, overlap and corpus; strategies: token windows (token), structure-aware "
        "(recursive, semchunk, text-splitter), sentence packing (sentence)."
    )
    out.append(
        "Quality, measured by one function for all (tests/benchmarks/chunk_quality.py): "
        "over limit = the chunk's text encoded alone with tiktoken has more than max_tokens "
        "tokens; mid-sentence = the cut is neither after a sentence terminator (. ! ? or an "
        "ellipsis followed by a space; the CJK full stop and other scripts' terminators "
        "anywhere; closing quotes "
        "and brackets skipped) nor at a blank line, heading, list item, table row or fence, "
        "nor the end of the document; mid-word = letters/digits/marks on both sides of the "
        "cut; percentages are of the cuts (chunk ends that are not the document's end); "
        "mean fill = mean of tokens / max_tokens over all chunks; offset errors = reported "
        "`doc[start:end] != text`; not in source = the text is not in the document at all "
        "(U+FFFD from a window cut inside a character)."
    )
    out.append("Overlap semantics: " + " ".join(f"{k}: {v}" for k, v in OVERLAP_NOTES.items()))
    out.append(
        "chonkie Token's `chunk` decodes its windows with tiktoken's `decode_batch`, which "
        "runs a pool of 8 threads: its rows are not strictly single-threaded. Every other "
        "row runs on the calling thread."
    )
    out.append(
        "Not measured: chonkie's RecursiveChunker recipes (`from_recipe`, e.g. markdown or "
        "other languages) download from the Hugging Face hub, offline here; chonkie's "
        "multiprocessing batch is a private flag (`_use_multiprocessing`), so its thread "
        "row is TokenChunker's `chunk_batch`; covekit's semantic strategy needs an "
        "embedder and is not compared."
    )
    return out


def thread_notes() -> list[str]:
    return [
        f"{THREAD_LIMIT} tokens, overlap {THREAD_OVERLAP}; the corpus's documents in one "
        "batch call; best of 3 rounds. covekit: `chunk_batch(docs, num_threads=N)`. "
        "semchunk: `chunker(docs, processes=N, offsets=True)` (N processes, forked per "
        "call). text-splitter: 1 = `chunk_indices` per document, 2 = `chunk_all_indices(docs)` "
        "(rayon's global pool, one thread per CPU: 2 here). chonkie Token: 1 = `chunk` per "
        "document, 2 = `chunk_batch(docs, batch_size=len(docs))`, whose encode_batch and "
        "decode_batch use tiktoken's pool of 8 threads (its single `chunk` already decodes "
        "with that pool). Each batch's output is checked "
        "equal to one call per document first.",
        "Scaling = 1-thread time / 2-thread time. CPU/wall = process CPU time / wall time "
        "over the timed 2-thread calls (semchunk's workers are other processes: not "
        "counted). The thread rows chunk whole corpora (not the samples). English is 5 "
        "documents, one of them two thirds of the bytes, and markdown 6 small ones: threads "
        "share out documents, so neither can scale fully; the target is read on the "
        "multilingual corpus (47 documents).",
    ]


def report(markdown: bool = False) -> str:
    """Environment, one table per (encoding, max_tokens, overlap), threads, targets."""
    if not RESULTS:
        return ""
    env = chunk_environment()
    out: list[str] = []
    if markdown:
        out += ["### Environment", "", *(f"- {k}: {v}" for k, v in env.items()), ""]
    else:
        out += [*(f"{k}: {v}" for k, v in env.items()), ""]

    def emit(title: str, head: list[str], rows: list[list[str]], notes_: list[str]) -> None:
        if not rows:
            return
        if markdown:
            out.extend([f"### {title}", "", *_markdown(head, rows), ""])
            out.extend([*(f"- {n}" for n in notes_), ""] if notes_ else [])
        else:
            out.extend([title, "", *_plain(head, rows), ""])
            out.extend([*(f"  {n}" for n in notes_), ""] if notes_ else [])

    head, rows = table_targets()
    emit("Chunking targets", head, rows, [])
    for enc, limit, overlap in itertools.product(ENCODINGS, LIMITS, OVERLAPS):
        head, rows = table_config(enc, limit, overlap)
        emit(f"Chunking, {enc}, max_tokens {limit}, overlap {overlap}", head, rows, [])
    head, rows = table_threads()
    emit("Chunking with threads", head, rows, thread_notes())
    if markdown:
        out += ["### Notes", "", *(f"- {n}" for n in notes()), ""]
    else:
        out += ["Notes", "", *(f"  {n}" for n in notes()), ""]
    return "\n".join(out)


def chunk_environment() -> dict[str, str]:
    """The tokenizer benchmark's environment, with this benchmark's packages and inputs."""
    info = {
        k: v
        for k, v in environment().items()
        if k in ("CPU", "RAM", "OS", "Python", "Other CPU use", "Compiler", "covekit commit")
    }
    info.setdefault("Other CPU use", machine_load())
    info.setdefault("Compiler", _compiler())
    info.setdefault("covekit commit", _git_commit())
    for pkg in ("covekit", "tiktoken", "langchain-text-splitters", "chonkie", "semchunk",
                "semantic-text-splitter"):  # fmt: skip
        info[pkg] = _version(pkg) or "not installed"
    return info


# --------------------------------------------------------------------------- pytest
def _pytest_timer(request: pytest.FixtureRequest, group: str) -> Timer:
    """pytest-benchmark's timer, taken only once the output has been checked."""

    def timer(
        fn: Callable[[], Any], reset: Callable[[], None], rounds: int, warmup: int
    ) -> float | None:
        benchmark = request.getfixturevalue("benchmark")
        benchmark.group = group
        if benchmark.disabled:
            benchmark.pedantic(lambda: None)
            return None
        benchmark.pedantic(fn, setup=_settled(reset), rounds=rounds, warmup_rounds=warmup)
        return float(benchmark.stats.stats.min)

    return timer


class _ReportPlugin:
    """Prints the chunking tables in the terminal summary (registered by the fixture
    below, so that conftest.py's single "report" slot stays the tokenizer's)."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        text = report()
        if text:
            terminalreporter.section("covekit chunking benchmarks")
            for line in text.splitlines():
                terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> None:
    note_cpu_before()
    manager = request.config.pluginmanager
    if not manager.has_plugin("covekit-chunking-report"):
        manager.register(_ReportPlugin(), "covekit-chunking-report")


CHUNK_CASES = [
    pytest.param((e, n, k, c), lib, id=f"{e}-{n}-ov{k}-{c}-{lib}")
    for e, n, k, c in itertools.product(ENCODINGS, LIMITS, OVERLAPS, CORPORA)
    for lib in LIBS
    if not (lib == "text-splitter-md" and c != "markdown")
    and not (lib == "chonkie-recursive" and k)
]


@pytest.mark.parametrize(("config", "lib"), CHUNK_CASES)
def test_chunking(config: Config, lib: str, request: pytest.FixtureRequest) -> None:
    made = LIBS[lib].make(*config)
    if isinstance(made, str):
        run_chunk(config, lib, best_of)  # records why, for the tables
        pytest.skip(f"{LIBS[lib].label}: {made}")
    timer = _pytest_timer(request, "chunk {} {} ov{} {}".format(*config))
    result = run_chunk(config, lib, timer)  # covekit: raises on an invariant violation
    if result.seconds is not None:
        info = request.getfixturevalue("benchmark").extra_info
        info.update({"MB/s": result.mbps, "chunks": result.quality.chunks if result.quality else 0})


THREAD_CASES = [
    pytest.param(e, c, lib, t, id=f"threads-{e}-{c}-{lib}-{t}t")
    for e, c in itertools.product(ENCODINGS, CORPORA)
    for lib in THREAD_LIBS
    for t in THREADS
]


@pytest.mark.parametrize(("enc", "corpus_name", "lib", "threads"), THREAD_CASES)
def test_chunk_threads(
    enc: str, corpus_name: str, lib: str, threads: int, request: pytest.FixtureRequest
) -> None:
    made = LIBS[lib].make(enc, THREAD_LIMIT, THREAD_OVERLAP, corpus_name)
    if isinstance(made, str):
        run_threads(enc, corpus_name, lib, threads, best_of)
        pytest.skip(f"{LIBS[lib].label}: {made}")
    timer = _pytest_timer(request, f"chunk_batch {enc} {corpus_name}")
    run_threads(enc, corpus_name, lib, threads, timer)


# --------------------------------------------------------------------------- script


def main(argv: Sequence[str] | None = None) -> int:
    global ENCODINGS, LIMITS, SAMPLE_KB
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--update", metavar="PATH", help="rewrite the generated block of PATH")
    parser.add_argument(
        "--quick", action="store_true", help="cl100k_base, max_tokens 512 only, 200 KB samples"
    )
    parser.add_argument("--sample-kb", type=int, default=None, help="KB per corpus (0: all)")
    parser.add_argument("--libs", default="", help="comma-separated subset of: " + ", ".join(LIBS))
    parser.add_argument("--no-threads", action="store_true", help="skip the thread table")
    args = parser.parse_args(argv)
    if args.quick:
        ENCODINGS, LIMITS, SAMPLE_KB = ("cl100k_base",), (512,), 200
    if args.sample_kb is not None:
        SAMPLE_KB = args.sample_kb
    libs = [s.strip() for s in args.libs.split(",") if s.strip()] or list(LIBS)
    unknown = set(libs) - set(LIBS)
    if unknown:
        parser.error(f"unknown libs: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="covekit-bench-") as tmp:
        try:
            os.environ.update(
                COVEKIT_TOKENIZER_DIR=str(tokenizer_dir()),
                TIKTOKEN_CACHE_DIR=str(link_tiktoken_cache(Path(tmp) / "tiktoken-cache")),
                COVEKIT_OFFLINE="1",
                TOKENIZERS_PARALLELISM="false",
            )
            corpus("english")
        except pytest.skip.Exception as exc:
            print(f"cannot run the benchmarks: {exc.msg}", file=sys.stderr)
            return 2
        note_cpu_before()
        started = time.perf_counter()

        def progress(msg: str) -> None:
            print(f"[{time.perf_counter() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

        for config in itertools.product(ENCODINGS, LIMITS, OVERLAPS, CORPORA):
            for lib in libs:
                try:
                    r = run_chunk(config, lib, best_of)  # type: ignore[arg-type]
                except AssertionError as exc:
                    progress(f"FAILED {lib} {config}: {exc}")
                    continue
                speed = f"{r.mbps:.2f} MB/s" if r.mbps else (r.note or "")
                progress("{} {} ov{} {} {}: {}".format(*config, lib, speed))
        if not args.no_threads:
            for enc, corpus_name in itertools.product(ENCODINGS, CORPORA):
                for lib in THREAD_LIBS:
                    if lib not in libs:
                        continue
                    for t in THREADS:
                        try:
                            r = run_threads(enc, corpus_name, lib, t, best_of)
                        except AssertionError as exc:
                            progress(f"FAILED threads {lib} {t}: {exc}")
                            VIOLATIONS.append(str(exc))
                            continue
                        speed = f"{r.mbps:.2f} MB/s" if r.mbps else (r.note or "")
                        progress(f"threads {enc} {corpus_name} {lib} {t}: {speed}")

        text = report(markdown=args.markdown or bool(args.update))
    if args.update:
        update_block(Path(args.update), "bench_chunking.py", text)
        print(f"updated {args.update}", file=sys.stderr)
    else:
        print(text)
    if VIOLATIONS:
        print("covekit broke an invariant:\n  " + "\n  ".join(VIOLATIONS), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

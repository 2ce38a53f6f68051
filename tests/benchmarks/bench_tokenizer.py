"""covekit's tokenizer against tiktoken and Hugging Face ``tokenizers``.

Run with ``make bench`` (pytest-benchmark; the ratio tables are printed at the end), or
as a script that prints the same tables::

    python tests/benchmarks/bench_tokenizer.py              # aligned text
    python tests/benchmarks/bench_tokenizer.py --markdown   # docs/benchmarks.md's tables
    python tests/benchmarks/bench_tokenizer.py --update docs/benchmarks.md  # rewrite them

Every measurement runs the libraries in this one process on the same input. Before a
library is timed its output is compared with tiktoken's: covekit must match exactly
(the benchmark fails otherwise); a peer that differs is still timed, but the tables say
"ids differ (N of M tokens)" and give no ratio against it. The comparison run doubles as
the warm-up (fast cases get one more); the time kept is the best of several rounds.

Inputs come from ``shared/data/corpus`` through ``tests/shared_data.py``: "english" is
``corpus/english/*`` concatenated, "multilingual" is ``corpus/*_multilingual/*``
concatenated. MB means 10**6 bytes of UTF-8 input.

The HF peer is built from tiktoken's ranks as transformers' ``TikTokenConverter`` does
(see :func:`hf_from_tiktoken`). Oniguruma, HF's regex engine, reads ``\\p{N}{1,3}+`` in
cl100k's pattern as "one or more runs of 1-3 digits" (Ruby syntax), not as a possessive
``{1,3}``, so digit runs longer than three are split differently; the "HF, {1,3}" column
uses the same pattern with that one quantifier made plain, which means the same thing
there (nothing follows it inside its alternative).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

from doc_block import markers, update_block  # noqa: E402
from shared_data import corpus_files, link_tiktoken_cache, tokenizer_dir  # noqa: E402

ENCODINGS = ("cl100k_base", "o200k_base")
CORPORA = ("english", "multilingual")
OPERATIONS = ("encode", "count")
#: Encodings whose pattern has ``{1,3}+``, which Oniguruma does not read as possessive.
HF_ADAPTED = ("cl100k_base",)
LONG_TEXT = "a" * 100_000
N_CHUNKS = 1000
THREADS = (1, 2)
X = "\u00d7"  # the multiplication sign of "2.31x" in the tables

Timer = Callable[[Callable[[], Any], int, int], "float | None"]


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Corpus:
    name: str
    files: tuple[Path, ...]
    docs: tuple[str, ...]  # one str per file
    text: str  # the files concatenated
    nbytes: int


@cache
def corpus(name: str) -> Corpus:
    """``english`` or ``multilingual``, read once."""
    if name == "english":
        files = [p for p in corpus_files() if p.parent.name == "english"]
    elif name == "multilingual":
        files = [p for p in corpus_files() if p.parent.name.endswith("_multilingual")]
    else:
        raise ValueError(name)
    if not files:
        pytest.skip(f"no {name} corpus files in the shared data")
    docs = tuple(p.read_text(encoding="utf-8") for p in files)
    text = "".join(docs)
    return Corpus(name, tuple(files), docs, text, len(text.encode("utf-8")))


def equal_chunks(text: str, n: int = N_CHUNKS) -> list[str]:
    """``text`` cut into about ``n`` pieces of equal UTF-8 size, each at a character start."""
    data = text.encode("utf-8")
    size = max(1, len(data) // n)
    chunks, start = [], 0
    while start < len(data):
        end = min(len(data), start + size)
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end += 1
        chunks.append(data[start:end].decode("utf-8"))
        start = end
    return chunks


@cache
def batch_docs(corpus_name: str, kind: str) -> tuple[str, ...]:
    c = corpus(corpus_name)
    return c.docs if kind == "files" else tuple(equal_chunks(c.text))


# --------------------------------------------------------------------------- libraries
@cache
def covekit_tok(name: str) -> Any:
    import covekit

    return covekit.get_tokenizer(name)


@cache
def tiktoken_enc(name: str) -> Any:
    import tiktoken

    return tiktoken.get_encoding(name)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (byte-level BPE)."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def _bpe_split(ranks: dict[bytes, int], token: bytes, max_rank: int) -> list[bytes]:
    """tiktoken's merge loop on ``token``, stopping before merges of rank >= max_rank."""
    parts = [bytes([b]) for b in token]
    while True:
        best_i, best_rank = -1, max_rank
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < best_rank:
                best_i, best_rank = i, rank
        if best_i < 0:
            return parts
        parts[best_i : best_i + 2] = [parts[best_i] + parts[best_i + 1]]


def hf_from_tiktoken(ranks: dict[bytes, int], pat_str: str) -> Any:
    """An HF ``tokenizers.Tokenizer`` equivalent to a tiktoken encoding.

    The algorithm of transformers' ``TikTokenConverter``: the vocabulary is the ranks
    with each token's bytes spelled through GPT-2's ``bytes_to_unicode``; the merge
    that makes a token is the pair that tiktoken's own merge loop, run on the token's
    bytes with the lower ranks only, ends with; ``ignore_merges`` looks whole pieces up
    first, as tiktoken does. Pre-tokenizer: the split regex, then byte-level mapping.
    """
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE

    byte_char = _bytes_to_unicode()

    def spell(b: bytes) -> str:
        return "".join(byte_char[x] for x in b)

    vocab: dict[str, int] = {}
    merges: list[tuple[str, str]] = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        vocab[spell(token)] = rank
        if len(token) > 1:
            pair = _bpe_split(ranks, token, rank)
            if len(pair) == 2:  # else tiktoken never builds it by merging: lookup only
                merges.append((spell(pair[0]), spell(pair[1])))
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pat_str), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    return tok


def hf_pattern(name: str, adapted: bool) -> str:
    pat: str = tiktoken_enc(name)._pat_str
    if adapted:
        assert "{1,3}+" in pat, f"{name}'s pattern has no {{1,3}}+ to adapt"
        pat = pat.replace("{1,3}+", "{1,3}")
    return pat


@cache
def hf_tok(name: str, adapted: bool) -> Any:
    """The HF peer, or a str saying why there is none."""
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        return "not installed (pip install -e '.[bench]')"
    try:
        return hf_from_tiktoken(tiktoken_enc(name)._mergeable_ranks, hf_pattern(name, adapted))
    except Exception as exc:  # e.g. a pattern Oniguruma rejects: say so in the table
        return f"cannot build: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- checking
@cache
def reference(name: str, corpus_name: str) -> list[int]:
    """tiktoken's ids for the corpus: the output every library must reproduce."""
    return tiktoken_enc(name).encode(corpus(corpus_name).text, disallowed_special=())


@cache
def _token_lengths(name: str) -> list[int]:
    enc = tiktoken_enc(name)
    lengths = [0] * enc.n_vocab
    for token, rank in enc._mergeable_ranks.items():
        lengths[rank] = len(token)
    return lengths


def differing_tokens(name: str, ids: Sequence[int], ref: Sequence[int]) -> int:
    """How many of ``ids`` do not cover the same bytes as a token of ``ref``."""
    lengths = _token_lengths(name)

    def spans(seq: Sequence[int]) -> set[tuple[int, int]]:
        ends = list(itertools.accumulate(lengths[i] for i in seq))
        return set(zip([0, *ends[:-1]], ends, strict=True))

    ref_spans = spans(ref)
    return len(spans(ids) - ref_spans)


def peer_note(name: str, ids: Sequence[int], ref: Sequence[int]) -> str | None:
    """None when ``ids == ref``, else "ids differ (N of M tokens)"."""
    if list(ids) == list(ref):
        return None
    return f"ids differ ({differing_tokens(name, ids, ref):,} of {len(ref):,} tokens)"


def assert_same(what: str, got: Any, want: Any) -> None:
    if got == want:
        return
    if isinstance(got, list) and isinstance(want, list) and got and isinstance(got[0], list):
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            if g != w:
                raise AssertionError(f"{what}: document {i} differs from tiktoken's")
        raise AssertionError(f"{what}: {len(got)} documents, tiktoken {len(want)}")
    if isinstance(got, list) and isinstance(want, list):
        i = next((k for k, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), None)
        i = min(len(got), len(want)) if i is None else i
        raise AssertionError(
            f"{what}: ids differ from tiktoken's at token {i}: {got[i : i + 5]} != "
            f"{want[i : i + 5]} ({len(got)} vs {len(want)} tokens)"
        )
    raise AssertionError(f"{what}: {got!r} != tiktoken's {want!r}")


# --------------------------------------------------------------------------- timing
@dataclass
class Result:
    seconds: float | None  # best round; None when timing was disabled
    nbytes: int
    note: str | None = None  # why the output is not tiktoken's (peers only)
    extra: dict[str, Any] | None = None

    @property
    def mbps(self) -> float | None:
        return None if not self.seconds else self.nbytes / self.seconds / 1e6


#: (table, row, column) -> Result; filled by the run_* functions.
RESULTS: dict[tuple[str, tuple[str, ...], str], Result] = {}


def rounds_for(first_seconds: float) -> tuple[int, int]:
    """(timed rounds, extra warm-up rounds) for a call that took ``first_seconds``."""
    if first_seconds < 0.1:
        return 9, 1
    if first_seconds < 1.0:
        return 5, 0
    if first_seconds < 4.0:
        return 3, 0
    return 2, 0


def best_of(fn: Callable[[], Any], rounds: int, warmup: int) -> float:
    """The script's timer: the fastest of ``rounds`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(
    fn: Callable[[], Any], check: Callable[[Any], str | None], nbytes: int, timer: Timer
) -> Result:
    """Run once and check the output (raises for covekit, a note for a peer), then time."""
    start = time.perf_counter()
    out = fn()
    first = time.perf_counter() - start
    note = check(out)
    del out
    rounds, warmup = rounds_for(first)
    wall, cpu = time.perf_counter(), time.process_time()
    seconds = timer(fn, rounds, warmup)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # CPU time / wall time of the timed calls: ~N when N threads really ran at once.
    busy = cpu / wall if seconds is not None and wall > 0 else None
    return Result(seconds, nbytes, note, {"cpu_per_wall": busy})


# --------------------------------------------------------------------------- benchmarks
LIB_NAMES = {
    "covekit": "covekit",
    "tiktoken": "tiktoken",
    "hf": "HF",
    "hf_adapted": "HF, {1,3}",
}


def single_libs(name: str, op: str = "encode") -> tuple[str, ...]:
    """The libraries timed for ``op``: HF's count is its encode (see run_single)."""
    if op == "count":
        return ("covekit", "tiktoken")
    return ("covekit", "tiktoken", "hf", *(("hf_adapted",) if name in HF_ADAPTED else ()))


def run_single(name: str, corpus_name: str, op: str, lib: str, timer: Timer) -> Result:
    """One library, one operation on one whole corpus, on this thread."""
    text = corpus(corpus_name).text
    nbytes = corpus(corpus_name).nbytes
    ref = reference(name, corpus_name)
    what = f"{lib} {op} {name} {corpus_name}"
    fn: Callable[[], Any]
    check: Callable[[Any], str | None]
    if lib == "covekit":
        tok = covekit_tok(name)
        if op == "encode":
            fn = lambda: tok.encode(text, disallowed_special=())  # noqa: E731
            check = lambda out: assert_same(what, out, ref)  # noqa: E731
        else:
            fn = lambda: tok.count(text, disallowed_special=())  # noqa: E731
            check = lambda out: assert_same(what, out, len(ref))  # noqa: E731
    elif lib == "tiktoken":
        enc = tiktoken_enc(name)
        if op == "encode":
            fn = lambda: enc.encode(text, disallowed_special=())  # noqa: E731
            check = lambda out: assert_same(what, out, ref)  # noqa: E731
        else:  # tiktoken has no count
            fn = lambda: len(enc.encode(text, disallowed_special=()))  # noqa: E731
            check = lambda out: assert_same(what, out, len(ref))  # noqa: E731
    else:
        hf = hf_tok(name, lib == "hf_adapted")
        if isinstance(hf, str):
            result = Result(None, nbytes, hf)
            RESULTS["single", (name, corpus_name, op), lib] = result
            return result
        if op == "count":
            # HF has no count: its count is len(encode(...).ids), the very call the
            # encode row times (and checks, ids against ids, so that counts equal by
            # chance do not pass). Timing it twice would only double the slowest part.
            encoded = RESULTS.get(("single", (name, corpus_name, "encode"), lib))
            if encoded is None:
                encoded = run_single(name, corpus_name, "encode", lib, timer)
            RESULTS["single", (name, corpus_name, op), lib] = encoded
            return encoded
        fn = lambda: hf.encode(text, add_special_tokens=False).ids  # noqa: E731
        check = lambda out: peer_note(name, out, ref)  # noqa: E731
    result = measure(fn, check, nbytes, timer)
    RESULTS["single", (name, corpus_name, op), lib] = result
    return result


@cache
def batch_reference(name: str, corpus_name: str, kind: str) -> list[list[int]]:
    docs = list(batch_docs(corpus_name, kind))
    return [tiktoken_enc(name).encode(d, disallowed_special=()) for d in docs]


def run_batch(
    name: str, corpus_name: str, kind: str, lib: str, threads: int, timer: Timer
) -> Result:
    """``encode_batch`` of the corpus files ("files") or of ~1000 equal chunks ("chunks")."""
    docs = list(batch_docs(corpus_name, kind))
    nbytes = corpus(corpus_name).nbytes
    ref = batch_reference(name, corpus_name, kind)
    what = f"{lib} encode_batch({kind}, num_threads={threads}) {name} {corpus_name}"
    impl = covekit_tok(name) if lib == "covekit" else tiktoken_enc(name)

    def fn() -> Any:
        return impl.encode_batch(docs, num_threads=threads, disallowed_special=())

    result = measure(fn, lambda out: assert_same(what, out, ref), nbytes, timer)
    assert result.extra is not None
    result.extra["docs"] = len(docs)
    RESULTS["batch", (name, corpus_name, kind), f"{lib} {threads}"] = result
    return result


def run_long(name: str, lib: str, timer: Timer) -> Result:
    """``encode("a" * 100_000)``: one pre-token piece of 100 kB."""
    ref = tiktoken_enc(name).encode(LONG_TEXT, disallowed_special=())
    what = f"{lib} encode('a' * 100_000) {name}"
    if lib == "hf":
        hf = hf_tok(name, name in HF_ADAPTED)
        if isinstance(hf, str):
            result = Result(None, len(LONG_TEXT), hf)
            RESULTS["long", (name,), lib] = result
            return result
        fn: Callable[[], Any] = lambda: hf.encode(LONG_TEXT, add_special_tokens=False).ids  # noqa: E731
        check: Callable[[Any], str | None] = lambda out: peer_note(name, out, ref)  # noqa: E731
    else:
        impl = covekit_tok(name) if lib == "covekit" else tiktoken_enc(name)
        fn = lambda: impl.encode(LONG_TEXT, disallowed_special=())  # noqa: E731
        check = lambda out: assert_same(what, out, ref)  # noqa: E731
    result = measure(fn, check, len(LONG_TEXT), timer)
    RESULTS["long", (name,), lib] = result
    return result


_MEMORY_SCRIPT = r"""
import gc, hashlib, json, sys
lib, name, *paths = sys.argv[1:]
text = "".join(open(p, encoding="utf-8").read() for p in paths)
import numpy
if lib == "tiktoken":
    import tiktoken
else:
    import covekit
gc.collect()

def hwm_mb():
    # VmHWM is what ru_maxrss reports for this process, without the parent's peak that
    # ru_maxrss inherits across fork/exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")

try:  # reset the peak to the current RSS: the text and the imports are the baseline
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
base = hwm_mb()
enc = tiktoken.get_encoding(name) if lib == "tiktoken" else covekit.get_tokenizer(name)
loaded = hwm_mb()
if lib == "covekit_numpy":
    ids = enc.encode(text, disallowed_special=(), as_numpy=True)
else:
    ids = enc.encode(text, disallowed_special=())
peak = hwm_mb()
digest = hashlib.sha1(numpy.asarray(ids, dtype=numpy.uint32).tobytes()).hexdigest()
print(json.dumps({"base": base, "loaded": loaded, "peak": peak, "reset": reset,
                  "tokens": len(ids), "sha1": digest}))
"""

MEMORY_LIBS = ("covekit", "tiktoken", "covekit_numpy")
MEMORY_CORPUS = "multilingual"


def run_memory(name: str, lib: str) -> Result:
    """Peak RSS of a fresh process that loads ``name`` and encodes the multilingual corpus.

    Baseline: the process after reading the text and importing the library and numpy.
    Reported: the rise of the peak after loading, and after encoding (the list of ids
    included; ``covekit_numpy`` returns a uint32 array instead).
    """
    c = corpus(MEMORY_CORPUS)
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, lib, name, *map(str, c.files)],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ.copy(),
    )
    if proc.returncode != 0:
        raise AssertionError(f"memory probe for {lib} {name} failed:\n{proc.stderr}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = reference(name, MEMORY_CORPUS)
    import numpy as np

    want = hashlib.sha1(np.asarray(ref, dtype=np.uint32).tobytes()).hexdigest()
    if (data["tokens"], data["sha1"]) != (len(ref), want):
        raise AssertionError(f"{lib} {name}: memory probe's ids differ from tiktoken's")
    result = Result(
        None,
        c.nbytes,
        None if data["reset"] else "peak not reset: includes reading the text",
        {"load_mb": data["loaded"] - data["base"], "peak_mb": data["peak"] - data["base"]},
    )
    RESULTS["memory", (name,), lib] = result
    return result


# --------------------------------------------------------------------------- tables
def _mbps(r: Result | None) -> str:
    if r is None:
        return "—"
    if r.mbps is None:
        return r.note or "—"
    speed = f"{r.mbps:.2f}" if r.mbps < 10 else f"{r.mbps:.1f}"
    return f"{r.note}: {speed} MB/s, not equal" if r.note else speed


def _ratio(num: Result | None, den: Result | None) -> str:
    """How many times faster ``num`` is than ``den`` (identical outputs only)."""
    if num is None or den is None or not num.seconds or not den.seconds:
        return "—"
    if num.note or den.note:
        return "n/a (not equal)"
    return f"{den.seconds / num.seconds:.2f}{X}"


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:.2f}"


def table_single() -> tuple[list[str], list[list[str]], list[str]]:
    head = [
        "encoding",
        "corpus",
        "operation",
        "MB",
        "covekit MB/s",
        "tiktoken MB/s",
        "covekit vs tiktoken",
        "HF MB/s",
        "covekit vs HF",
        "HF, {1,3} MB/s",
        "covekit vs HF, {1,3}",
    ]
    rows = []
    for name, corpus_name, op in itertools.product(ENCODINGS, CORPORA, OPERATIONS):
        row = (name, corpus_name, op)
        got = {lib: RESULTS.get(("single", row, lib)) for lib in LIB_NAMES}
        for lib in ("hf", "hf_adapted"):  # HF's count is its encode (see run_single)
            got[lib] = got[lib] or RESULTS.get(("single", (name, corpus_name, "encode"), lib))
        ck = got["covekit"]
        if ck is None:
            continue
        adapted = (
            [_mbps(got["hf_adapted"]), _ratio(ck, got["hf_adapted"])]
            if name in HF_ADAPTED
            else ["— (no {1,3}+)", ""]
        )
        rows.append(
            [
                name,
                corpus_name,
                op if op == "encode" else "count",
                _mb(ck.nbytes),
                _mbps(ck),
                _mbps(got["tiktoken"]),
                _ratio(ck, got["tiktoken"]),
                _mbps(got["hf"]),
                _ratio(ck, got["hf"]),
                *adapted,
            ]
        )
    notes = [
        "Single thread, one call on the whole corpus; best of several rounds. covekit "
        "`encode(text, disallowed_special=())` and `count(...)`; tiktoken `encode(...)` "
        "and, for count, `len(encode(...))` (tiktoken has no count); HF "
        "`encode(text, add_special_tokens=False).ids`; HF has no count either, and its "
        "count rows repeat its encode measurement (`len` of the ids adds nothing).",
        "\"covekit vs X\" = X's time / covekit's time, given only when the outputs are identical.",
        'HF: converted from tiktoken\'s ranks with the pattern as is. "HF, {1,3}": the '
        "same with cl100k's `\\p{N}{1,3}+` written `\\p{N}{1,3}` (Oniguruma reads "
        "`{1,3}+` as a repeated group, so a run of 4+ digits is one piece).",
    ]
    return head, rows, notes


def table_batch() -> tuple[list[str], list[list[str]], list[str]]:
    head = ["encoding", "corpus", "docs", "MB"]
    for lib in ("covekit", "tiktoken"):
        head += [f"{lib} {t} thread{'s' if t > 1 else ''} MB/s" for t in THREADS]
        head.append(f"{lib} scaling")
    head += [f"covekit vs tiktoken, {t} thr." for t in THREADS]
    head += [f"CPU/wall {lib}, {THREADS[-1]} thr." for lib in ("covekit", "tiktoken")]
    rows = []
    for name, corpus_name, kind in itertools.product(ENCODINGS, CORPORA, ("files", "chunks")):
        row = (name, corpus_name, kind)
        got = {
            (lib, t): RESULTS.get(("batch", row, f"{lib} {t}"))
            for lib in ("covekit", "tiktoken")
            for t in THREADS
        }
        first = got["covekit", THREADS[0]]
        if first is None:
            continue
        ndocs = (first.extra or {}).get("docs", "?")
        cells = [name, corpus_name, f"{ndocs} {'files' if kind == 'files' else 'chunks'}"]
        cells.append(_mb(first.nbytes))
        for lib in ("covekit", "tiktoken"):
            cells += [_mbps(got[lib, t]) for t in THREADS]
            cells.append(_ratio(got[lib, THREADS[-1]], got[lib, THREADS[0]]))
        cells += [_ratio(got["covekit", t], got["tiktoken", t]) for t in THREADS]
        for lib in ("covekit", "tiktoken"):
            r = got[lib, THREADS[-1]]
            busy = (r.extra or {}).get("cpu_per_wall") if r else None
            cells.append("—" if busy is None else f"{busy:.2f}")
        rows.append(cells)
    notes = [
        "`encode_batch(docs, num_threads=N, disallowed_special=())` in both libraries. "
        "Files: the corpus files as they are (English: 5 files, the largest 1.36 MB of "
        "2.05 MB, so no library can scale past ~1.5x on them). Chunks: the concatenated "
        "text cut into ~1000 pieces of equal UTF-8 size at character boundaries.",
        "Scaling = time with 1 thread / time with 2 threads. CPU/wall = process CPU time "
        "/ wall time over the timed 2-thread calls: near 2.0 when both threads really ran "
        "at once; near 1.0 when they took turns (a lock, the GIL) or another process held "
        'a CPU (see "Other CPU use").',
    ]
    return head, rows, notes


def table_long() -> tuple[list[str], list[list[str]], list[str]]:
    head = [
        "encoding",
        "input",
        "covekit ms",
        "tiktoken ms",
        "HF ms",
        "covekit vs tiktoken",
        "covekit vs HF",
    ]
    rows = []

    def ms(r: Result | None) -> str:
        if r is None or not r.seconds:
            return "—" if r is None else (r.note or "—")
        value = f"{r.seconds * 1e3:.2f}"
        return f"{value} ({r.note})" if r.note else value

    for name in ENCODINGS:
        got = {lib: RESULTS.get(("long", (name,), lib)) for lib in ("covekit", "tiktoken", "hf")}
        if got["covekit"] is None:
            continue
        rows.append(
            [
                name,
                '`"a" * 100_000`',
                ms(got["covekit"]),
                ms(got["tiktoken"]),
                ms(got["hf"]),
                _ratio(got["covekit"], got["tiktoken"]),
                _ratio(got["covekit"], got["hf"]),
            ]
        )
    notes = [
        "One pre-token piece of 100,000 bytes: the worst case of a naive BPE merge loop. "
        "HF uses the {1,3} pattern for cl100k (no digits here; it makes no difference)."
    ]
    return head, rows, notes


def table_memory() -> tuple[list[str], list[list[str]], list[str]]:
    head = ["encoding", "library", "after loading MB", "peak after encoding MB", "peak vs tiktoken"]
    rows = []
    labels = {
        "covekit": "covekit",
        "tiktoken": "tiktoken",
        "covekit_numpy": "covekit, as_numpy=True",
    }
    for name in ENCODINGS:
        tt = RESULTS.get(("memory", (name,), "tiktoken"))
        for lib in MEMORY_LIBS:
            r = RESULTS.get(("memory", (name,), lib))
            if r is None or r.extra is None:
                continue
            ratio = (
                f"{r.extra['peak_mb'] / tt.extra['peak_mb']:.2f}{X}"
                if tt is not None and tt.extra and tt.extra["peak_mb"] > 0
                else "—"
            )
            note = f" ({r.note})" if r.note else ""
            rows.append(
                [
                    name,
                    labels[lib],
                    f"{r.extra['load_mb']:.1f}",
                    f"{r.extra['peak_mb']:.1f}{note}",
                    ratio,
                ]
            )
    c_mb = f"{corpus(MEMORY_CORPUS).nbytes / 1e6:.1f}" if RESULTS else "?"
    notes = [
        f"A fresh process per row encodes the multilingual corpus ({c_mb} MB) in one call. "
        "Baseline: the process after reading the text and importing numpy and the library; "
        "the numbers are the rise of the peak RSS (VmHWM, reset to the baseline through "
        "/proc/self/clear_refs) after loading the encoding, and after encoding. The peak "
        "includes the returned list of ids (Python ints) in both libraries; the as_numpy row "
        "returns a uint32 array instead. Lower is better."
    ]
    return head, rows, notes


def table_targets() -> tuple[list[str], list[list[str]], list[str]]:
    head = ["target", "measured", "met?"]
    rows = []

    def speedups(op: str) -> list[tuple[str, float | None]]:
        out: list[tuple[str, float | None]] = []
        for name, corpus_name in itertools.product(ENCODINGS, CORPORA):
            ck = RESULTS.get(("single", (name, corpus_name, op), "covekit"))
            tt = RESULTS.get(("single", (name, corpus_name, op), "tiktoken"))
            value = tt.seconds / ck.seconds if ck and tt and ck.seconds and tt.seconds else None
            out.append((f"{name} {corpus_name}", value))
        return out

    def row(
        target: str, values: list[tuple[str, float | None]], goal: float, higher: bool = True
    ) -> None:
        known = [(k, v) for k, v in values if v is not None]
        if not known:
            return
        measured = ", ".join(f"{k} {v:.2f}{X}" for k, v in known)
        short = [k for k, v in known if not ((v >= goal) if higher else (v <= goal))]
        rows.append([target, measured, f"**no**: {', '.join(short)}" if short else "yes"])

    row(f"encode ≥ 2{X} tiktoken, 1 thread", speedups("encode"), 2.0)
    row(f"count ≥ 3{X} tiktoken, 1 thread", speedups("count"), 3.0)
    scaling: list[tuple[str, float | None]] = []
    busy: list[float] = []
    for name, corpus_name, kind in itertools.product(ENCODINGS, CORPORA, ("files", "chunks")):
        if (corpus_name, kind) == ("english", "files"):
            continue  # one file is 2/3 of the bytes: 1.5x at most, for any library
        one = RESULTS.get(("batch", (name, corpus_name, kind), "covekit 1"))
        two = RESULTS.get(("batch", (name, corpus_name, kind), "covekit 2"))
        if one and two and one.seconds and two.seconds:
            scaling.append((f"{name} {corpus_name} {kind}", one.seconds / two.seconds))
            busy.append((two.extra or {}).get("cpu_per_wall") or 0.0)
    row(f"covekit encode_batch scaling ≥ 1.8{X} from 1 to 2 threads", scaling, 1.8)
    if busy and rows and rows[-1][0].startswith("covekit encode_batch") and min(busy) < 1.5:
        rows[-1][2] += f" (CPU/wall of 2 threads {min(busy):.2f}: see the batch table)"
    memory: list[tuple[str, float | None]] = []
    for name in ENCODINGS:
        ck = RESULTS.get(("memory", (name,), "covekit"))
        tt = RESULTS.get(("memory", (name,), "tiktoken"))
        if ck and tt and ck.extra and tt.extra and tt.extra["peak_mb"] > 0:
            memory.append((name, ck.extra["peak_mb"] / tt.extra["peak_mb"]))
    row("peak memory ≤ tiktoken's (ratio ≤ 1)", memory, 1.0, higher=False)
    notes = [
        "Scaling leaves out the English files (5 files, one of them 2/3 of the bytes). "
        "Memory compares the list-returning `encode` (not as_numpy)."
    ]
    return head, rows, notes


TABLES: dict[str, tuple[str, Callable[[], tuple[list[str], list[list[str]], list[str]]]]] = {
    "single": ("Single-threaded encode and count", table_single),
    "batch": ("Batch encode, 1 and 2 threads", table_batch),
    "long": ("One long piece", table_long),
    "memory": ("Peak memory", table_memory),
    "targets": ("Targets", table_targets),
}


def _markdown(head: list[str], rows: list[list[str]]) -> list[str]:
    def cell(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |"]
    lines.append("|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|")
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return lines


def _plain(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*head), "  ".join("-" * w for w in widths)] + [fmt.format(*r) for r in rows]


def report(markdown: bool = False, env: dict[str, str] | None = None) -> str:
    """The environment, every table that has results, and the targets ("" if none)."""
    if not RESULTS:
        return ""
    env = environment() if env is None else env
    if markdown:
        head = ["### Environment", "", *(f"- {k}: {v}" for k, v in env.items()), ""]
    else:
        head = [*(f"{k}: {v}" for k, v in env.items()), ""]
    return "\n".join(head) + "\n" + render(markdown)


def render(markdown: bool = False, tables: Sequence[str] = tuple(TABLES)) -> str:
    out: list[str] = []
    for key in tables:
        title, build = TABLES[key]
        head, rows, notes = build()
        if not rows:
            continue
        if markdown:
            out += [f"### {title}", "", *_markdown(head, rows), ""]
            out += [f"- {n}" for n in notes] + [""]
        else:
            out += [title, "", *_plain(head, rows), ""]
            out += [f"  {n}" for n in notes] + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------- environment
def environment() -> dict[str, str]:
    """Machine, OS and versions, for the header of docs/benchmarks.md."""
    info: dict[str, str] = {}
    cpu = platform.processor() or "?"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
        cpu = m.group(1).strip() if m else cpu
    except (OSError, subprocess.CalledProcessError):
        pass
    info["CPU"] = f"{cpu}, {os.cpu_count()} logical CPUs ({len(os.sched_getaffinity(0))} usable)"
    try:
        mem_kb = int(re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        info["RAM"] = f"{mem_kb / 1024**2:.1f} GiB"
    except (OSError, AttributeError):
        pass
    os_name = platform.system()
    try:
        m = re.search(r'^PRETTY_NAME="?([^"\n]+)', Path("/etc/os-release").read_text(), re.M)
        os_name = m.group(1) if m else os_name
    except OSError:
        pass
    info["OS"] = f"{os_name}, kernel {platform.release()}"
    info["Python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["Other CPU use"] = machine_load()
    info["Compiler"] = _compiler()
    info["covekit commit"] = _git_commit()
    for pkg in ("covekit", "tiktoken", "tokenizers", "numpy"):
        try:
            info[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    for name in CORPORA:
        try:
            c = corpus(name)
        except pytest.skip.Exception:
            continue
        info[f"{name} corpus"] = f"{len(c.files)} files, {c.nbytes / 1e6:.2f} MB"
    return info


def other_cpu_use(seconds: float = 1.0) -> float | None:
    """Percent of all CPUs busy while this process sleeps for ``seconds`` (Linux)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 100.0 * (1 - (idle2 - idle1) / max(1, total2 - total1))


_CPU_BEFORE: list[float | None] = []


def note_cpu_before() -> None:
    """Samples the other processes' CPU use before the first benchmark."""
    if not _CPU_BEFORE:
        _CPU_BEFORE.append(other_cpu_use())


def machine_load() -> str:
    """Other processes' CPU use before and after the run, with a warning when it was high."""
    after = other_cpu_use()
    values = [("before", _CPU_BEFORE[0] if _CPU_BEFORE else None), ("after", after)]
    known = [(k, v) for k, v in values if v is not None]
    if not known:
        return "unknown"
    text = ", ".join(f"{v:.0f}% {k} the run" for k, v in known) + " (of all CPUs)"
    if max(v for _, v in known) > 10:
        text += " — other processes were running: timings, thread scaling above all, are noisy"
    return text


def _git_commit() -> str:
    """The checkout's commit, "+ local changes" when the tree differs from it."""
    repo = str(_HERE.parent.parent)
    try:
        head = subprocess.run(
            ["git", "-C", repo, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def _compiler() -> str:
    """The C++ compiler and release flags of the editable build (build/cp*/CMakeCache.txt)."""
    for cache_file in sorted((_HERE.parent.parent / "build").glob("cp*/CMakeCache.txt")):
        text = cache_file.read_text(errors="replace")
        m = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.+)$", text, re.M)
        flags = re.search(r"^CMAKE_CXX_FLAGS_RELEASE:\w+=(.*)$", text, re.M)
        if not m:
            continue
        try:
            version = subprocess.run(
                [m.group(1), "--version"], capture_output=True, text=True, check=True
            ).stdout.splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            version = m.group(1)
        return f"{version}, {flags.group(1) if flags else '?'} (Release)"
    return "unknown (no build/cp*/CMakeCache.txt)"


# --------------------------------------------------------------------------- pytest
def _pytest_timer(request: pytest.FixtureRequest, group: str) -> Timer:
    """pytest-benchmark's timer. The fixture is taken only once the output has been
    checked, so that a skip or a failed check does not leave it unused (a warning)."""

    def timer(fn: Callable[[], Any], rounds: int, warmup: int) -> float | None:
        benchmark = request.getfixturevalue("benchmark")
        benchmark.group = group
        if benchmark.disabled:  # --benchmark-disable: the checked run was the smoke test
            benchmark.pedantic(lambda: None)  # marks the fixture used
            return None
        benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup, iterations=1)
        return float(benchmark.stats.stats.min)

    return timer


def _record(request: pytest.FixtureRequest, result: Result) -> None:
    if result.seconds is not None:
        info = request.getfixturevalue("benchmark").extra_info
        info.update({"MB/s": result.mbps, "not_equal": result.note})


@pytest.fixture(scope="module", autouse=True)
def _report(bench_results: dict[str, Any]) -> None:
    note_cpu_before()
    bench_results["report"] = report


SINGLE_CASES = [
    pytest.param(n, c, op, lib, id=f"{op}-{n}-{c}-{lib}")
    for n, c, op in itertools.product(ENCODINGS, CORPORA, OPERATIONS)
    for lib in single_libs(n, op)
]


@pytest.mark.parametrize(("name", "corpus_name", "op", "lib"), SINGLE_CASES)
def test_single_thread(
    name: str, corpus_name: str, op: str, lib: str, request: pytest.FixtureRequest
) -> None:
    if lib.startswith("hf") and isinstance(hf_tok(name, lib == "hf_adapted"), str):
        run_single(name, corpus_name, op, lib, best_of)  # records why, for the table
        pytest.skip(f"HF peer: {hf_tok(name, lib == 'hf_adapted')}")
    timer = _pytest_timer(request, f"{op} {name} {corpus_name}")
    _record(request, run_single(name, corpus_name, op, lib, timer))


BATCH_CASES = [
    pytest.param(n, c, k, lib, t, id=f"batch-{n}-{c}-{k}-{lib}-{t}t")
    for n, c, k in itertools.product(ENCODINGS, CORPORA, ("files", "chunks"))
    for lib in ("covekit", "tiktoken")
    for t in THREADS
]


@pytest.mark.parametrize(("name", "corpus_name", "kind", "lib", "threads"), BATCH_CASES)
def test_encode_batch(
    name: str, corpus_name: str, kind: str, lib: str, threads: int, request: pytest.FixtureRequest
) -> None:
    timer = _pytest_timer(request, f"encode_batch {name} {corpus_name} {kind}")
    _record(request, run_batch(name, corpus_name, kind, lib, threads, timer))


@pytest.mark.parametrize("lib", ["covekit", "tiktoken", "hf"])
@pytest.mark.parametrize("name", ENCODINGS)
def test_long_piece(name: str, lib: str, request: pytest.FixtureRequest) -> None:
    if lib == "hf" and isinstance(hf_tok(name, name in HF_ADAPTED), str):
        pytest.skip(f"HF peer: {hf_tok(name, name in HF_ADAPTED)}")
    timer = _pytest_timer(request, f"encode 'a'*100_000 {name}")
    _record(request, run_long(name, lib, timer))


@pytest.mark.parametrize("lib", MEMORY_LIBS)
@pytest.mark.parametrize("name", ENCODINGS)
def test_peak_memory(name: str, lib: str) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux /proc")
    result = run_memory(name, lib)
    assert result.extra is not None


# --------------------------------------------------------------------------- script
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument(
        "--tables",
        default="single,batch,long,memory",
        help="comma-separated subset of: single, batch, long, memory (default: all)",
    )
    parser.add_argument("--no-hf", action="store_true", help="leave out the HF peer")
    parser.add_argument(
        "--update",
        metavar="PATH",
        help=f"write the markdown between the {BEGIN!r} and {END!r} lines of PATH "
        "(docs/benchmarks.md) instead of printing it",
    )
    args = parser.parse_args(argv)
    chosen = [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = set(chosen) - {"single", "batch", "long", "memory"}
    if unknown:
        parser.error(f"unknown tables: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="covekit-bench-") as tmp:
        try:
            os.environ.update(
                COVEKIT_TOKENIZER_DIR=str(tokenizer_dir()),
                TIKTOKEN_CACHE_DIR=str(link_tiktoken_cache(Path(tmp) / "tiktoken-cache")),
                COVEKIT_OFFLINE="1",
                TOKENIZERS_PARALLELISM="false",
            )
            corpus("english")  # like tokenizer_dir(), raises Skipped when data is missing
        except pytest.skip.Exception as exc:
            print(f"cannot run the benchmarks: {exc.msg}", file=sys.stderr)
            return 2
        note_cpu_before()

        def progress(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

        if "single" in chosen:
            for name, corpus_name, op in itertools.product(ENCODINGS, CORPORA, OPERATIONS):
                for lib in single_libs(name, op):
                    if args.no_hf and lib.startswith("hf"):
                        continue
                    progress(f"{op} {name} {corpus_name} {lib}")
                    run_single(name, corpus_name, op, lib, best_of)
        if "batch" in chosen:
            for name, corpus_name, kind in itertools.product(
                ENCODINGS, CORPORA, ("files", "chunks")
            ):
                for lib, threads in itertools.product(("covekit", "tiktoken"), THREADS):
                    progress(f"encode_batch {name} {corpus_name} {kind} {lib} {threads}t")
                    run_batch(name, corpus_name, kind, lib, threads, best_of)
        if "long" in chosen:
            for name in ENCODINGS:
                for lib in ("covekit", "tiktoken", *(() if args.no_hf else ("hf",))):
                    progress(f"long piece {name} {lib}")
                    run_long(name, lib, best_of)
        if "memory" in chosen:
            for name in ENCODINGS:
                for lib in MEMORY_LIBS:
                    progress(f"memory {name} {lib}")
                    run_memory(name, lib)

    if args.update:
        update_block(Path(args.update), "bench_tokenizer.py", report(markdown=True))
        print(f"updated {args.update}", file=sys.stderr)
    else:
        print(report(args.markdown))
    return 0


BEGIN, END = markers("bench_tokenizer.py")


if __name__ == "__main__":
    sys.exit(main())

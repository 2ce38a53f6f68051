"""The ``covekit`` command.

``covekit count FILE...`` counts tokens; ``covekit encode TEXT`` prints ids;
``covekit demo`` runs the end-to-end demo on the bundled sample data.

>>> from covekit.cli import main
>>> main(["encode", "--encoding", "cl100k_base", "hello world"])
15339 1917
0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from covekit.errors import CovekitError

_SAMPLES = Path(__file__).parent / "samples"


def _cmd_count(args: argparse.Namespace) -> int:
    from covekit import get_tokenizer

    enc = get_tokenizer(args.encoding)
    total = 0
    for name in args.files:
        text = Path(name).read_text(encoding="utf-8", errors="replace")
        n = enc.count(text, disallowed_special=())
        total += n
        print(f"{n:>10}  {name}")
    if len(args.files) > 1:
        print(f"{total:>10}  total ({args.encoding})")
    return 0


def _cmd_encode(args: argparse.Namespace) -> int:
    from covekit import get_tokenizer

    enc = get_tokenizer(args.encoding)
    print(" ".join(str(t) for t in enc.encode(args.text, disallowed_special=())))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from covekit import get_tokenizer, hash

    docs = sorted((_SAMPLES / "kb").glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in docs]
    print(
        f"covekit demo: {len(docs)} sample documents (covekit/samples/kb), "
        f"{sum(len(t) for t in texts):,} characters\n"
    )
    print(f"{'encoding':<14}{'tokens':>10}{'chars/token':>13}{'ms':>9}")
    for name in ("r50k_base", "p50k_base", "cl100k_base", "o200k_base"):
        enc = get_tokenizer(name)
        enc.count_batch(texts[:1], num_threads=1)  # warm up (first call imports numpy)
        t0 = time.perf_counter()
        counts = enc.count_batch(texts, num_threads=2, disallowed_special=())
        ms = (time.perf_counter() - t0) * 1e3
        total = sum(counts)
        print(f"{name:<14}{total:>10,}{sum(map(len, texts)) / max(total, 1):>13.2f}{ms:>9.2f}")

    enc = get_tokenizer("o200k_base")
    sample = "Refunds are issued within 14 days. Contact billing@example.com ✉️ or 请联系我们."
    ids, starts = enc.encode_with_offsets(sample)
    print(f"\n{sample!r}\n-> {len(ids)} o200k tokens; first pieces with their str offsets:")
    for tok, start in list(zip(ids, starts, strict=True))[:8]:
        print(f"   {start:>3}  {tok:>7}  {enc.decode_single_token_bytes(tok)!r}")
    budget = 8
    cut = enc.truncate(sample, budget)
    print(f"truncate to {budget} tokens -> {cut!r} ({enc.count(cut)} tokens)")
    try:
        enc.encode("ignore this <|endoftext|> marker")
    except CovekitError as exc:
        print(f"special-token text is refused by default: {type(exc).__name__}")
    print(f"\n{'document':<30}" + "".join(f"{n:>13}" for n in ("cl100k_base", "o200k_base")))
    per_doc = {
        n: get_tokenizer(n).count_batch(texts, disallowed_special=())
        for n in ("cl100k_base", "o200k_base")
    }
    for i, p in enumerate(docs):
        print(f"{p.name:<30}" + "".join(f"{per_doc[n][i]:>13}" for n in per_doc))
    ids_per_doc = hash.xxh3_64_batch(texts)
    print("\nstable document ids (XXH3-64):")
    for p, h in zip(docs, ids_per_doc.tolist(), strict=True):
        print(f"   {h:016x}  {p.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="covekit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("count", help="count the tokens of files")
    p.add_argument("files", nargs="+")
    p.add_argument("--encoding", default="o200k_base")
    p.set_defaults(func=_cmd_count)
    p = sub.add_parser("encode", help="print the token ids of a text")
    p.add_argument("text")
    p.add_argument("--encoding", default="o200k_base")
    p.set_defaults(func=_cmd_encode)
    p = sub.add_parser("demo", help="run the end-to-end demo")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CovekitError as exc:
        print(f"covekit: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

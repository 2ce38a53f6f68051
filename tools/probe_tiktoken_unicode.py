#!/usr/bin/env python3
"""Find out empirically which Unicode version tiktoken's split regexes use, and
check that the version pinned in tools/gen_unicode_tables.py agrees with
tiktoken on every code point.

Usage (needs tiktoken; fetches unicodedata2 candidates with pip into a cache
directory unless --no-install is given):

    python tools/probe_tiktoken_unicode.py
    python tools/probe_tiktoken_unicode.py --candidates 15.0.0,16.0.0,17.0.0

It prints, per candidate Unicode version, how many code points disagree with
tiktoken, and exits non-zero if the pinned version disagrees anywhere.

Method.  tiktoken first looks every regex piece up in the vocabulary as a whole
and emits one token if it is there.  So with a custom Encoding whose ranks are
the 256 single bytes plus the UTF-8 of each test string s,
len(encode_ordinary(s)) == 1 exactly when the regex matched s as ONE piece
(several pieces give >= 1 token each).  For every code point c (surrogates
cannot be encoded and are skipped; they are Cs, class 0):

  r50k pattern  '(?:[sdmt]|ll|ve|re)| ?\\p{L}++| ?\\p{N}++| ?[^\\s\\p{L}\\p{N}]++|\\s++$|\\s+(?!\\S)|\\s
    "a"  + c  is one piece  iff  c in \\p{L}     (' ?\\p{L}++' takes c too)
    "1"  + c  is one piece  iff  c in \\p{N}     (' ?\\p{N}++' takes c too)
    "\\n" + c  is one piece  iff  c in \\s        ('\\s++$' matches; otherwise
                                                '\\s+(?!\\S)' fails and '\\s' takes "\\n")
  o200k pattern (UP = [\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}], LOW = [\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}])
    "a" + c          is one piece iff c in LOW  ('a' is Ll: UP* is empty, LOW+ takes "a"+c)
    "A" + c + "Aa"   is one piece iff c in UP   (UP* takes "A"+c+"A", LOW+ takes "a";
                                                 if c is not in UP the first piece ends
                                                 at or before c)
  and \\p{M} = UP & LOW & ~\\p{L}.  The same three r50k tests are repeated with
  the cl100k pattern ("a"+c via '[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++', "1"+c via
  '\\p{N}{1,3}+', "\\n"+c via '\\s++$' else '\\s*[\\r\\n]' takes "\\n" alone) and must
  agree with r50k.  None of the test strings starts with an
  apostrophe, so the contraction alternatives never interfere, and \\r, \\n, '
  as c behave as the derivations say (the script checks a few known code points
  before trusting the full run).

The raw result is cached (default: a file in the system temp directory keyed by
the tiktoken version) so re-checking candidates is fast; --refresh re-probes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS_DIR))
import gen_unicode_tables as gen  # noqa: E402

CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# Set in a probe result when the cl100k pattern disagrees with the r50k one
# about L, N or WS (never set in a table, so it always counts as a mismatch).
CL100K_MISMATCH = 64

DEFAULT_CANDIDATES = ["14.0.0", "15.0.0", "15.1.0", "16.0.0", "17.0.0"]
BIT_NAMES = [
    (gen.LETTER, "L"),
    (gen.NUMBER, "N"),
    (gen.SPACE, "WS"),
    (gen.MARK, "M"),
    (gen.UPPER, "UP"),
    (gen.LOWER, "LOW"),
    (CL100K_MISMATCH, "CL100K-MISMATCH"),
]

# Known answers, checked with the same machinery before the full run.
SANITY = {
    0x0061: gen.LETTER | gen.LOWER,  # a  Ll
    0x0041: gen.LETTER | gen.UPPER,  # A  Lu
    0x01C5: gen.LETTER | gen.UPPER,  # Dž Lt
    0x02B0: gen.LETTER | gen.UPPER | gen.LOWER,  # ʰ  Lm
    0x4E00: gen.LETTER | gen.UPPER | gen.LOWER,  # 一 Lo
    0x0301: gen.MARK | gen.UPPER | gen.LOWER,  # combining acute, Mn
    0x0031: gen.NUMBER,  # 1  Nd
    0x00B2: gen.NUMBER,  # ²  No
    0x2160: gen.NUMBER,  # Ⅰ  Nl
    0x0020: gen.SPACE,
    0x000A: gen.SPACE,
    0x000D: gen.SPACE,
    0x0085: gen.SPACE,
    0x3000: gen.SPACE,
    0x0027: 0,  # '
    0x0021: 0,  # !
    0x0378: 0,  # unassigned
    0x10FFFF: 0,  # noncharacter
}


def fmt_bits(b: int) -> str:
    names = [n for bit, n in BIT_NAMES if b & bit]
    return "|".join(names) if names else "0"


def _is_surrogate(cp: int) -> bool:
    return 0xD800 <= cp <= 0xDFFF


def probe_code_points(cps: list[int]) -> dict[int, int]:
    """Class byte of each (non-surrogate) code point as tiktoken sees it."""
    import tiktoken

    base = {bytes([i]): i for i in range(256)}

    def encoding(pat: str, strings: list[str]):
        ranks = dict(base)
        for s in strings:
            b = s.encode("utf-8")
            if b not in ranks:
                ranks[b] = len(ranks)
        return tiktoken.Encoding("covekit-probe", pat_str=pat, mergeable_ranks=ranks, special_tokens={})

    cps = [cp for cp in cps if not _is_surrogate(cp)]
    chars = [chr(cp) for cp in cps]
    tests_r50k = [("a", gen.LETTER), ("1", gen.NUMBER), ("\n", gen.SPACE)]
    enc = encoding(R50K_PAT, [p + c for c in chars for p, _ in tests_r50k])
    out = dict.fromkeys(cps, 0)
    enc_one = enc.encode_ordinary
    for cp, c in zip(cps, chars):
        b = 0
        for prefix, bit in tests_r50k:
            if len(enc_one(prefix + c)) == 1:
                b |= bit
        out[cp] = b
    del enc

    enc = encoding(CL100K_PAT, [p + c for c in chars for p, _ in tests_r50k])
    enc_one = enc.encode_ordinary
    for cp, c in zip(cps, chars):
        b = 0
        for prefix, bit in tests_r50k:
            if len(enc_one(prefix + c)) == 1:
                b |= bit
        if b != out[cp]:
            out[cp] |= CL100K_MISMATCH
    del enc

    enc = encoding(O200K_PAT, [s for c in chars for s in ("a" + c, "A" + c + "Aa")])
    enc_one = enc.encode_ordinary
    for cp, c in zip(cps, chars):
        b = out[cp]
        if len(enc_one("a" + c)) == 1:
            b |= gen.LOWER
        if len(enc_one("A" + c + "Aa")) == 1:
            b |= gen.UPPER
        if (b & gen.UPPER) and (b & gen.LOWER) and not (b & gen.LETTER):
            b |= gen.MARK
        out[cp] = b
    return out


def sanity_check() -> None:
    got = probe_code_points(sorted(SANITY))
    bad = [(cp, SANITY[cp], got[cp]) for cp in sorted(SANITY) if got[cp] != SANITY[cp]]
    if bad:
        for cp, want, have in bad:
            print(f"  U+{cp:04X}: expected {fmt_bits(want)}, tiktoken gives {fmt_bits(have)}")
        raise SystemExit("error: probe sanity check failed; the probe derivations do not hold")


def probe_all(batch: int, verbose: bool = True) -> bytes:
    out = bytearray(gen.NUM_CODE_POINTS)
    t0 = time.time()
    for start in range(0, gen.NUM_CODE_POINTS, batch):
        res = probe_code_points(list(range(start, min(start + batch, gen.NUM_CODE_POINTS))))
        for cp, b in res.items():
            out[cp] = b
        if verbose:
            print(
                f"  probed U+{start:06X}..U+{min(start + batch, gen.NUM_CODE_POINTS) - 1:06X}"
                f"  ({time.time() - t0:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
    return bytes(out)


def cache_key() -> str:
    import tiktoken

    h = hashlib.sha256("\0".join([R50K_PAT, CL100K_PAT, O200K_PAT]).encode()).hexdigest()[:12]
    return f"tiktoken-{tiktoken.__version__}-{h}"


def load_or_probe(cache_dir: Path, refresh: bool, batch: int) -> bytes:
    path = cache_dir / f"probe-{cache_key()}.bin"
    if path.exists() and not refresh:
        data = path.read_bytes()
        if len(data) == gen.NUM_CODE_POINTS:
            print(f"using cached probe result {path}")
            return data
    print("sanity-checking the probe on known code points ...")
    sanity_check()
    print(f"probing all code points with tiktoken (batches of {batch}) ...")
    data = probe_all(batch)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"saved probe result to {path}")
    return data


_SUBPROCESS_CODE = """
import sys, unicodedata2
sys.path.insert(0, sys.argv[1])
import gen_unicode_tables as gen
sys.stdout.write(unicodedata2.unidata_version + "\\n")
sys.stdout.flush()
sys.stdout.buffer.write(gen.compute_classes(unicodedata2))
"""


def classes_for_version(version: str, cache_dir: Path, install: bool):
    """(classes, category_fn_or_None, source) for a Unicode version, or None."""
    try:
        import unicodedata2

        if unicodedata2.unidata_version == version:
            return gen.compute_classes(unicodedata2), unicodedata2.category, "unicodedata2 (current env)"
    except ImportError:
        pass
    import unicodedata

    if unicodedata.unidata_version == version:
        return gen.compute_classes(unicodedata), unicodedata.category, "Python's unicodedata"

    target = cache_dir / f"unicodedata2-{version}"
    if not any(target.glob("unicodedata2*.so")) and not any(target.glob("unicodedata2*.pyd")):
        if not install:
            return None
        print(f"  installing unicodedata2=={version} into {target} ...")
        r = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--only-binary=:all:", "--target", str(target), f"unicodedata2=={version}"],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            err = [ln for ln in r.stderr.splitlines() if ln.startswith("ERROR")]
            print("  pip failed: " + (err[-1] if err else r.stderr.strip()[-500:]))
            return None
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS_CODE, str(TOOLS_DIR)], capture_output=True, env=env
    )
    if r.returncode != 0:
        print(r.stderr.decode(errors="replace").strip()[-2000:])
        return None
    line, _, data = r.stdout.partition(b"\n")
    got = line.decode()
    if got != version or len(data) != gen.NUM_CODE_POINTS:
        print(f"  unicodedata2 in {target} provides Unicode {got}, not {version}")
        return None
    return data, None, f"unicodedata2 in {target}"


def compare(observed: bytes, expected: bytes) -> tuple[list[int], dict[str, int]]:
    diffs = [
        cp
        for cp in range(gen.NUM_CODE_POINTS)
        if observed[cp] != expected[cp] and not _is_surrogate(cp)
    ]
    per_bit = {name: sum(1 for cp in diffs if (observed[cp] ^ expected[cp]) & bit) for bit, name in BIT_NAMES}
    return diffs, per_bit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES),
                    help="comma-separated Unicode versions to compare (the pinned one is always added)")
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "covekit-unicode-probe",
                    help="where the probe result and unicodedata2 candidates are kept")
    ap.add_argument("--refresh", action="store_true", help="re-probe tiktoken even if a cached result exists")
    ap.add_argument("--no-install", action="store_true", help="do not pip-install missing candidates")
    ap.add_argument("--batch", type=int, default=0x10000, help="code points per custom Encoding")
    ap.add_argument("--examples", type=int, default=8, help="disagreeing code points to show per candidate")
    args = ap.parse_args(argv)

    import tiktoken

    try:
        from tiktoken_ext import openai_public

        if getattr(openai_public, "r50k_pat_str", R50K_PAT) != R50K_PAT:
            print("warning: tiktoken's r50k pattern changed; review the probe derivations")
    except ImportError:
        pass
    print(f"tiktoken {tiktoken.__version__}; pinned Unicode version {gen.PINNED_UNICODE_VERSION}")
    observed = load_or_probe(args.cache_dir, args.refresh, args.batch)

    candidates = [v.strip() for v in args.candidates.split(",") if v.strip()]
    if gen.PINNED_UNICODE_VERSION not in candidates:
        candidates.append(gen.PINNED_UNICODE_VERSION)

    results: dict[str, int | None] = {}
    for version in candidates:
        got = classes_for_version(version, args.cache_dir, not args.no_install)
        if got is None:
            print(f"Unicode {version:>7}: not available")
            results[version] = None
            continue
        expected, category, source = got
        diffs, per_bit = compare(observed, expected)
        results[version] = len(diffs)
        bits = ", ".join(f"{n} {c}" for n, c in per_bit.items() if c)
        print(f"Unicode {version:>7}: {len(diffs):6d} code points disagree with tiktoken"
              + (f"  (per bit: {bits})" if bits else "") + f"  [{source}]")
        for cp in diffs[: args.examples]:
            cat = f" gc={category(chr(cp))}" if category else ""
            print(f"      U+{cp:04X}{cat}: table {fmt_bits(expected[cp])}, tiktoken {fmt_bits(observed[cp])}")

    exact = [v for v, n in results.items() if n == 0]
    print("exact matches:", ", ".join(exact) if exact else "none")
    pinned = results.get(gen.PINNED_UNICODE_VERSION)
    if pinned is None:
        print(f"FAIL: pinned Unicode {gen.PINNED_UNICODE_VERSION} could not be evaluated")
        return 2
    if pinned != 0:
        print(f"FAIL: pinned Unicode {gen.PINNED_UNICODE_VERSION} disagrees with tiktoken "
              f"{tiktoken.__version__} on {pinned} code points")
        return 1
    print(f"OK: pinned Unicode {gen.PINNED_UNICODE_VERSION} agrees with tiktoken {tiktoken.__version__} "
          "on every code point")
    return 0


if __name__ == "__main__":
    sys.exit(main())

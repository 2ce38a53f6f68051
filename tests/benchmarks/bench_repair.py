"""covekit.repair_json against the json_repair library: accuracy on the corpus and speed.

Run with ``make bench`` (pytest-benchmark), or as a script that prints the tables::

    python tests/benchmarks/bench_repair.py [--rounds 5] [--markdown] [--update docs/benchmarks.md]

Accuracy: every case of tests/data/json_repair_corpus.jsonl (hand-written malformed
model outputs, each with the value expected or the refusal expected) goes through
``covekit.repair_json(input, strict=..., multiple=...)`` and ``json_repair.loads(input,
strict=...)`` (json_repair has no ``multiple`` option; it returns a list when it finds
several values). An outcome is

- a *success* when the value equals the expectation (types included: 1 is not 1.0 or
  True), or when a refusal was expected and the library refused (covekit: RepairError;
  json_repair: an exception or its "nothing found" result ``""``);
- a *silent data change* when the library returned a value that differs from the
  expectation, or returned a value where a refusal was expected;
- otherwise a *refusal* of a case that had a repair (safe, but a miss).

Speed, same process, same inputs, single thread, best of ``rounds`` batches of at least
50 ms each (per call: the time of a batch over its calls); the outputs are checked equal
before anything is timed. Both sides produce the Python value
(``repair_json(...).value`` vs ``json_repair.loads``):

- the corpus: every case both libraries repair to the expected value, one call each;
- a 1 MB Python dict repr (single quotes, True/None, trailing commas) cut off at the end;
- the same data as valid JSON (both check for valid JSON first).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from doc_block import update_block  # noqa: E402
from timing import best_per_call  # noqa: E402

CORPUS = _HERE.parent / "data" / "json_repair_corpus.jsonl"
_REFUSED = object()


@cache
def cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def _json_repair() -> Any:
    return pytest.importorskip(
        "json_repair", reason="json_repair is not installed (pip install 'covekit[bench]')"
    )


def same(a: Any, b: Any) -> bool:
    return json.dumps(a) == json.dumps(b)


def run_covekit(case: dict[str, Any]) -> Any:
    import covekit

    kw = {k: case[k] for k in ("strict", "multiple") if k in case}
    try:
        return covekit.repair_json(case["input"], **kw).value
    except covekit.errors.RepairError:
        return _REFUSED


def run_json_repair(case: dict[str, Any]) -> Any:
    jr = _json_repair()
    try:
        value = jr.loads(case["input"], strict=bool(case.get("strict")))
    except Exception:
        return _REFUSED
    return _REFUSED if value == "" else value


@dataclass
class Score:
    cases: int = 0
    success: int = 0
    silent: int = 0
    refused_repairable: int = 0
    silent_ids: tuple[str, ...] = ()

    @property
    def rate(self) -> float:
        return self.success / max(1, self.cases)


def score(run: Callable[[dict[str, Any]], Any]) -> Score:
    s = Score()
    silent: list[str] = []
    for case in cases():
        s.cases += 1
        got = run(case)
        if case.get("refuse"):
            if got is _REFUSED:
                s.success += 1
            else:
                silent.append(case["id"])
        elif got is _REFUSED:
            s.refused_repairable += 1
        elif same(got, case["expect"]):
            s.success += 1
        else:
            silent.append(case["id"])
    s.silent = len(silent)
    s.silent_ids = tuple(silent)
    return s


# --------------------------------------------------------------------------- speed inputs
@cache
def inputs() -> dict[str, list[str]]:
    agreed = [
        c["input"]
        for c in cases()
        if not c.get("refuse")
        and not c.get("strict")
        and "multiple" not in c
        and same(run_covekit(c), c["expect"])
        and same(run_json_repair(c), c["expect"])
    ]
    rows = [
        {
            "id": i,
            "name": f"user {i}",
            "active": i % 3 != 0,
            "manager": None,
            "score": i * 0.25,
            "tags": ["a", "b"],
            "note": "it is fine, really",
        }
        for i in range(8000)
    ]
    body = ", ".join(repr(r) for r in rows)
    repr_doc = "[" + body.replace("}", ",}")
    repr_doc = repr_doc[: repr_doc.rfind("ne, really")]  # cut off at max_tokens, inside a string
    valid = json.dumps(rows)
    return {"corpus": agreed, "python repr, truncated": [repr_doc], "valid JSON": [valid]}


def check_same(name: str) -> None:
    import covekit

    jr = _json_repair()
    for text in inputs()[name]:
        a, b = covekit.repair_json(text).value, jr.loads(text)
        if not same(a, b):
            raise AssertionError(f"{name}: covekit and json_repair disagree on {text[:80]!r}")


def best_of(fn: Callable[[], Any], rounds: int) -> float:
    """Best time per call: one warm-up call, then `rounds` batches of at least 50 ms (a pass
    over the small corpus takes a fraction of a millisecond)."""
    return best_per_call(fn, rounds, min_time=0.05, warmup_calls=1)


def timers(name: str) -> dict[str, Callable[[], Any]]:
    import covekit

    jr = _json_repair()
    texts = inputs()[name]
    return {
        "covekit": lambda: [covekit.repair_json(t).value for t in texts],
        "json_repair": lambda: [jr.loads(t) for t in texts],
    }


# --------------------------------------------------------------------------- pytest
@pytest.mark.parametrize("lib", ["covekit", "json_repair"])
def test_repair_accuracy(lib: str) -> None:
    _json_repair()
    s = score(run_covekit if lib == "covekit" else run_json_repair)
    if lib == "covekit":
        assert s.silent == 0, s.silent_ids
        assert s.success == s.cases
        assert s.rate >= score(run_json_repair).rate


@pytest.mark.parametrize("doc", ["corpus", "python repr, truncated", "valid JSON"])
@pytest.mark.parametrize("lib", ["covekit", "json_repair"])
def test_repair_speed(lib: str, doc: str, benchmark: Any) -> None:
    check_same(doc)
    benchmark.group = f"repair {doc}"
    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    benchmark.pedantic(timers(doc)[lib], rounds=3, warmup_rounds=1)


# --------------------------------------------------------------------------- report
def environment() -> dict[str, str]:
    info = {
        "CPU": platform.processor() or platform.machine(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["CPU"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    for pkg in ("covekit", "json_repair"):
        try:
            info[pkg] = importlib.metadata.version(pkg.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    info["corpus"] = f"{len(cases())} cases ({sum(1 for c in cases() if c.get('refuse'))} refusals)"
    return info


def table(head: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
        ]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*head), "  ".join("-" * w for w in widths), *(fmt.format(*r) for r in rows)]


def report(rounds: int, markdown: bool) -> str:
    ck, jr = score(run_covekit), score(run_json_repair)
    out: list[str] = []
    env = environment()
    out += (
        ["### Environment", "", *(f"- {k}: {v}" for k, v in env.items()), ""]
        if markdown
        else [*(f"{k}: {v}" for k, v in env.items()), ""]
    )
    out += [
        "### JSON repair: accuracy on the corpus"
        if markdown
        else "JSON repair: accuracy on the corpus",
        "",
    ]
    rows = [
        [
            name,
            f"{s.success}/{s.cases} ({100 * s.rate:.1f}%)",
            str(s.silent),
            str(s.refused_repairable),
        ]
        for name, s in (("covekit", ck), ("json_repair", jr))
    ]
    out += table(
        ["library", "success", "silent data changes", "refused a repairable case"], rows, markdown
    )
    out += [
        "",
        f"- json_repair's silent changes: {', '.join(jr.silent_ids)}" if jr.silent_ids else "",
        "",
    ]
    out += [
        "### JSON repair: speed (MB/s of input, single thread)"
        if markdown
        else "JSON repair: speed",
        "",
    ]
    rows = []
    for doc in inputs():
        check_same(doc)
        nbytes = sum(len(t.encode()) for t in inputs()[doc])
        t = {lib: best_of(fn, rounds) for lib, fn in timers(doc).items()}
        rows.append(
            [
                f"{doc} ({len(inputs()[doc])} docs, {nbytes / 1e6:.2f} MB)",
                f"{nbytes / 1e6 / t['covekit']:.1f}",
                f"{nbytes / 1e6 / t['json_repair']:.2f}",
                f"{t['json_repair'] / t['covekit']:.0f}x",
            ]
        )
    out += table(["input", "covekit MB/s", "json_repair MB/s", "covekit speed-up"], rows, markdown)
    out += [
        "",
        "- target: repair at least 20x json_repair's speed; both sides produce the Python value.",
        "- covekit makes the whole result in one native call: the repair, the parse of its "
        "output into Python objects (simdjson, converted through the C API; `json.loads` "
        "where simdjson declines, e.g. a lone surrogate escape) and the `Repaired` object. "
        "The repair log stays native until `.repairs` is read (the 1 MB input has ~112,000 "
        "repairs); `lossless` is computed in C++.",
        "- valid JSON: both sides end in building the Python objects (covekit: simdjson "
        "validation and a duplicate-key check, then the simdjson parse converted to Python "
        "objects; json_repair: `json.loads`), so neither can be much faster than the other.",
        "",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument(
        "--update", metavar="PATH", help="rewrite this script's block of PATH (docs/benchmarks.md)"
    )
    args = ap.parse_args()
    text = report(args.rounds, args.markdown or bool(args.update))
    if args.update:
        update_block(Path(args.update), Path(__file__).name, text)
    print(text)


if __name__ == "__main__":
    main()

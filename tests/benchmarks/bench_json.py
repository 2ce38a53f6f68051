"""covekit's JSON Schema validation against jsonschema-rs, fastjsonschema, python-jsonschema
and pydantic v2 (same process, same documents).

Run with ``make bench`` (pytest-benchmark), or as a script::

    python tests/benchmarks/bench_json.py [--rounds 5]          # prints the tables
    python tests/benchmarks/bench_json.py --markdown            # the same, as Markdown
    python tests/benchmarks/bench_json.py --update docs/benchmarks.md  # rewrite its block

Three schemas, each with a valid and an invalid document (one violation deep inside):

- ``tool-call``: the arguments of a search tool (strings with bounds and a pattern, an
  integer range, an enum, a nested object without additional properties); ~150 bytes.
- ``answer``: a structured answer with citations (array of objects with patterns and
  bounds, a number in [0, 1]); ~3 KB.
- ``record``: a large nested record (customers with addresses and orders of line items,
  by ``$ref``; prices ``multipleOf: 0.01``); ~1 MB.

What is timed, one thread, from JSON text each time (parsing included) unless the row
says otherwise:

- covekit: ``Schema(schema).validate_json(text)`` (first-error mode; the result object
  is built) and ``is_valid_json(text)``; a row ``is_valid(obj)`` on pre-parsed objects.
- jsonschema-rs: ``validator_for(schema).is_valid(json.loads(text))`` and its best path,
  ``is_valid(obj)`` on a pre-parsed object (parsing not timed, which favours it).
- fastjsonschema: ``compile(schema)(json.loads(text))`` (raises on invalid; caught).
- python-jsonschema: ``Draft202012Validator(schema).is_valid(json.loads(text))``, and
  its first error, ``next(iter_errors(json.loads(text)), None)``.
- jsonschema-rs's error path: ``validate(json.loads(text))``, which raises its first
  error (the counterpart of covekit's first-error ``validate_json``).
- pydantic v2: ``Model.model_validate_json(text)`` with an equivalent model (raises on
  invalid; caught). It builds model instances, which the validators do not.

Every peer's verdict is checked (valid document valid, invalid invalid) before timing.
Peers that are not installed are skipped. Targets (issue 5): covekit at least
jsonschema-rs's speed, at least pydantic's, at least 20x python-jsonschema. They are read
like against like: covekit's boolean ``is_valid_json`` against the peers' boolean
``is_valid``, covekit's ``validate_json`` (a result with errors) against the peers' error
paths (jsonschema-rs's ``validate``, python-jsonschema's first error, pydantic's
``model_validate_json``).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
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

# --- schemas and documents ------------------------------------------------------------

TOOL_CALL = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "maxLength": 500},
        "top_k": {"type": "integer", "minimum": 1, "maximum": 50},
        "filters": {
            "type": "object",
            "properties": {
                "source": {"enum": ["web", "kb", "tickets"]},
                "after": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            },
            "additionalProperties": False,
        },
        "include_snippets": {"type": "boolean"},
    },
    "required": ["query", "top_k"],
    "additionalProperties": False,
}

ANSWER = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "minLength": 1},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "citations": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "doc_id": {"type": "string", "pattern": "^doc-[0-9]+$"},
                    "quote": {"type": "string", "maxLength": 500},
                    "start": {"type": "integer", "minimum": 0},
                    "end": {"type": "integer", "minimum": 0},
                },
                "required": ["doc_id", "quote", "start", "end"],
                "additionalProperties": False,
            },
        },
        "follow_up": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["answer", "confidence", "citations"],
    "additionalProperties": False,
}

RECORD = {
    "type": "object",
    "properties": {"customers": {"type": "array", "items": {"$ref": "#/definitions/customer"}}},
    "required": ["customers"],
    "definitions": {
        "address": {
            "type": "object",
            "properties": {
                "street": {"type": "string"},
                "city": {"type": "string", "minLength": 1},
                "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                "country": {"enum": ["US", "FR", "DE", "GB"]},
            },
            "required": ["street", "city", "zip", "country"],
        },
        "line": {
            "type": "object",
            "properties": {
                "sku": {"type": "string", "pattern": "^SKU-[A-Z0-9]{6}$"},
                "quantity": {"type": "integer", "minimum": 1},
                "price": {"type": "number", "minimum": 0, "multipleOf": 0.01},
            },
            "required": ["sku", "quantity", "price"],
        },
        "customer": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "email": {"type": "string"},
                "active": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "address": {"$ref": "#/definitions/address"},
                "orders": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "order_id": {"type": "string"},
                            "lines": {
                                "type": "array",
                                "items": {"$ref": "#/definitions/line"},
                                "minItems": 1,
                            },
                        },
                        "required": ["order_id", "lines"],
                    },
                },
            },
            "required": ["id", "name", "address", "orders"],
        },
    },
}


def tool_call_docs() -> tuple[Any, Any]:
    good = {
        "query": "refund policy for damaged items",
        "top_k": 8,
        "filters": {"source": "kb", "after": "2024-01-31"},
        "include_snippets": True,
    }
    bad = copy.deepcopy(good)
    bad["filters"]["after"] = "31/01/2024"
    return good, bad


def answer_docs() -> tuple[Any, Any]:
    good = {
        "answer": "Damaged items can be refunded within 30 days of delivery. " * 3,
        "confidence": 0.82,
        "citations": [
            {
                "doc_id": f"doc-{i}",
                "quote": "Items that arrive damaged may be returned " * 3,
                "start": 10 * i,
                "end": 10 * i + 120,
            }
            for i in range(12)
        ],
        "follow_up": ["Do you have the order number?"],
    }
    bad = copy.deepcopy(good)
    bad["citations"][9]["start"] = -1
    return good, bad


def record_docs() -> tuple[Any, Any]:
    customers = []
    for i in range(1, 801):
        customers.append(
            {
                "id": i,
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "active": i % 3 != 0,
                "tags": ["retail", f"region-{i % 7}"],
                "address": {
                    "street": f"{i} Main St",
                    "city": "Springfield",
                    "zip": f"{10000 + i:05d}",
                    "country": "US",
                },
                "orders": [
                    {
                        "order_id": f"o-{i}-{k}",
                        "lines": [
                            {
                                "sku": f"SKU-{i:03d}{k:03d}",
                                "quantity": 1 + (j % 4),
                                "price": round(9.99 + j, 2),
                            }
                            for j in range(3)
                        ],
                    }
                    for k in range(3)
                ],
            }
        )
    good = {"customers": customers}
    bad = copy.deepcopy(good)
    bad["customers"][600]["orders"][2]["lines"][1]["price"] = 3.14159
    return good, bad


SCHEMAS: dict[str, tuple[dict[str, Any], Callable[[], tuple[Any, Any]]]] = {
    "tool-call": (TOOL_CALL, tool_call_docs),
    "answer": (ANSWER, answer_docs),
    "record": (RECORD, record_docs),
}


def pydantic_model(name: str) -> Any:
    """A pydantic v2 model equivalent to the schema (None when pydantic is missing)."""
    if importlib.util.find_spec("pydantic") is None:
        return None
    from decimal import Decimal
    from typing import Annotated, Literal

    from pydantic import (
        BaseModel,
        ConfigDict,
        Field,
        StrictBool,
        StrictInt,
        StrictStr,
        field_validator,
    )

    strict = ConfigDict(extra="forbid", strict=True)

    if name == "tool-call":

        class Filters(BaseModel):
            model_config = strict
            source: Literal["web", "kb", "tickets"] | None = None
            after: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = None

        class ToolCall(BaseModel):
            model_config = strict
            query: Annotated[str, Field(min_length=1, max_length=500)]
            top_k: Annotated[int, Field(ge=1, le=50)]
            filters: Filters | None = None
            include_snippets: bool | None = None

        return ToolCall

    if name == "answer":

        class Citation(BaseModel):
            model_config = strict
            doc_id: Annotated[str, Field(pattern=r"^doc-[0-9]+$")]
            quote: Annotated[str, Field(max_length=500)]
            start: Annotated[int, Field(ge=0)]
            end: Annotated[int, Field(ge=0)]

        class Answer(BaseModel):
            model_config = strict
            answer: Annotated[str, Field(min_length=1)]
            confidence: Annotated[float, Field(ge=0, le=1)]
            citations: Annotated[list[Citation], Field(min_length=1)]
            follow_up: Annotated[list[str], Field(max_length=3)] | None = None

        return Answer

    loose = ConfigDict(strict=True)

    class Address(BaseModel):
        model_config = loose
        street: StrictStr
        city: Annotated[str, Field(min_length=1)]
        zip: Annotated[str, Field(pattern=r"^[0-9]{5}$")]
        country: Literal["US", "FR", "DE", "GB"]

    class Line(BaseModel):
        model_config = loose
        sku: Annotated[str, Field(pattern=r"^SKU-[A-Z0-9]{6}$")]
        quantity: Annotated[StrictInt, Field(ge=1)]
        price: Annotated[float, Field(ge=0)]

        @field_validator("price")
        @classmethod
        def cents(cls, v: float) -> float:
            if Decimal(repr(v)) % Decimal("0.01") != 0:
                raise ValueError("not a multiple of 0.01")
            return v

    class Order(BaseModel):
        model_config = loose
        order_id: StrictStr
        lines: Annotated[list[Line], Field(min_length=1)]

    class Customer(BaseModel):
        model_config = loose
        id: Annotated[StrictInt, Field(ge=1)]
        name: Annotated[str, Field(min_length=1, max_length=100)]
        email: StrictStr | None = None
        active: StrictBool | None = None
        tags: set[StrictStr] | None = None
        address: Address
        orders: list[Order]

    class Record(BaseModel):
        model_config = loose
        customers: list[Customer]

    return Record


@dataclass
class Case:
    name: str
    schema: dict[str, Any]
    good: str
    bad: str
    good_obj: Any
    bad_obj: Any


@cache
def case(name: str) -> Case:
    schema, docs = SCHEMAS[name]
    good, bad = docs()
    return Case(name, schema, json.dumps(good), json.dumps(bad), good, bad)


# --- runners: each returns a function text -> bool (valid) ------------------------------


def runners(c: Case) -> dict[str, tuple[Callable[[str], bool], str]]:
    import covekit

    out: dict[str, tuple[Callable[[str], bool], str]] = {}
    schema = covekit.Schema(c.schema)
    out["covekit validate_json"] = (
        lambda t: schema.validate_json(t).valid,
        "from text; result with errors",
    )
    out["covekit is_valid_json"] = (schema.is_valid_json, "from text")
    objs = {c.good: c.good_obj, c.bad: c.bad_obj}
    out["covekit is_valid(obj)"] = (lambda t: schema.is_valid(objs[t]), "pre-parsed object")
    loads = json.loads
    if importlib.util.find_spec("jsonschema_rs"):
        import jsonschema_rs

        rs = jsonschema_rs.validator_for(c.schema)
        out["jsonschema-rs"] = (lambda t: rs.is_valid(loads(t)), "json.loads + is_valid")
        out["jsonschema-rs is_valid(obj)"] = (
            lambda t: rs.is_valid(objs[t]),
            "pre-parsed object (best path)",
        )
        rs_error = jsonschema_rs.ValidationError

        def run_rs_validate(t: str) -> bool:
            try:
                rs.validate(loads(t))
                return True
            except rs_error:
                return False

        out["jsonschema-rs validate"] = (
            run_rs_validate,
            "json.loads + validate (raises its first error)",
        )
    if importlib.util.find_spec("fastjsonschema"):
        import fastjsonschema

        fast = fastjsonschema.compile(c.schema)

        def run_fast(t: str) -> bool:
            try:
                fast(loads(t))
                return True
            except fastjsonschema.JsonSchemaException:
                return False

        out["fastjsonschema"] = (run_fast, "json.loads + generated code")
    model = pydantic_model(c.name)
    if model is not None:
        from pydantic import ValidationError

        def run_pydantic(t: str) -> bool:
            try:
                model.model_validate_json(t)
                return True
            except ValidationError:
                return False

        out["pydantic v2"] = (run_pydantic, "model_validate_json (builds the model)")
    if importlib.util.find_spec("jsonschema"):
        from jsonschema import Draft202012Validator

        py = Draft202012Validator(c.schema)
        out["python-jsonschema"] = (
            lambda t: py.is_valid(loads(t)),
            "json.loads + Draft202012Validator",
        )
        out["python-jsonschema first error"] = (
            lambda t: next(py.iter_errors(loads(t)), None) is None,
            "json.loads + next(iter_errors)",
        )
    for name, (fn, _) in out.items():
        if fn(c.good) is not True or fn(c.bad) is not False:
            raise AssertionError(f"{name} gives the wrong verdict on the {c.name} documents")
    return out


def best_of(fn: Callable[[], Any], rounds: int) -> float:
    """Best time per call over `rounds` batches of at least 50 ms."""
    return best_per_call(fn, rounds, min_time=0.05)


def measure(c: Case, rounds: int) -> list[tuple[str, float, float, str]]:
    rows = []
    for name, (fn, note) in runners(c).items():
        good = best_of(lambda fn=fn: fn(c.good), rounds)
        bad = best_of(lambda fn=fn: fn(c.bad), rounds)
        rows.append((name, good, bad, note))
    return rows


def table(c: Case, rows: list[tuple[str, float, float, str]], markdown: bool) -> str:
    base_good, base_bad = rows[0][1], rows[0][2]
    size = len(c.good.encode())
    head = [
        "library",
        "valid docs/s",
        "MB/s",
        "invalid docs/s",
        "covekit validate_json speed-up (valid / invalid)",
        "note",
    ]
    lines = []
    body = [
        [
            name,
            f"{1 / g:,.0f}",
            f"{size / g / 1e6:,.1f}",
            f"{1 / b:,.0f}",
            f"{g / base_good:.2f}x / {b / base_bad:.2f}x",
            note,
        ]
        for name, g, b, note in rows
    ]
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|---:|---:|---:|---:|---|")
        lines += ["| " + " | ".join(r) + " |" for r in body]
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=False)]
        for r in [head, *body]:
            lines.append("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)))
    return "\n".join(lines)


# Like against like: a boolean answer against a boolean answer, an error report against
# an error report. (covekit row, peer row, minimum speed-up.)
TARGETS = [
    ("covekit is_valid_json", "jsonschema-rs", 1.0),
    ("covekit validate_json", "jsonschema-rs validate", 1.0),
    ("covekit validate_json", "pydantic v2", 1.0),
    ("covekit is_valid_json", "python-jsonschema", 20.0),
    ("covekit validate_json", "python-jsonschema first error", 20.0),
]


def targets_table(results: dict[str, dict[str, tuple[float, float]]], markdown: bool) -> str:
    head = ["covekit", "peer", "target", "speed-up, valid / invalid, by schema", "worst", "met?"]
    body = []
    for ours, peer, goal in TARGETS:
        ratios, cells = [], []
        for name, rows in results.items():
            if ours not in rows or peer not in rows:
                continue
            (og, ob), (pg, pb) = rows[ours], rows[peer]
            ratios += [pg / og, pb / ob]
            cells.append(f"{name} {pg / og:.2f}x / {pb / ob:.2f}x")
        if not ratios:
            body.append([ours, peer, f">= {goal:g}x", "peer not installed", "", "n/a"])
            continue
        worst = min(ratios)
        met = "yes" if worst >= goal else "**no**"
        body.append([ours, peer, f">= {goal:g}x", ", ".join(cells), f"{worst:.2f}x", met])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---|---:|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    return "\n".join("  ".join(r) for r in [head, *body])


def report(rounds: int, markdown: bool) -> str:
    parts = []
    results: dict[str, dict[str, tuple[float, float]]] = {}
    for name in SCHEMAS:
        c = case(name)
        rows = measure(c, rounds)
        results[name] = {r[0]: (r[1], r[2]) for r in rows}
        title = f"{name}: {len(c.good.encode()):,} bytes per document, one thread"
        parts.append(("#### " if markdown else "") + title + "\n\n" + table(c, rows, markdown))
    title = "Targets (issue 5), like against like: boolean answers, then error reports"
    head = ("#### " if markdown else "") + title
    parts.insert(0, head + "\n\n" + targets_table(results, markdown))
    return "\n\n".join(parts)


@pytest.mark.parametrize("schema_name", list(SCHEMAS))
@pytest.mark.parametrize(
    "lib",
    [
        "covekit validate_json",
        "jsonschema-rs",
        "fastjsonschema",
        "pydantic v2",
        "python-jsonschema",
    ],
)
def test_validate_valid_document(schema_name: str, lib: str, benchmark: Any) -> None:
    c = case(schema_name)
    available = runners(c)
    if lib not in available:
        pytest.skip(f"{lib} is not installed")
    fn = available[lib][0]
    benchmark.group = f"json schema {schema_name} (valid)"
    if benchmark.disabled:
        benchmark.pedantic(lambda: None)
        return
    benchmark(fn, c.good)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument(
        "--update", type=Path, help="rewrite this script's block of the given Markdown file"
    )
    args = ap.parse_args()
    text = report(args.rounds, args.markdown or args.update is not None)
    if args.update:
        update_block(args.update, "bench_json.py", text)
    print(text)


if __name__ == "__main__":
    main()

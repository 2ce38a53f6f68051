"""covekit.tool and covekit.Toolbox: schemas from type hints, argument validation before
the call, timeouts, retries of idempotent tools only, idempotency keys (SQLite), the
policy's allowlist, and outcomes as plain data."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypedDict

import covekit
import pydantic
import pytest
from covekit import IdempotencyStore, Policy, Tool, Toolbox, ToolCall, ToolResult, tool
from covekit.errors import (
    IdempotencyConflict,
    IdempotencyStoreError,
    InvalidInput,
    ToolArgumentsInvalid,
    ToolError,
    ToolFailed,
    ToolNotAllowed,
    ToolTimeout,
    UnknownTool,
)
from covekit.execution.tools import convert, parse_docstring, schema_for
from hypothesis import given
from hypothesis import strategies as st

# ----------------------------------------------------------------------------- types used


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(TypedDict):
    street: str
    zip: int


class PartialAddress(TypedDict, total=False):
    street: str


@dataclasses.dataclass
class Item:
    sku: str
    quantity: int = 1
    color: Color = Color.RED


@dataclasses.dataclass
class Node:
    child: Node | None = None


class Order(pydantic.BaseModel):
    order_id: str
    amount: float = pydantic.Field(ge=0)
    note: str | None = None


def call(name: str, arguments: Any, call_id: str = "c1") -> ToolCall:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(call_id, name, text)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event hanging tools wait on; set at teardown so their threads end."""
    event = threading.Event()
    yield event
    event.set()


# ----------------------------------------------------------------------------- the decorator


def test_schema_from_type_hints_and_docstring() -> None:
    @tool
    def place(
        item: Item,
        address: Address,
        colors: list[Color],
        mode: Literal["fast", "slow"] = "fast",
        note: Optional[str] = None,  # noqa: UP045 - Optional is what is being tested
        tags: dict[str, int] | None = None,
        size: Annotated[int, {"minimum": 1}, "how many boxes"] = 1,
        level: Level = Level.LOW,
        pair: tuple[int, str] = (1, "a"),
        any_: Any = None,
    ) -> dict[str, Any]:
        """Places an order.

        More text that is not the description.

        Args:
            item: the item to send.
            address: where to,
                with a continuation line.
            colors (list): colors, in order of preference.
        """
        return {}

    p = place.parameters
    assert place.description == "Places an order."
    assert p["required"] == ["item", "address", "colors"]
    assert p["additionalProperties"] is False
    props = p["properties"]
    assert props["item"] == {
        "type": "object",
        "properties": {
            "sku": {"type": "string"},
            "quantity": {"type": "integer"},
            "color": {"type": "string", "enum": ["red", "green"]},
        },
        "required": ["sku"],
        "additionalProperties": False,
        "description": "the item to send.",
    }
    assert props["address"]["description"] == "where to, with a continuation line."
    assert props["address"]["required"] == ["street", "zip"]
    assert props["colors"]["items"] == {"type": "string", "enum": ["red", "green"]}
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["tags"] == {
        "anyOf": [{"type": "object", "additionalProperties": {"type": "integer"}}, {"type": "null"}]
    }
    assert props["size"] == {"type": "integer", "minimum": 1, "description": "how many boxes"}
    assert props["level"] == {"type": "integer", "enum": [1, 2]}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert props["any_"] == {}
    d = place.definition()
    assert d["type"] == "function" and d["function"]["name"] == "place"
    assert "strict" not in d["function"]
    covekit.Schema(p)  # compiles


def test_options_and_direct_call() -> None:
    @tool(name="adder", description="Adds.", timeout=0.5, idempotent=True, retries=2)
    def add(a: int, b: int = 0) -> int:
        return a + b

    assert isinstance(add, Tool)
    assert add(2, 3) == 5  # calling the Tool calls the function
    assert (add.name, add.description, add.timeout, add.idempotent, add.retries) == (
        "adder",
        "Adds.",
        0.5,
        True,
        2,
    )
    assert "adder" in repr(add)


def test_pydantic_model_parameter() -> None:
    got: list[Order] = []

    @tool
    def refund(order: Order) -> str:
        """Refunds an order."""
        got.append(order)
        return "ok"

    assert set(refund.parameters["properties"]) == {"order_id", "amount", "note"}
    assert refund.parameters["required"] == ["order_id", "amount"]
    box = Toolbox([refund])
    assert box.run(call("refund", {"order_id": "A", "amount": 3})).ok
    assert got == [Order(order_id="A", amount=3.0)]
    r = box.run(call("refund", {"order_id": "A", "amount": -1}))
    assert r.status == "invalid_arguments" and "/amount" in (r.error or "")
    assert len(got) == 1


def test_strict_definition_and_null_defaults() -> None:
    seen: list[Any] = []

    @tool(strict=True)
    def search(q: str, limit: int = 5) -> int:
        seen.append(limit)
        return limit

    fn = search.definition()["function"]
    assert fn["strict"] is True
    assert fn["parameters"]["required"] == ["q", "limit"]
    assert fn["parameters"]["properties"]["limit"] == {"type": ["integer", "null"]}
    r = Toolbox([search]).run(call("search", {"q": "x", "limit": None}))
    assert r.ok and r.value == 5 and seen == [5]  # null means the default


def test_async_tool() -> None:
    @tool(timeout=1.0)
    async def shout(text: str) -> str:
        return text.upper()

    assert Toolbox([shout]).run(call("shout", {"text": "héllo"})).value == "HÉLLO"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: tool(_unannotated), "no type hint"),
        (lambda: tool(lambda x: x), "must be 1-64 letters"),
        (lambda: Tool(42), "must be a function"),  # type: ignore[arg-type]
        (lambda: tool(retries=1)(_plain), "needs idempotent=True"),
        (lambda: tool(timeout=0)(_plain), "timeout"),
        (lambda: tool(timeout=float("nan"))(_plain), "timeout"),
        (lambda: tool(name="has space")(_plain), "letters, digits"),
        (lambda: tool(_varargs), "name every parameter"),
        (lambda: tool(_set_of_objects), "has no JSON Schema"),
        (lambda: tool(_int_keys), "dict keys must be str"),
        (lambda: tool(_recursive), "refers to itself"),
        (lambda: tool(_unresolvable), "cannot be resolved"),
    ],
)
def test_bad_tool_definitions(make: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make()


def _plain(x: int) -> int:
    return x


def _unannotated(x):  # type: ignore[no-untyped-def]
    return x


def _varargs(*args: int) -> int:
    return 0


def _set_of_objects(x: complex) -> int:
    return 0


def _int_keys(x: dict[int, str]) -> int:
    return 0


def _recursive(x: Node) -> int:
    return 0


def _unresolvable(x: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
    return 0


def test_docstring_parsing_edges() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("") == ("", {})
    desc, args = parse_docstring(
        """Fetches a page — ünïcode ok.

        Args:
            url: the address.
            *rest: ignored names still parse.

        Returns:
            The page.
        """
    )
    assert desc == "Fetches a page — ünïcode ok."
    assert args == {"url": "the address.", "rest": "ignored names still parse."}


# ----------------------------------------------------------------------------- running


@tool
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


def test_ok_result_and_message() -> None:
    box = Toolbox([add])
    r = box.run(call("add", {"a": 2, "b": 3}, "call_9"))
    assert (r.status, r.value, r.error, r.attempts, r.replayed) == ("ok", 5, None, 1, False)
    assert r.to_message() == {"role": "tool", "tool_call_id": "call_9", "content": "5"}
    assert json.loads(json.dumps(r.to_dict())) == r.to_dict()
    assert ToolResult.from_dict(r.to_dict()) == r
    assert r.raise_for_status() is r
    # an OpenAI tool_call dict works as a call too
    openai_call = {
        "id": "x",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a":1,"b":1}'},
    }
    assert box.run(openai_call).value == 2


def test_unknown_tool() -> None:
    r = Toolbox([add]).run(call("ad", {}))
    assert r.status == "unknown_tool" and "did you mean 'add'" in (r.error or "")
    assert r.attempts == 0
    with pytest.raises(UnknownTool) as info:
        r.raise_for_status()
    assert isinstance(info.value, KeyError) and info.value.result is r
    assert "did you mean" in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ('{"a": 1, "b": ', "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"a"', "must be a JSON object"),
        ('{"a": 1}', '"b" is a required property'),
        ('{"a": "1", "b": 2}', '/a: "1" is not of type "integer"'),
        ('{"a": 1, "b": 2, "c": 3}', "additional"),
        ('{"a": true, "b": 2}', "/a"),
        ('{"a": 1, "b": 2.5}', "/b"),
    ],
)
def test_invalid_arguments_never_reach_the_tool(arguments: str, fragment: str) -> None:
    ran: list[int] = []

    @tool
    def add_logged(a: int, b: int) -> int:
        ran.append(1)
        return a + b

    r = Toolbox([add_logged]).run(ToolCall("c1", "add_logged", arguments))
    assert r.status == "invalid_arguments"
    assert fragment in (r.error or "")
    assert ran == []
    with pytest.raises(ToolArgumentsInvalid):
        r.raise_for_status()
    assert json.loads(r.to_message()["content"])["error"] == "invalid_arguments"


def test_empty_arguments_text_means_no_arguments() -> None:
    @tool
    def ping() -> str:
        return "pong"

    assert Toolbox([ping]).run(ToolCall("c1", "ping", "")).value == "pong"


def test_huge_and_unicode_arguments() -> None:
    @tool
    def length(text: str) -> int:
        return len(text)

    big = "ü😀" * 500_000
    r = Toolbox([length]).run(call("length", {"text": big}))
    assert r.ok and r.value == len(big)
    lone = '{"text": "\\ud800"}'  # a lone surrogate escape: valid JSON, passes through
    box = Toolbox([length])
    assert box.run(ToolCall("c", "length", lone)).value == 1
    assert box.run(ToolCall("c", "length", lone), key="k").value == 1  # stored, replayed
    assert box.run(ToolCall("c", "length", lone), key="k").replayed


def test_tool_that_raises_is_an_error_outcome() -> None:
    @tool
    def explode(reason: str) -> str:
        raise RuntimeError(f"boom: {reason}")

    r = Toolbox([explode]).run(call("explode", {"reason": "disk full"}))
    assert (r.status, r.error, r.attempts) == ("error", "RuntimeError: boom: disk full", 1)
    with pytest.raises(ToolFailed):
        r.raise_for_status()


def test_tool_returning_non_json_is_an_error() -> None:
    @tool
    def weird() -> Any:
        return object()

    @tool
    def shapes() -> Any:
        return Item("x"), {Color.GREEN}, Order(order_id="o", amount=1)

    r = Toolbox([weird]).run(call("weird", {}))
    assert r.status == "error" and "not JSON" in (r.error or "")
    v = Toolbox([shapes]).run(call("shapes", {})).value
    assert v == [
        {"sku": "x", "quantity": 1, "color": "red"},
        ["green"],
        {"order_id": "o", "amount": 1.0, "note": None},
    ]


def test_hanging_tool_times_out_quickly(release: threading.Event) -> None:
    @tool(timeout=0.05)
    def hang() -> str:
        release.wait(30)
        return "late"

    box = Toolbox([hang])
    r = box.run(call("hang", {}))
    assert r.status == "timeout" and "0.05 s" in (r.error or "")
    with pytest.raises(ToolTimeout) as info:
        r.raise_for_status()
    assert isinstance(info.value, TimeoutError)


def test_toolbox_default_timeout(release: threading.Event) -> None:
    @tool
    def hang() -> str:
        release.wait(30)
        return "late"

    r = Toolbox([hang], timeout=0.05).run(call("hang", {}))
    assert r.status == "timeout"


def test_deadline_bounds_the_call(release: threading.Event) -> None:
    @tool
    def hang() -> str:
        release.wait(30)
        return "late"

    box = Toolbox([hang])
    r = box.run(call("hang", {}), deadline=covekit.Deadline(0.05))
    assert r.status == "timeout"
    past = covekit.Deadline.at(time.monotonic() - 1)
    r = box.run(call("hang", {}), deadline=past)
    assert r.status == "timeout" and r.attempts == 0 and "deadline" in (r.error or "")


def test_idempotent_tool_is_retried_until_it_succeeds() -> None:
    tries: list[int] = []

    @tool(idempotent=True, retries=2)
    def flaky(x: int) -> int:
        tries.append(x)
        if len(tries) < 2:
            raise ConnectionError("reset")
        return x * 10

    r = Toolbox([flaky], retry_backoff=0).run(call("flaky", {"x": 4}))
    assert (r.status, r.value, r.attempts) == ("ok", 40, 2)
    assert tries == [4, 4]


def test_retries_run_out() -> None:
    tries: list[int] = []

    @tool(idempotent=True, retries=2)
    def broken() -> int:
        tries.append(1)
        raise ConnectionError("reset")

    r = Toolbox([broken], retry_backoff=0.001).run(call("broken", {}))
    assert (r.status, r.attempts, len(tries)) == ("error", 3, 3)


def test_idempotent_tool_retried_after_timeout(release: threading.Event) -> None:
    tries: list[int] = []

    @tool(idempotent=True, retries=1, timeout=0.05)
    def slow_once() -> str:
        tries.append(1)
        if len(tries) == 1:
            release.wait(30)
        return "ok"

    r = Toolbox([slow_once], retry_backoff=0).run(call("slow_once", {}))
    assert (r.status, r.attempts) == ("ok", 2)


def test_non_idempotent_tool_is_not_retried() -> None:
    tries: list[int] = []

    @tool
    def charge(cents: int) -> str:
        tries.append(cents)
        raise ConnectionError("reset")

    r = Toolbox([charge], retry_backoff=0).run(call("charge", {"cents": 100}))
    assert (r.status, r.attempts, tries) == ("error", 1, [100])


# ----------------------------------------------------------------------------- idempotency


def _counting_tool() -> tuple[Tool, list[str]]:
    sent: list[str] = []

    @tool
    def send(to: str) -> str:
        sent.append(to)
        return f"sent to {to}"

    return send, sent


def test_same_key_acts_once() -> None:
    send, sent = _counting_tool()
    box = Toolbox([send])
    results = [box.run(call("send", {"to": "ada"}, f"c{i}"), key="k-1") for i in range(4)]
    assert sent == ["ada"]
    assert [r.replayed for r in results] == [False, True, True, True]
    assert [r.call_id for r in results] == ["c0", "c1", "c2", "c3"]
    assert {r.value for r in results} == {"sent to ada"}
    box.run(call("send", {"to": "ada"}), key="k-2")  # another key acts again
    assert sent == ["ada", "ada"]


def test_no_key_acts_every_time_and_derived_keys_once() -> None:
    send, sent = _counting_tool()
    box = Toolbox([send])
    box.run(call("send", {"to": "a"}))
    box.run(call("send", {"to": "a"}))
    assert len(sent) == 2
    box.run(call("send", {"to": "b"}), derive_key=True)
    # canonical arguments: key order and whitespace do not matter
    r = box.run(ToolCall("c9", "send", '{ "to" :"b" }'), derive_key=True)
    assert r.replayed and sent.count("b") == 1
    derived = Toolbox([send], derive_keys=True)
    derived.run(call("send", {"to": "c"}))
    assert derived.run(call("send", {"to": "c"})).replayed
    assert derived.run(call("send", {"to": "d"})).replayed is False


def test_key_reused_for_other_arguments_is_a_conflict() -> None:
    send, sent = _counting_tool()
    box = Toolbox([send])
    box.run(call("send", {"to": "a"}), key="k")
    with pytest.raises(IdempotencyConflict) as info:
        box.run(call("send", {"to": "b"}), key="k")
    assert isinstance(info.value, ToolError) and info.value.result.value == "sent to a"
    assert sent == ["a"]


def test_errors_are_recorded_but_invalid_calls_are_not() -> None:
    calls: list[int] = []

    @tool
    def fails(n: int) -> int:
        calls.append(n)
        raise ValueError("no")

    box = Toolbox([fails])
    assert box.run(call("fails", {"n": "x"}), key="k").status == "invalid_arguments"
    assert box.store.get("k") is None
    first = box.run(call("fails", {"n": 1}), key="k")
    again = box.run(call("fails", {"n": 1}), key="k")
    assert first.status == again.status == "error" and again.replayed and calls == [1]


def test_same_key_acts_once_across_threads() -> None:
    sent: list[str] = []
    gate = threading.Barrier(8)

    @tool(timeout=2.0)
    def send(to: str) -> str:
        time.sleep(0.01)  # widen the window where a second call could slip in
        sent.append(to)
        return "ok"

    box = Toolbox([send])
    out: list[ToolResult] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        gate.wait()
        r = box.run(call("send", {"to": "ada"}, f"c{i}"), key="once")
        with lock:
            out.append(r)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sent == ["ada"]
    assert len(out) == 8 and all(r.ok for r in out)
    assert sum(not r.replayed for r in out) == 1
    assert box._key_locks == {}  # the per-key locks go once no call holds them


def test_timed_out_keyed_call_is_not_run_twice(release: threading.Event) -> None:
    sent: list[int] = []

    @tool(timeout=0.05)
    def slow_send(n: int) -> str:
        release.wait(30)
        sent.append(n)
        return "sent"

    box = Toolbox([slow_send])
    assert box.run(call("slow_send", {"n": 1}), key="k").status == "timeout"
    second = box.run(call("slow_send", {"n": 1}), key="k")  # the first still runs: joined
    assert second.status == "timeout" and "still running" in (second.error or "")
    release.set()  # the first finishes now; its result is recorded under the key
    for _ in range(200):
        if box.store.get("k") is not None:
            break
        time.sleep(0.01)
    third = box.run(call("slow_send", {"n": 1}), key="k")
    assert third.replayed and third.value == "sent"
    assert sent == [1]


def test_store_in_a_file_survives_a_new_toolbox(tmp_path: Path) -> None:
    send, sent = _counting_tool()
    path = tmp_path / "keys.sqlite"
    Toolbox([send], store=path).run(call("send", {"to": "a"}), key="k")
    box = Toolbox([send], store=str(path))
    assert box.run(call("send", {"to": "a"}), key="k").replayed
    assert sent == ["a"]
    assert len(box.store) == 1
    assert "keys.sqlite" in repr(box.store)


def test_corrupt_or_foreign_store_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(IdempotencyStoreError) as info:
        IdempotencyStore(bad)
    assert info.value.path == str(bad)
    import sqlite3

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE covekit_tool_results (x INTEGER)")
    with pytest.raises(IdempotencyStoreError, match="another shape"):
        IdempotencyStore(other)
    with pytest.raises(IdempotencyStoreError):
        IdempotencyStore(tmp_path / "no" / "such" / "dir" / "x.sqlite")
    with pytest.raises(InvalidInput):
        IdempotencyStore("")


def test_store_put_and_get() -> None:
    store = IdempotencyStore()
    r = ToolResult("c", "t", "ok", {"ü": [1, 2]}, attempts=1)
    assert store.put("k", r, "fp") is True
    assert store.put("k", r, "fp") is False  # first write wins
    assert store.get("k") == r and store.get("missing") is None
    store.close()


# ----------------------------------------------------------------------------- policy


def test_policy_allowlist_is_enforced() -> None:
    ran: list[str] = []

    @tool
    def delete_all() -> str:
        ran.append("deleted")
        return "gone"

    @tool
    def search(q: str) -> str:
        return q

    box = Toolbox([delete_all, search], policy=Policy(tools=["search"]))
    r = box.run(call("delete_all", {}))
    assert r.status == "not_allowed" and "not allowed" in (r.error or "")
    assert ran == []
    with pytest.raises(ToolNotAllowed):
        r.raise_for_status()
    assert box.run(call("search", {"q": "x"})).ok


def test_policy_argument_checks() -> None:
    @tool
    def fetch(url: str) -> str:
        return "page"

    box = Toolbox([fetch], policy=Policy(tools=["fetch"], allowed_domains=["example.com"]))
    assert box.run(call("fetch", {"url": "https://example.com/a"})).ok
    r = box.run(call("fetch", {"url": "https://evil.com/x"}))
    assert r.status == "not_allowed" and "evil.com" in (r.error or "")


def test_toolbox_bad_input() -> None:
    with pytest.raises(InvalidInput, match="two tools"):
        Toolbox([add, add])
    with pytest.raises(InvalidInput, match="list of tools"):
        Toolbox(add)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Toolbox([add], policy="allow all")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Toolbox([add], approval_timeout=-1)
    with pytest.raises(InvalidInput):
        Toolbox([add]).run(call("add", {"a": 1, "b": 2}), key="")
    with pytest.raises(InvalidInput):
        Toolbox([add]).run(42)  # type: ignore[arg-type]


def test_toolbox_accepts_plain_functions() -> None:
    box = Toolbox([_plain])
    assert box.names == ("_plain",) and "_plain" in box and len(box) == 1
    assert box.definitions()[0]["function"]["name"] == "_plain"
    assert [t.name for t in box] == ["_plain"]
    assert box.run_all([call("_plain", {"x": 1}), call("_plain", {"x": 2})])[1].value == 2


# ----------------------------------------------------------------------------- properties

_SCALARS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (str, st.text()),
    (int, st.integers(min_value=-(2**53), max_value=2**53)),
    (float, st.floats(allow_nan=False, allow_infinity=False)),
    (bool, st.booleans()),
    (Color, st.sampled_from(list(Color))),
    (Literal["a", "b"], st.sampled_from(["a", "b"])),
]


_SPECS: st.SearchStrategy[Any] = st.recursive(
    st.integers(0, len(_SCALARS) - 1).map(lambda i: ("scalar", i)) | st.just(("item",)),
    lambda inner: st.tuples(st.sampled_from(["list", "dict", "optional"]), inner),
    max_leaves=4,
)


def _hint(spec: Any) -> Any:
    if spec[0] == "scalar":
        return _SCALARS[spec[1]][0]
    if spec[0] == "item":
        return Item
    inner = _hint(spec[1])
    return {"list": list[inner], "dict": dict[str, inner], "optional": inner | None}[spec[0]]  # type: ignore[valid-type]


def _values(spec: Any) -> st.SearchStrategy[Any]:
    if spec[0] == "scalar":
        return _SCALARS[spec[1]][1]
    if spec[0] == "item":
        return st.builds(Item, st.text(), st.integers(-5, 5), st.sampled_from(Color))
    inner = _values(spec[1])
    if spec[0] == "list":
        return st.lists(inner, max_size=3)
    if spec[0] == "dict":
        return st.dictionaries(st.text(max_size=5), inner, max_size=3)
    return st.none() | inner


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[Any, Any]:
    """A type hint and a value of that type."""
    spec = draw(_SPECS)
    return _hint(spec), draw(_values(spec))


@given(st.lists(typed_values(), min_size=0, max_size=4))
def test_schema_accepts_what_a_json_round_trip_of_valid_values_gives(
    params: list[tuple[Any, Any]],
) -> None:
    """For a random typed signature, the arguments a model would send (the values as JSON)
    pass the generated schema, and bind back to the same Python values."""
    names = [f"p{i}" for i in range(len(params))]

    def f(**kwargs: Any) -> None:
        return None

    f.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names]
    )
    f.__annotations__ = {n: tp for n, (tp, _) in zip(names, params, strict=True)}
    t = Tool(f)
    arguments = {n: v for n, (_, v) in zip(names, params, strict=True)}
    from covekit.execution.tools import to_json_data

    wire = json.loads(json.dumps(to_json_data(arguments)))
    assert t.validate(wire) == []
    assert t.bind(wire) == arguments


@given(st.sampled_from(_SCALARS).flatmap(lambda p: st.tuples(st.just(p[0]), p[1])))
def test_convert_inverts_to_json_data(pair: tuple[Any, Any]) -> None:
    from covekit.execution.tools import to_json_data

    tp, value = pair
    assert convert(tp, json.loads(json.dumps(to_json_data(value)))) == value
    assert covekit.Schema(schema_for(tp)).is_valid(to_json_data(value))


def test_error_then_deadline_is_recorded_under_the_key() -> None:
    now = [0.0]
    deadline = covekit.Deadline(1.0, clock=lambda: now[0])
    tries: list[int] = []

    @tool(idempotent=True, retries=3)
    def flaky() -> str:
        tries.append(1)
        now[0] += 2.0  # the attempt uses up the deadline
        raise ConnectionError("reset")

    box = Toolbox([flaky], retry_backoff=0)
    r = box.run(call("flaky", {}), key="k", deadline=deadline)
    assert (r.status, r.attempts, len(tries)) == ("error", 1, 1)  # no retry past the deadline
    assert box.store.get("k") is not None


def test_arguments_that_are_not_text() -> None:
    r = Toolbox([add]).run(ToolCall("c", "add", {"a": 1, "b": 2}))  # type: ignore[arg-type]
    assert r.status == "invalid_arguments" and "JSON text" in (r.error or "")


def test_orphan_of_a_deadline_is_joined_without_hanging(release: threading.Event) -> None:
    sent: list[int] = []

    @tool  # no timeout of its own: only the deadline bounds it
    def slow_send() -> str:
        release.wait(30)
        sent.append(1)
        return "sent"

    box = Toolbox([slow_send])
    first = box.run(call("slow_send", {}), key="k", deadline=covekit.Deadline(0.05))
    assert first.status == "timeout"
    second = box.run(call("slow_send", {}), key="k")  # no deadline, no timeout: must not hang
    assert second.status == "timeout" and "still running" in (second.error or "")
    assert sent == []

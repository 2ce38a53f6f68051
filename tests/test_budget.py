"""Budgets (covekit.Budget, Degrade, BudgetPlan), deadlines (covekit.Deadline), the price
table (covekit.Price, PriceTable) and how Contract.enforce uses them.

Every deadline test runs on an injected fake clock: nothing sleeps."""

from __future__ import annotations

import doctest
import json
import math
import pickle
import threading
from importlib import resources
from typing import Any

import covekit
import pytest
from covekit import (
    Budget,
    BudgetPlan,
    Contract,
    Deadline,
    Degrade,
    ModelReply,
    Price,
    PriceTable,
)
from covekit.decision import budget as budget_module
from covekit.decision import deadline as deadline_module
from covekit.decision import prices as prices_module
from covekit.errors import ContractError, DeadlineExceeded, InvalidInput, UnknownPrice
from hypothesis import given
from hypothesis import strategies as st


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TABLE = PriceTable.default()
#: Models whose price has no long-context tier (cost is linear in all tokens).
FLAT_MODELS = [m for m in TABLE.models() if TABLE.get(m).long_context_above is None]


# ============================================================================ Deadline
def test_deadline_reads_the_clock() -> None:
    clock = FakeClock()
    d = Deadline(0.5, clock=clock)
    assert d.remaining() == 0.5 and d.elapsed() == 0.0 and not d.expired
    assert d.overrun() == 0.0 and d.expires_at == 1000.5
    clock.advance(0.2)
    assert d.remaining() == pytest.approx(0.3) and d.elapsed() == pytest.approx(0.2)
    clock.advance(0.3)
    assert d.expired and d.remaining() == 0.0  # exactly at the deadline: passed
    clock.advance(0.012)
    assert d.remaining() == 0.0 and d.overrun() == pytest.approx(0.012)
    assert d.elapsed() == pytest.approx(0.512)


def test_deadline_at_a_monotonic_time_may_already_have_passed() -> None:
    clock = FakeClock(50.0)
    past = Deadline.at(49.0, clock=clock)
    assert past.expired and past.overrun() == 1.0 and past.remaining() == 0.0
    future = Deadline.at(51.5, clock=clock)
    assert future.remaining() == 1.5


def test_deadline_uses_the_monotonic_clock_by_default() -> None:
    d = Deadline(60.0)
    assert 59.0 < d.remaining() <= 60.0
    assert d._clock is deadline_module.time.monotonic


def test_should_skip_records_the_reason_and_check_raises() -> None:
    clock = FakeClock()
    d = Deadline(1.0, clock=clock)
    assert d.should_skip("rerank") is None
    d.check("retrieve")  # time left: no error
    clock.advance(1.012)
    assert d.should_skip("rerank") == "deadline passed 0.012 s before rerank"
    with pytest.raises(DeadlineExceeded) as info:
        d.check("retrieve")
    assert info.value.step == "retrieve" and info.value.overrun == pytest.approx(0.012)
    assert str(info.value) == "retrieve would start 0.012 s past the deadline"
    assert isinstance(info.value, TimeoutError)


def test_timeout_for_an_http_client() -> None:
    clock = FakeClock()
    d = Deadline(30.0, clock=clock)
    assert d.timeout() == 30.0 and d.timeout(cap=5.0) == 5.0
    clock.advance(29.5)
    assert d.timeout(cap=5.0) == pytest.approx(0.5)
    clock.advance(10)
    assert d.timeout() == 0.0
    never = Deadline(math.inf, clock=clock)
    assert never.timeout() is None and never.timeout(cap=2.0) == 2.0 and not never.expired
    with pytest.raises(InvalidInput, match="cap"):
        d.timeout(cap=-1)


def test_child_deadline_is_the_earlier_of_the_two() -> None:
    clock = FakeClock()
    parent = Deadline(1.0, clock=clock)
    assert parent.child(0.25).remaining() == 0.25
    assert parent.child(5.0).remaining() == 1.0
    clock.advance(0.9)
    child = parent.child(0.5)
    assert child.remaining() == pytest.approx(0.1)
    clock.advance(0.2)
    assert child.expired and parent.expired


@pytest.mark.parametrize("bad", [-0.001, math.nan, "1", None, True, [1]])
def test_deadline_bad_seconds(bad: Any) -> None:
    with pytest.raises(InvalidInput, match="seconds"):
        Deadline(bad)


def test_deadline_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="clock"):
        Deadline(1.0, clock=3.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="monotonic_time"):
        Deadline.at("now")  # type: ignore[arg-type]
    d = Deadline(1.0)
    with pytest.raises(InvalidInput, match="step"):
        d.should_skip("")
    with pytest.raises(InvalidInput, match="step"):
        d.check(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="child"):
        d.child(-1)


def test_deadline_is_immutable_and_does_not_pickle() -> None:
    d = Deadline(1.0, clock=FakeClock())
    with pytest.raises(AttributeError, match="immutable"):
        d._end = 5.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del d._end
    with pytest.raises(TypeError, match="remaining"):
        pickle.dumps(d)
    assert repr(d) == "<covekit.Deadline remaining=1.000s>"


def test_deadline_shared_by_threads() -> None:
    clock = FakeClock()
    d = Deadline(1.0, clock=clock)
    seen: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(1000):
            r = d.remaining()
            with lock:
                seen.append(r)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4000 and set(seen) == {1.0}


@given(
    st.floats(0, 1e6, allow_nan=False),
    st.lists(st.floats(0, 1e3, allow_nan=False), max_size=20),
)
def test_deadline_invariants(seconds: float, steps: list[float]) -> None:
    clock = FakeClock(0.0)
    d = Deadline(seconds, clock=clock)
    for s in steps:
        clock.advance(s)
        assert d.remaining() >= 0.0 and d.overrun() >= 0.0
        assert d.remaining() == 0.0 or d.overrun() == 0.0
        assert d.expired == (d.remaining() == 0.0)
        assert (d.should_skip("x") is None) == (not d.expired)
        if not d.expired:
            assert d.remaining() + d.elapsed() == pytest.approx(seconds)


# ============================================================================ prices
def test_bundled_table_is_dated_and_sourced() -> None:
    raw = json.loads(
        resources.files("covekit.decision").joinpath("prices.json").read_text(encoding="utf-8")
    )
    assert TABLE.as_of == raw["as_of"] == "2026-12-07"
    assert "litellm" in TABLE.source and "00035b69" in TABLE.source
    sources = raw["sources"]
    for key, entry in raw["models"].items():
        assert entry["source"] in sources, key
        assert entry["source_key"], key
        assert sources[entry["source"]]["retrieved"] == raw["as_of"]
        p = TABLE.get(key)
        assert p.output >= p.input > 0, key
        if p.cached_input is not None:
            assert p.cached_input <= p.input, key
        assert p.context_window and p.max_output_tokens, key
    for alias, target in raw["aliases"].items():
        assert TABLE.get(alias) is TABLE.get(target)


def test_bundled_table_covers_the_common_models() -> None:
    wanted = [
        "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
        "gpt-4o", "gpt-4o-mini", "o3", "o4-mini", "o3-mini", "o1", "gpt-3.5-turbo",
        "claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5", "gemini-2.5-pro",
        "gemini-2.5-flash", "deepseek-chat", "mistral-large-latest",
    ]  # fmt: skip
    for model in wanted:
        assert model in TABLE, model


@pytest.mark.parametrize(
    ("model", "price"),
    [  # the source's per-token numbers x 1e6 (see prices.json "sources")
        ("openai:gpt-4o-mini", (0.15, 0.075, 0.6, 128000, 16384)),
        ("openai:gpt-4o", (2.5, 1.25, 10.0, 128000, 16384)),
        ("openai:gpt-5", (1.25, 0.125, 10.0, 272000, 128000)),
        ("openai:gpt-5-nano", (0.05, 0.005, 0.4, 272000, 128000)),
        ("openai:gpt-4.1-nano", (0.1, 0.025, 0.4, 1047576, 32768)),
        ("openai:o4-mini", (1.1, 0.275, 4.4, 200000, 100000)),
        ("openai:gpt-3.5-turbo", (0.5, None, 1.5, 16385, 4096)),
        ("anthropic:claude-haiku-4-5", (1.0, 0.1, 5.0, 200000, 64000)),
        ("google:gemini-2.5-pro", (1.25, 0.125, 10.0, 1048576, 65535)),
        ("deepseek:deepseek-chat", (0.28, 0.028, 0.42, 131072, 8192)),
        ("mistral:mistral-small-latest", (0.06, None, 0.18, 131072, 131072)),
    ],
)
def test_known_prices(model: str, price: tuple[Any, ...]) -> None:
    p = TABLE.get(model)
    assert (p.input, p.cached_input, p.output, p.context_window, p.max_output_tokens) == price


def test_lookup_by_provider_bare_name_and_listed_snapshot() -> None:
    assert TABLE.get("gpt-4o-mini") is TABLE.get("openai:gpt-4o-mini")
    assert TABLE.get("gpt-4o-mini-2024-07-18") is TABLE.get("openai:gpt-4o-mini")
    assert TABLE.get("gemini:gemini-2.5-flash") is TABLE.get("google:gemini-2.5-flash")
    # a snapshot with its own price is listed as itself, never by prefix
    assert TABLE.get("gpt-4o-2024-05-13").input == 5.0
    assert TABLE.find("gpt-4o-2099-01-01") is None
    assert TABLE.find("ft:gpt-4o-mini:acme::abc") is None
    assert TABLE.find("azure:gpt-4o") is None  # another provider's price is not assumed
    assert "gpt-4o" in TABLE and "nope" not in TABLE and "" not in TABLE and 3 not in TABLE


def test_unknown_price_message_names_model_date_and_fix() -> None:
    with pytest.raises(UnknownPrice) as info:
        TABLE.get("gpt-4o-mini-turbo")
    msg = str(info.value)
    assert "'gpt-4o-mini-turbo'" in msg and TABLE.as_of in msg
    assert "prompt_price=" in msg and "with_prices" in msg and "close: " in msg
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_ambiguous_bare_name_asks_for_the_provider() -> None:
    t = PriceTable(
        {"a:m": Price(1, None, 2), "b:m": Price(3, None, 4)}, as_of="2027-01-01", source="test"
    )
    with pytest.raises(UnknownPrice, match="several providers"):
        t.get("m")
    assert t.get("b:m").input == 3.0


def test_price_cost_with_cached_tokens_and_long_context() -> None:
    p = Price(0.15, 0.075, 0.6)
    assert p.cost(10_000, 500, 8_000) == pytest.approx(0.0012)
    assert p.cost(0, 0) == 0.0
    no_cache = Price(2.0, None, 8.0)
    assert no_cache.cost(1_000, 0, 1_000) == no_cache.cost(1_000, 0)  # billed as input
    pro = TABLE.get("gemini-2.5-pro")
    short = pro.cost(200_000, 1_000)
    long = pro.cost(200_001, 1_000)
    assert short == pytest.approx((200_000 * 1.25 + 1_000 * 10) / 1e6)
    assert long == pytest.approx((200_001 * 2.5 + 1_000 * 15) / 1e6)
    assert pro.per_token(300_000) == pytest.approx((2.5e-6, 2.5e-7, 1.5e-5))
    with pytest.raises(InvalidInput, match="cannot exceed"):
        p.cost(10, 0, 11)
    with pytest.raises(InvalidInput, match="prompt_tokens"):
        p.cost(-1, 0)
    with pytest.raises(InvalidInput, match="completion_tokens"):
        p.cost(1, 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input": -1, "cached_input": None, "output": 1}, "Price.input"),
        ({"input": 1, "cached_input": math.nan, "output": 1}, "Price.cached_input"),
        ({"input": 1, "cached_input": None, "output": True}, "Price.output"),
        ({"input": 1, "cached_input": None, "output": "2"}, "Price.output"),
        ({"input": 1, "cached_input": None, "output": 1, "context_window": -5}, "context_window"),
        ({"input": 1, "cached_input": None, "output": 1, "long_context_above": 10}, "long_"),
    ],
)
def test_price_bad_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Price(**kwargs)


def test_with_prices_overrides_and_adds_without_changing_the_original() -> None:
    t = TABLE.with_prices(
        {
            "gpt-4o": Price(2.0, 1.0, 8.0, context_window=128_000),
            "acme:tiny": {"input": 0.01, "output": 0.02},
            "gpt-4o-mini-2024-07-18": {"input": 9.0, "output": 9.0},
        }
    )
    assert t.get("openai:gpt-4o").input == 2.0 and TABLE.get("openai:gpt-4o").input == 2.5
    assert t.get("gpt-4o-2024-11-20").input == 2.0  # its listed snapshot follows
    assert t.get("tiny").output == 0.02 and t.get("tiny").cached_input is None
    # a snapshot overridden gets its own price; the model keeps its own
    assert t.get("gpt-4o-mini-2024-07-18").input == 9.0 and t.get("gpt-4o-mini").input == 0.15
    assert t.as_of == TABLE.as_of and len(t) == len(TABLE) + 2
    with pytest.raises(InvalidInput, match="missing 'output'"):
        TABLE.with_prices({"x:y": {"input": 1.0}})
    with pytest.raises(InvalidInput, match="unknown price fields"):
        TABLE.with_prices({"x:y": {"input": 1.0, "output": 1.0, "price": 3}})
    with pytest.raises(InvalidInput, match=r"covekit\.Price"):
        TABLE.with_prices({"x:y": 3.0})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="mapping"):
        TABLE.with_prices([("x:y", Price(1, None, 1))])  # type: ignore[arg-type]


def test_load_a_table_file(tmp_path: Any) -> None:
    f = tmp_path / "prices.json"
    f.write_text(
        json.dumps(
            {
                "as_of": "2027-02-01",
                "models": {"acme:big": {"input": 3, "cached_input": 0.3, "output": 15}},
                "aliases": {"acme:big-2027": "acme:big"},
            }
        )
    )
    t = PriceTable.load(f)
    assert t.as_of == "2027-02-01" and t.get("big-2027").output == 15.0
    with pytest.raises(InvalidInput, match="cannot read"):
        PriceTable.load(tmp_path / "missing.json")
    f.write_text("{not json")
    with pytest.raises(InvalidInput, match="not JSON"):
        PriceTable.load(f)
    f.write_text(json.dumps({"models": {}}))
    with pytest.raises(InvalidInput, match="as_of"):
        PriceTable.load(f)
    f.write_text(json.dumps({"as_of": "x", "models": {}, "aliases": {"a:b": "a:c"}}))
    with pytest.raises(InvalidInput, match="lacks"):
        PriceTable.load(f)


def test_default_table_is_loaded_once_even_from_many_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prices_module, "_DEFAULT", [None])
    got: list[PriceTable] = []

    def load() -> None:
        got.append(PriceTable.default())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(t is got[0] for t in got)


def test_price_table_is_immutable() -> None:
    with pytest.raises(AttributeError, match="immutable"):
        TABLE.as_of = "tomorrow"  # type: ignore[misc]
    assert repr(TABLE).startswith("<covekit.PriceTable as_of=2026-12-07 models=")


@given(
    st.sampled_from(FLAT_MODELS),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_cost_is_linear_and_never_negative(model: str, p: int, q: int, c1: int, c2: int) -> None:
    b = Budget(model=model)
    k1, k2 = p // 3, q // 2
    one, two = b.cost(p, c1, k1), b.cost(q, c2, k2)
    assert one >= 0 and two >= 0
    assert b.cost(p + q, c1 + c2, k1 + k2) == pytest.approx(one + two, rel=1e-12, abs=1e-15)
    # cached tokens never cost more (equal, up to rounding, for a model without a cached
    # price: they are billed at the input price)
    assert b.cost(p, c1, k1) <= b.cost(p, c1) * (1 + 1e-12) + 1e-15


# ============================================================================ Budget
def test_budget_keeps_its_positional_fields() -> None:
    b = Budget(2000, 0.01, 2.5e-6, 1e-5)
    assert (b.max_tokens, b.max_cost, b.prompt_price, b.completion_price) == (
        2000,
        0.01,
        2.5e-6,
        1e-5,
    )
    assert covekit.Budget is covekit.execution.contract.Budget is budget_module.Budget
    with pytest.raises(TypeError):
        Budget(2000, 0.01, 2.5e-6, 1e-5, 100)  # type: ignore[misc]  # new fields: keywords


def test_prompt_room_takes_the_least_limit() -> None:
    assert Budget().prompt_room() is None
    assert Budget(max_tokens=4000).prompt_room() == 4000
    assert Budget(max_tokens=4000, max_completion_tokens=500).prompt_room() == 3500
    assert Budget(max_prompt_tokens=2000, max_tokens=4000).prompt_room() == 2000
    assert Budget(model="gpt-4").prompt_room() == 8192
    assert Budget(model="gpt-4", max_completion_tokens=1000).prompt_room() == 7192
    assert Budget(model="my-model", max_prompt_tokens=10).prompt_room() == 10  # unknown: no window
    assert Budget(max_prompt_tokens=10**6).prompt_room(model="gpt-3.5-turbo") == 16385
    assert Budget(max_completion_tokens=9000, model="gpt-4").prompt_room() == 0  # never negative


@given(
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.one_of(st.none(), st.sampled_from(TABLE.models())),
)
def test_prompt_room_never_exceeds_any_limit(
    max_prompt: int | None, max_total: int | None, max_completion: int | None, model: str | None
) -> None:
    try:
        b = Budget(
            max_tokens=max_total,
            max_prompt_tokens=max_prompt,
            max_completion_tokens=max_completion,
            model=model,
        )
    except InvalidInput:
        assert max_total is not None and (
            (max_prompt or 0) > max_total or (max_completion or 0) > max_total
        )
        return
    room = b.prompt_room()
    if max_prompt is None and max_total is None and model is None:
        assert room is None
        return
    assert room is not None and room >= 0
    if max_prompt is not None:
        assert room <= max_prompt
    if max_total is not None:
        assert room + (max_completion or 0) <= max_total
    if model is not None:
        window = TABLE.get(model).context_window
        assert window is not None and room <= max(0, window - (max_completion or 0))


def test_cost_from_table_or_explicit_prices() -> None:
    b = Budget(model="openai:gpt-4o-mini")
    assert b.cost(1_000_000, 0) == pytest.approx(0.15)
    assert b.cost(1_000_000, 0, 1_000_000) == pytest.approx(0.075)
    assert b.cost(0, 1_000_000) == pytest.approx(0.6)
    # explicit per-token prices win, one by one; the table fills the rest
    mixed = Budget(prompt_price=1e-6, model="gpt-4o-mini")
    assert mixed.rates() == pytest.approx((1e-6, 7.5e-8, 6e-7))
    assert Budget(cached_prompt_price=0.0, model="gpt-4o").cost(100, 0, 100) == 0.0
    assert Budget(prompt_price=1e-6, completion_price=2e-6).rates() == (1e-6, 1e-6, 2e-6)
    own = Budget(model="acme:tiny", prices=TABLE.with_prices({"acme:tiny": Price(1, 0.5, 2)}))
    assert own.cost(1_000_000, 1_000_000, 500_000) == pytest.approx(0.5 + 0.25 + 2)
    assert Budget(model="gpt-4o").cost(1_000, 100, model="gpt-4o-mini") == pytest.approx(
        Budget(model="gpt-4o-mini").cost(1_000, 100)
    )


def test_cost_errors() -> None:
    with pytest.raises(UnknownPrice) as info:
        Budget(model="my-model").cost(10, 10)
    assert "my-model" in str(info.value) and TABLE.as_of in str(info.value)
    assert "prompt_price=" in str(info.value)
    with pytest.raises(InvalidInput, match="model="):
        Budget().cost(10, 10)
    with pytest.raises(InvalidInput, match="cannot exceed"):
        Budget(model="gpt-4o").cost(10, 0, 11)
    for bad in (-1, 1.0, True, None):
        with pytest.raises(InvalidInput, match="prompt_tokens"):
            Budget(model="gpt-4o").cost(bad, 0)  # type: ignore[arg-type]
    assert Budget(model="my-model").can_price() is False
    assert Budget(model="my-model", prompt_price=1e-6, completion_price=1e-6).can_price()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_tokens": -1}, InvalidInput, "max_tokens must be"),
        (
            {"max_cost": math.nan, "prompt_price": 1, "completion_price": 1},
            InvalidInput,
            "max_cost",
        ),
        ({"prompt_price": True}, InvalidInput, "prompt_price"),
        ({"cached_prompt_price": -1e-9}, InvalidInput, "cached_prompt_price"),
        ({"max_prompt_tokens": 1.5}, InvalidInput, "max_prompt_tokens"),
        ({"max_completion_tokens": False}, InvalidInput, "max_completion_tokens"),
        ({"max_tokens": 100, "max_prompt_tokens": 101}, InvalidInput, "above max_tokens"),
        ({"max_tokens": 100, "max_completion_tokens": 101}, InvalidInput, "above max_tokens"),
        ({"model": ""}, InvalidInput, "model"),
        ({"model": 4}, InvalidInput, "model"),
        ({"deadline": "soon"}, InvalidInput, "deadline"),
        ({"deadline": True}, InvalidInput, "deadline"),
        ({"deadline": -1.0}, InvalidInput, "seconds"),
        ({"degrade": (Degrade(0.3),)}, InvalidInput, "deadline"),
        ({"degrade": ("fast",), "deadline": 1.0}, InvalidInput, "Degrade"),
        ({"degrade": (Degrade(0.3), Degrade(0.3)), "deadline": 1.0}, InvalidInput, "same time"),
        ({"prices": {"gpt-4o": 1}}, InvalidInput, "PriceTable"),
        ({"max_cost": 1.0}, InvalidInput, "prompt_price"),
        ({"max_cost": 1.0, "model": "my-model"}, UnknownPrice, "my-model"),
    ],
)
def test_budget_bad_input(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Budget(**kwargs)


def test_budget_with_a_model_prices_max_cost() -> None:
    b = Budget(max_cost=0.01, model="gpt-4o-mini")
    assert b.can_price() and b.rates() == pytest.approx((1.5e-7, 7.5e-8, 6e-7))
    assert hash(b) == hash(b) and b == Budget(max_cost=0.01, model="gpt-4o-mini")


def test_deadline_as_seconds() -> None:
    b = Budget(deadline=2.0)
    assert isinstance(b.deadline, Deadline) and 1.0 < b.deadline.remaining() <= 2.0


# ============================================================================ Degrade / plan
def test_degrade_validation() -> None:
    assert Degrade(0.3, skip=["rerank", "dedup"]).skip == ("rerank", "dedup")  # type: ignore[arg-type]
    for kwargs, match in [
        ({"below": -0.1}, "below"),
        ({"below": math.nan}, "below"),
        ({"below": True}, "below"),
        ({"below": 0.3, "max_prompt_tokens": -1}, "max_prompt_tokens"),
        ({"below": 0.3, "tier": ""}, "tier"),
        ({"below": 0.3, "skip": "rerank"}, "tuple of step names"),
        ({"below": 0.3, "skip": ("",)}, "step names"),
    ]:
        with pytest.raises(InvalidInput, match=match):
            Degrade(**kwargs)


def test_plan_applies_the_tightest_threshold_that_fires() -> None:
    clock = FakeClock()
    b = Budget(
        max_tokens=8000,
        max_completion_tokens=1000,
        deadline=Deadline(2.0, clock=clock),
        degrade=(
            Degrade(below=0.3, max_prompt_tokens=1000, tier="small", skip=("rerank",)),
            Degrade(below=1.0, max_prompt_tokens=3000, tier="medium"),
        ),
    )
    assert [d.below for d in b.degrade] == [0.3, 1.0]  # order given does not matter
    p = b.plan()
    assert (p.prompt_tokens, p.tier, p.skip, p.degrade) == (7000, None, (), None)
    assert p.remaining == 2.0 and p.reason == "2.000 s left, no degrade threshold reached"
    clock.advance(1.2)
    p = b.plan()
    assert (p.prompt_tokens, p.tier, p.skip) == (3000, "medium", ())
    assert p.reason == "0.800 s left, under the 1.000 s threshold"
    clock.advance(0.55)
    p = b.plan()
    assert (p.prompt_tokens, p.tier, p.skip) == (1000, "small", ("rerank",))
    assert p.skips("rerank") and not p.skips("retrieve")
    assert p.reason == "0.250 s left, under the 0.300 s threshold"
    clock.advance(5)
    p = b.plan()
    assert p.remaining == 0.0 and p.tier == "small"
    assert p.to_dict() == {
        "prompt_tokens": 1000,
        "tier": "small",
        "skip": ["rerank"],
        "remaining": 0.0,
        "degrade": {"below": 0.3, "max_prompt_tokens": 1000, "tier": "small", "skip": ["rerank"]},
        "reason": "0.000 s left, under the 0.300 s threshold",
    }
    json.dumps(p.to_dict())


def test_plan_without_a_deadline_or_with_an_override() -> None:
    p = Budget(max_prompt_tokens=500).plan()
    assert p == BudgetPlan(500, None, (), None, None, "no deadline")
    clock = FakeClock()
    b = Budget(deadline=Deadline(10, clock=clock), degrade=[Degrade(1.0, max_prompt_tokens=50)])
    assert b.plan(deadline=Deadline(0.5, clock=clock)).prompt_tokens == 50
    assert b.plan().prompt_tokens is None
    with pytest.raises(InvalidInput, match="Deadline"):
        b.plan(deadline=0.5)  # type: ignore[arg-type]
    never = Budget(deadline=Deadline(math.inf), degrade=[Degrade(1.0)])
    assert never.plan().to_dict()["remaining"] is None


@given(
    st.floats(0, 5, allow_nan=False),
    st.lists(
        st.tuples(st.floats(0, 5, allow_nan=False), st.one_of(st.none(), st.integers(0, 10**5))),
        max_size=5,
        unique_by=lambda t: t[0],
    ),
    st.one_of(st.none(), st.integers(0, 10**5)),
)
def test_plan_never_exceeds_the_prompt_room(
    elapsed: float, levels: list[tuple[float, int | None]], max_prompt: int | None
) -> None:
    clock = FakeClock(0.0)
    b = Budget(
        max_prompt_tokens=max_prompt,
        deadline=Deadline(5.0, clock=clock),
        degrade=tuple(Degrade(below, m) for below, m in levels),
    )
    clock.advance(elapsed)
    plan = b.plan()
    left = 5.0 - elapsed
    firing = [d for d in b.degrade if left < d.below]
    assert plan.degrade == (firing[0] if firing else None)
    if plan.prompt_tokens is not None:
        assert max_prompt is None or plan.prompt_tokens <= max_prompt
        if plan.degrade is not None and plan.degrade.max_prompt_tokens is not None:
            assert plan.prompt_tokens <= plan.degrade.max_prompt_tokens
    else:
        assert max_prompt is None


# ============================================================================ Contract
class Scripted:
    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.caps: list[int | None] = []

    def __call__(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> Any:
        self.caps.append(max_tokens)
        return self.replies.pop(0)


ASK = [{"role": "user", "content": "Give me an object."}]


def test_enforce_prices_a_model_from_the_table() -> None:
    model = Scripted(ModelReply("{}", prompt_tokens=1000, completion_tokens=200))
    r = Contract({"type": "object"}, budget=Budget(max_cost=0.01, model="gpt-4o-mini")).enforce(
        model, ASK
    )
    assert r.ok and r.cost == pytest.approx(1000 * 1.5e-7 + 200 * 6e-7)
    assert model.caps[0] is not None and model.caps[0] > 10_000  # the cost room, in tokens


def test_enforce_counts_cached_prompt_tokens_at_the_cached_price() -> None:
    replies = [
        ModelReply('"x"', prompt_tokens=1000, completion_tokens=10, cached_prompt_tokens=800),
        {
            "text": "{}",
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 5,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        },
    ]
    b = Budget(max_cost=1.0, model="gpt-4o")
    r = Contract({"type": "object"}, budget=b, on_fail=["reask"]).enforce(Scripted(*replies), ASK)
    first = (200 * 2.5 + 800 * 1.25 + 10 * 10.0) / 1e6
    second = (176 * 2.5 + 1024 * 1.25 + 5 * 10.0) / 1e6
    assert r.ok and [a.cost for a in r.attempts] == pytest.approx([first, second])
    explicit = Budget(max_cost=1.0, prompt_price=1e-6, completion_price=1e-6, cached_prompt_price=0)
    r2 = Contract(budget=explicit).enforce(Scripted(replies[0]), ASK)
    assert r2.cost == pytest.approx(200 * 1e-6 + 10 * 1e-6)
    with pytest.raises(InvalidInput, match="cannot exceed"):
        Contract(budget=explicit).enforce(
            Scripted(ModelReply("1", prompt_tokens=5, completion_tokens=1, cached_prompt_tokens=6)),
            ASK,
        )


def test_enforce_caps_each_completion_at_the_completion_reserve() -> None:
    model = Scripted('"no"', "{}")
    r = Contract(
        {"type": "object"}, budget=Budget(max_completion_tokens=64), on_fail=["reask"]
    ).enforce(model, ASK)
    assert r.ok and model.caps == [64, 64]


def test_enforce_refuses_a_prompt_above_max_prompt_tokens() -> None:
    with pytest.raises(ContractError, match="max_prompt_tokens"):
        Contract(budget=Budget(max_prompt_tokens=3)).enforce(Scripted("{}"), ASK)
    assert Contract(budget=Budget(max_prompt_tokens=1000)).enforce(Scripted("{}"), ASK).ok


def test_unknown_model_with_a_cost_limit_fails_before_any_call() -> None:
    with pytest.raises(UnknownPrice, match="my-model"):
        Contract(budget=Budget(max_cost=0.5, model="my-model"))


# ============================================================================ docs
def test_doctests() -> None:
    for module in (budget_module, deadline_module, prices_module):
        result = doctest.testmod(module)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__

"""The packer (covekit.pack): constraints, optimality against exhaustive search, the
greedy-by-score floor, bad input."""

from __future__ import annotations

import doctest
import enum
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

import covekit
import numpy as np
import pytest
from covekit import Section, pack
from covekit.errors import BudgetExceeded, InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st

TOL = 1e-9


@dataclass
class Instance:
    tokens: list[int]
    utility: list[float]
    section: list[int]
    groups: list[int | None]
    required: list[bool]
    truncate: list[str | None]
    min_keep: list[int]
    sections: list[Section]
    budget: int
    group_cap: int
    levels: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.levels = sorted({s.priority for s in self.sections})

    def run(self, **kw: Any) -> covekit.Packing:
        return pack(
            self.tokens,
            self.utility,
            budget=self.budget,
            sections=self.sections,
            section=self.section,
            groups=self.groups,
            group_cap=self.group_cap,
            required=self.required,
            truncate=self.truncate,
            min_keep=self.min_keep,
            **kw,
        )

    def level(self, i: int) -> int:
        return self.levels.index(self.sections[self.section[i]].priority)

    def values(self, kept: Any) -> list[float]:
        lv = [0.0] * len(self.levels)
        for i, k in enumerate(kept):
            if k:
                lv[self.level(i)] += self.utility[i] * k / self.tokens[i]
        return lv

    def emin(self, s: int) -> int:
        items = [self.tokens[i] for i in range(len(self.tokens)) if self.section[i] == s]
        if not items:
            return 0
        return min(self.sections[s].min_tokens, self.sections[s].overhead + sum(items))

    def violations(self, kept: Any) -> list[str]:
        """Every broken constraint, checked from scratch."""
        out = []
        n_sec = len(self.sections)
        content, count = [0] * n_sec, [0] * n_sec
        opt: dict[int, int] = {}
        req: dict[int, int] = {}
        for i, k in enumerate(kept):
            k = int(k)
            w = self.tokens[i]
            if not 0 <= k <= w:
                out.append(f"item {i} keeps {k} of {w}")
            if k and k < w and not self.truncate[i]:
                out.append(f"item {i} truncated")
            if k and self.truncate[i] and k < self.min_keep[i]:
                out.append(f"item {i} below min_keep")
            if self.required[i] and not k:
                out.append(f"required item {i} out")
            if k:
                content[self.section[i]] += k
                count[self.section[i]] += 1
                g = self.groups[i]
                if g is not None:
                    d = req if self.required[i] else opt
                    d[g] = d.get(g, 0) + 1
        total = 0
        for s, sec in enumerate(self.sections):
            t = content[s] + (sec.overhead if count[s] else 0)
            total += t
            if sec.max_tokens is not None and t > sec.max_tokens:
                out.append(f"section {s} over max")
            if t < self.emin(s):
                out.append(f"section {s} under min")
        if total > self.budget:
            out.append(f"total {total} over budget {self.budget}")
        if self.group_cap:
            for g, c in opt.items():
                if c > max(0, self.group_cap - req.get(g, 0)):
                    out.append(f"group {g} over cap")
        return out


def lex_better(a: list[float], b: list[float]) -> bool:
    for x, y in zip(a, b, strict=True):
        tol = TOL * (1 + max(abs(x), abs(y)))
        if x > y + tol:
            return True
        if x < y - tol:
            return False
    return False


def brute_force(inst: Instance) -> list[float] | None:
    """The optimum over every kept amount of every item (small instances)."""
    choices = []
    for i, w in enumerate(inst.tokens):
        opts: list[int] = [] if inst.required[i] else [0]
        opts += list(range(inst.min_keep[i], w + 1)) if inst.truncate[i] else [w]
        choices.append(opts)
    best: list[float] | None = None
    for kept in itertools.product(*choices):
        if inst.violations(kept):
            continue
        lv = inst.values(kept)
        if best is None or lex_better(lv, best):
            best = lv
    return best


def _subset_sums(values: np.ndarray) -> np.ndarray:
    """``out[mask]`` = the sum of ``values[i]`` over the bits ``i`` set in ``mask``, for
    every mask of ``len(values)`` bits, by doubling (bit ``i`` is the high bit of step
    ``i``): O(2**n) work, no 2**n x n matrix."""
    out = np.zeros(1, dtype=values.dtype)
    for v in values:
        out = np.concatenate([out, out + v])
    return out


def brute_force_whole(inst: Instance) -> list[float] | None:
    """The optimum over every subset, vectorized (whole items, n <= 20)."""
    n = len(inst.tokens)
    req = np.array(inst.required, dtype=bool)
    ok = np.ones(2**n, dtype=bool)
    if req.any():  # every required item is in the mask
        ok &= _subset_sums(req.astype(np.int64)) == int(req.sum())
    tokens = np.array(inst.tokens, dtype=np.int64)
    section = np.array(inst.section, dtype=np.int64)
    total = np.zeros(2**n, dtype=np.int64)
    for s, sec in enumerate(inst.sections):
        in_s = section == s
        content = _subset_sums(np.where(in_s, tokens, 0))
        count = _subset_sums(in_s.astype(np.int64))
        t = content + np.where(count > 0, sec.overhead, 0)
        total += t
        if sec.max_tokens is not None:
            ok &= t <= sec.max_tokens
        ok &= t >= inst.emin(s)
    ok &= total <= inst.budget
    if inst.group_cap:
        for g in {x for x in inst.groups if x is not None}:
            in_g = np.array([x == g for x in inst.groups], dtype=bool)
            n_req = int((in_g & req).sum())
            optional = _subset_sums((in_g & ~req).astype(np.int64))
            ok &= optional <= max(0, inst.group_cap - n_req)
    if not ok.any():
        return None
    cand = np.flatnonzero(ok)
    util = np.array(inst.utility, dtype=np.float64)
    for lv in range(len(inst.levels)):
        at = np.array([inst.level(i) == lv for i in range(n)], dtype=bool)
        v = _subset_sums(np.where(at, util, 0.0))[cand]
        top = v.max()
        cand = cand[v >= top - TOL * (1 + abs(top))]
    mask = (cand[0] >> np.arange(n)) & 1
    return inst.values(mask * tokens)


def reference_greedy_by_score(inst: Instance) -> list[int]:
    """Greedy by score written from its definition (required items, section minimums in
    priority order, then items by (level, utility desc, index) whole while they fit)."""
    n = len(inst.tokens)
    secs = inst.sections
    kept = [0] * n
    content = [0] * len(secs)
    count = [0] * len(secs)
    gcount: dict[int, int] = {}
    low = [inst.min_keep[i] if inst.truncate[i] else inst.tokens[i] for i in range(n)]

    def total(s: int) -> int:
        return content[s] + (secs[s].overhead if count[s] else 0)

    def need(s: int) -> int:
        return max(0, inst.emin(s) - total(s))

    def used() -> int:
        return sum(total(s) for s in range(len(secs)))

    def group_ok(i: int) -> bool:
        g = inst.groups[i]
        return not inst.group_cap or g is None or gcount.get(g, 0) < inst.group_cap

    def room(i: int, total_need: int) -> int:
        s = inst.section[i]
        oh = 0 if count[s] else secs[s].overhead
        by_budget = inst.budget - used() - (total_need - need(s)) - oh
        cap = secs[s].max_tokens
        by_section = (cap - total(s) - oh) if cap is not None else by_budget
        return min(by_budget, by_section)

    def add(i: int, t: int) -> None:
        s = inst.section[i]
        content[s] += t
        count[s] += 1
        g = inst.groups[i]
        if g is not None:
            gcount[g] = gcount.get(g, 0) + 1
        kept[i] = t

    for i in range(n):
        if inst.required[i]:
            add(i, low[i])
    for s, sec in enumerate(secs):
        if sec.max_tokens is not None and total(s) > sec.max_tokens:
            raise BudgetExceeded("required over max")
    if used() + sum(need(s) for s in range(len(secs))) > inst.budget:
        raise BudgetExceeded("required do not fit")
    order = sorted(range(n), key=lambda i: (inst.level(i), -inst.utility[i], i))
    for s in sorted(range(len(secs)), key=lambda s: secs[s].priority):
        if not need(s):
            continue
        for i in order:
            if inst.section[i] != s or kept[i] or not group_ok(i):
                continue
            r = room(i, sum(need(x) for x in range(len(secs))))
            if inst.truncate[i]:
                oh = 0 if count[s] else secs[s].overhead
                if r >= low[i]:
                    add(i, min(max(need(s) - oh, low[i]), min(r, inst.tokens[i])))
            elif inst.tokens[i] <= r:
                add(i, inst.tokens[i])
            if not need(s):
                break
        if need(s):
            raise BudgetExceeded("minimum not met")
    for i in order:
        if kept[i] or not group_ok(i):
            continue
        if inst.tokens[i] <= room(i, 0):
            add(i, inst.tokens[i])
    return kept


@st.composite
def instances(draw: Any, max_n: int = 12, max_tokens: int = 9, truncation: bool = True) -> Instance:
    n_sec = draw(st.integers(1, 3))
    sections = []
    for s in range(n_sec):
        lo = draw(st.sampled_from([0, 0, draw(st.integers(1, 2 * max_tokens))]))
        hi = draw(st.sampled_from([None, None, lo + draw(st.integers(0, 4 * max_tokens))]))
        sections.append(
            Section(
                f"s{s}",
                priority=draw(st.integers(0, 2)),
                min_tokens=lo,
                max_tokens=hi,
                overhead=draw(st.integers(0, 3)),
            )
        )
    n = draw(st.integers(0, max_n))
    tokens = [draw(st.integers(1, max_tokens)) for _ in range(n)]
    truncate: list[str | None] = [
        draw(st.sampled_from([None, None, "start", "end"])) if truncation else None
        for _ in range(n)
    ]
    return Instance(
        tokens=tokens,
        utility=[draw(st.integers(0, 20)) / 4 for _ in range(n)],
        section=[draw(st.integers(0, n_sec - 1)) for _ in range(n)],
        groups=[draw(st.sampled_from([None, 0, 1, 2])) for _ in range(n)],
        required=[draw(st.integers(0, 7)) == 0 for _ in range(n)],
        truncate=truncate,
        min_keep=[draw(st.integers(1, t)) for t in tokens],
        sections=sections,
        budget=draw(st.integers(0, sum(tokens) + 4)),
        group_cap=draw(st.integers(0, 2)),
    )


# ----------------------------------------------------------------------- properties
@given(instances(max_n=20, truncation=False))
def test_exact_optimum_whole_items(inst: Instance) -> None:
    best = brute_force_whole(inst)
    try:
        got = inst.run()
    except BudgetExceeded:
        assert best is None
        return
    assert best is not None
    assert inst.violations(got.kept) == []
    assert got.exact
    assert not lex_better(best, inst.values(got.kept))


@given(instances(max_n=7, max_tokens=5))
def test_exact_optimum_with_truncation(inst: Instance) -> None:
    best = brute_force(inst)
    try:
        got = inst.run()
    except BudgetExceeded:
        assert best is None
        return
    assert best is not None
    assert inst.violations(got.kept) == []
    assert not lex_better(best, inst.values(got.kept))


@given(instances(max_n=80, max_tokens=40), st.sampled_from([0, 24]))
def test_never_over_budget_never_below_greedy(inst: Instance, exact_limit: int) -> None:
    try:
        ref = reference_greedy_by_score(inst)
    except BudgetExceeded:
        ref = None
    try:
        got = inst.run(exact_limit=exact_limit, node_limit=20000)
    except BudgetExceeded:
        assert ref is None
        return
    assert inst.violations(got.kept) == []
    assert got.total <= inst.budget
    assert got.total == sum(got.section_tokens.values())
    if ref is not None:
        assert inst.violations(ref) == []
        assert not lex_better(inst.values(ref), inst.values(got.kept))


@given(instances(max_n=60, max_tokens=30))
def test_greedy_by_score_equals_its_definition(inst: Instance) -> None:
    try:
        ref = reference_greedy_by_score(inst)
    except BudgetExceeded:
        with pytest.raises(BudgetExceeded):
            inst.run(method="greedy_by_score")
        return
    assert inst.run(method="greedy_by_score").kept.tolist() == ref


def reference_pack(tokens: list[int], utility: list[float], groups: list[int], budget: int,
                   cap: int, overhead: int) -> list[int]:  # fmt: skip
    """The packer's path above exact_limit for one section, written out plainly (as
    python_packer in tests/benchmarks/bench_context.py): for the density order and then
    the score order, each item whole while it fits and its group (-1: none) is under the
    cap (0: none), then improving one-for-one swaps over the first 256 items of the
    order; the better of the two runs. Returns the kept items."""
    n = len(tokens)
    limit = cap or n + 1

    def run(key: list[float]) -> tuple[float, list[int]]:
        order = sorted(range(n), key=lambda i: (-key[i], i))
        kept = [False] * n
        per_group: dict[int, int] = {}
        used = 0
        for i in order:
            g = groups[i]
            if g >= 0 and per_group.get(g, 0) >= limit:
                continue
            cost = tokens[i] + (0 if used else overhead)
            if used + cost <= budget:
                kept[i] = True
                used += cost
                per_group[g] = per_group.get(g, 0) + 1
        inside = sorted((i for i in range(n) if kept[i]), key=lambda i: (utility[i], i))
        for j in order[:256]:
            if kept[j]:
                continue
            best = None
            for i in inside:
                if not utility[i] < utility[j] - TOL * (1.0 + utility[j]):
                    break
                if used - tokens[i] + tokens[j] > budget:
                    continue
                gj = groups[j]
                if gj >= 0 and gj != groups[i] and per_group.get(gj, 0) >= limit:
                    continue
                best = i
                break
            if best is None:
                continue
            kept[best], kept[j] = False, True
            used += tokens[j] - tokens[best]
            per_group[groups[best]] -= 1
            per_group[groups[j]] = per_group.get(groups[j], 0) + 1
            inside.remove(best)
            inside.append(j)
            inside.sort(key=lambda i: (utility[i], i))
        return sum(utility[i] for i in range(n) if kept[i]), [i for i in range(n) if kept[i]]

    first = run([u / t for u, t in zip(utility, tokens, strict=True)])
    second = run(utility)
    tol = TOL * (1 + max(abs(first[0]), abs(second[0])))
    return second[1] if second[0] > first[0] + tol else first[1]


@st.composite
def large_instances(draw: Any) -> tuple[list[int], list[float], list[int], int, int]:
    """Hundreds to thousands of items in one section, with the score distributions that
    stress the native shortcuts: uniform, few distinct values, scores equal in their
    first bits (one crowded bucket), crowded and descending, all equal."""
    n = draw(st.sampled_from([30, 257, 511, 513, 800, 1500, 3000]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.integers(0, 4))
    u = rng.random(n)
    if kind == 1:
        u = rng.integers(0, 6, n) / 5
    elif kind == 2:
        u = np.where(rng.random(n) < 0.5, 0.75 + rng.integers(0, 4096, n) * 2.0**-45, u)
    elif kind == 3:
        u = np.where(rng.random(n) < 0.7, 0.75 + (n - np.arange(n)) * 2.0**-45, u)
    elif kind == 4:
        u = np.full(n, 0.5)
    tokens = rng.integers(20, 301, n).tolist()
    groups = (np.arange(n) // draw(st.integers(1, 6))).tolist()
    budget = draw(st.sampled_from([60, 4000, 40000]))
    return tokens, u.tolist(), groups, budget, draw(st.integers(0, 3))


@settings(max_examples=40)
@given(large_instances())
def test_large_inputs_equal_the_plain_algorithm(case: tuple[Any, ...]) -> None:
    tokens, utility, groups, budget, cap = case
    section = Section("evidence", overhead=4)
    ref = reference_pack(tokens, utility, groups, budget, cap, 4)
    arrays = pack(np.array(tokens), np.array(utility), budget=budget, sections=[section],
                  groups=np.array(groups, np.int32), group_cap=cap)  # fmt: skip
    lists = pack(tokens, utility, budget=budget, sections=[section], groups=groups, group_cap=cap)
    assert arrays.selected == ref
    assert lists.selected == ref and lists.kept.tolist() == arrays.kept.tolist()


@settings(max_examples=15)
@given(instances(max_n=1200, max_tokens=60))
def test_large_greedy_by_score_equals_its_definition(inst: Instance) -> None:
    try:
        ref = reference_greedy_by_score(inst)
    except BudgetExceeded:
        with pytest.raises(BudgetExceeded):
            inst.run(method="greedy_by_score")
        return
    assert inst.run(method="greedy_by_score").kept.tolist() == ref


# ----------------------------------------------------------------------- examples
def test_priorities_and_reasons() -> None:
    secs = [Section("system", priority=0), Section("evidence", priority=1, max_tokens=600)]
    p = pack(
        [100, 300, 300, 300, 50],
        [0.1, 0.9, 0.8, 0.7, 0.6],
        budget=800,
        sections=secs,
        section=[0, 1, 1, 1, 1],
        required=[True, False, False, False, False],
        groups=[None, "a", "a", "b", "c"],
        group_cap=1,
    )
    assert p.kept.tolist() == [100, 300, 0, 300, 0]
    assert p.reasons == ["kept", "kept", "per_group_cap", "kept", "section_full"]
    assert p.section_tokens == {"system": 100, "evidence": 600}
    assert p.level_utility == {0: pytest.approx(0.1), 1: pytest.approx(1.6)}


def test_truncation_keeps_the_latest_history() -> None:
    secs = [Section("evidence", priority=1), Section("history", priority=2, min_tokens=30)]
    p = pack(
        [200, 500],
        [1.0, 1.0],
        budget=400,
        sections=secs,
        section=[0, 1],
        truncate=[None, "start"],
        min_keep=[1, 30],
        required=[False, True],
    )
    assert p.kept.tolist() == [200, 200]
    assert p.truncated([200, 500]) == [1]


def test_required_over_budget_says_by_how_much() -> None:
    with pytest.raises(BudgetExceeded) as info:
        pack(
            [1200, 900],
            [1, 1],
            budget=2000,
            required=[True, True],
            sections=[Section("system", overhead=4)],
        )
    err = info.value
    assert (err.needed, err.available, err.short_by) == (2104, 2000, 104)
    assert "short by 104" in str(err) and "2,104" in str(err)
    assert isinstance(err, ValueError)


def test_unmeetable_section_minimum_names_it() -> None:
    with pytest.raises(BudgetExceeded, match="section 'history' needs at least 300"):
        pack([400], [1.0], budget=200, sections=[Section("history", min_tokens=300)])


def test_required_above_section_max() -> None:
    with pytest.raises(BudgetExceeded, match="above its max_tokens of 100"):
        pack([150], [1.0], budget=500, required=[True], sections=[Section("tools", max_tokens=100)])


def test_empty_and_zero_budget() -> None:
    p = pack([], [], budget=100)
    assert p.selected == [] and p.total == 0 and p.exact
    assert pack([5, 6], [1, 1], budget=0).selected == []


def test_huge_input_stays_feasible() -> None:
    rng = np.random.default_rng(0)
    n = 100_000
    tokens = rng.integers(10, 400, n)
    p = pack(tokens, rng.random(n), budget=4000, groups=rng.integers(0, 10_000, n), group_cap=2)
    assert p.total <= 4000 and p.total >= 3990
    assert not p.exact and p.method in ("density", "score")


def test_numpy_arrays_of_other_dtypes_are_cast() -> None:
    p = pack(np.array([3, 4], dtype=np.int16), np.array([1, 2], dtype=np.float32), budget=4)
    assert p.selected == [1]


def test_threads_agree() -> None:
    rng = np.random.default_rng(1)
    tokens, util = rng.integers(10, 300, 5000), rng.random(5000)
    expect = pack(tokens, util, budget=4000).kept.tolist()
    out: list[list[int]] = []

    def work() -> None:
        for _ in range(20):
            out.append(pack(tokens, util, budget=4000).kept.tolist())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 80 and all(o == expect for o in out)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tokens": [0], "utility": [1.0]}, "tokens must be >= 1"),
        ({"tokens": [1], "utility": [-1.0]}, "utility must be a finite number >= 0"),
        ({"tokens": [1], "utility": [float("nan")]}, "finite"),
        ({"tokens": [1, 2], "utility": [1.0]}, "one entry per item"),
        ({"tokens": [1], "utility": [1.0], "section": [2]}, "not one of the 1 sections"),
        ({"tokens": [4], "utility": [1.0], "truncate": ["middle"]}, "'start', 'end' or None"),
        ({"tokens": [4], "utility": [1.0], "truncate": ["end"], "min_keep": [5]}, "min_keep"),
        ({"tokens": [4], "utility": [1.0], "groups": ["a", "b"]}, "one entry per item"),
        ({"tokens": [[1]], "utility": [1.0]}, "1-D"),
        ({"tokens": [1], "utility": [1.0], "method": "fast"}, "method"),
        ({"tokens": [1], "utility": [1.0], "sections": ["evidence"]}, "covekit.Section"),
        ({"tokens": [1], "utility": [1.0], "sections": [Section("a"), Section("a")]}, "unique"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("budget", 10)
    with pytest.raises(InvalidInput, match=match):
        pack(**kwargs)


def test_bad_budget_and_sections() -> None:
    with pytest.raises(InvalidInput, match="budget must be >= 0"):
        pack([1], [1.0], budget=-5)
    with pytest.raises(InvalidInput, match="budget must be an int"):
        pack([1], [1.0], budget=2.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="above max_tokens"):
        Section("history", min_tokens=500, max_tokens=100)
    with pytest.raises(InvalidInput, match="non-empty name"):
        Section("")


def test_arrays_lists_and_labels_give_one_packing() -> None:
    # numpy arrays take the native path as they are; lists, labels and numpy integers
    # are normalised first: the same problem gives the same Packing either way
    rng = np.random.default_rng(3)
    n = 700
    tokens, util = rng.integers(10, 200, n), rng.random(n)
    secs = [
        Section("system", priority=0, overhead=3),
        Section("evidence", priority=1, max_tokens=2500),
        Section("history", priority=2, min_tokens=100),
    ]
    section = np.where(np.arange(n) == 0, 0, np.where(np.arange(n) < 20, 2, 1)).astype(np.int32)
    groups = (np.arange(n) // 4).astype(np.int32)
    groups[:20] = -1
    required = np.arange(n) == 0
    fast = pack(tokens, util, budget=3000, sections=secs, section=section, groups=groups,
                group_cap=2, required=required)  # fmt: skip
    labels = [None if g < 0 else f"doc{g}" for g in groups.tolist()]
    slow = pack(tokens.tolist(), util.tolist(), budget=np.int64(3000), sections=tuple(secs),
                section=section.tolist(), groups=labels, group_cap=2,
                required=required.tolist())  # fmt: skip
    same = ("total", "utility", "section_tokens", "level_utility", "exact", "method", "budget")
    for name in same:
        assert getattr(fast, name) == getattr(slow, name), name
    assert fast.kept.tolist() == slow.kept.tolist() and fast.reasons == slow.reasons
    assert fast.kept.dtype == np.int64 and fast.status.dtype == np.uint8
    assert fast.selected == np.flatnonzero(fast.kept).tolist() and 0 in fast.selected
    assert isinstance(fast.budget, int) and isinstance(slow.budget, int)


def test_sections_of_any_sequence_and_subclass() -> None:
    class Evidence(Section):
        __slots__ = ()

    tokens, util = np.array([5, 5, 5]), np.array([1.0, 2.0, 3.0])
    expect = pack(tokens, util, budget=10).selected
    assert expect == [1, 2]
    assert pack(tokens, util, budget=10, sections=[Evidence("e")]).selected == expect
    assert pack(tokens, util, budget=10, sections=(s for s in [Section("e")])).selected == expect
    assert pack(tokens, util, budget=10, sections=[Section("e")]).section_tokens == {"e": 10}

    class Level(enum.IntEnum):  # int subclasses are ints
        FIRST = 0
        TEN = 10

    p = pack(tokens, util, budget=Level.TEN, sections=[Section("e", priority=Level.FIRST)])
    assert p.selected == expect and p.level_utility == {0: 5.0}
    assert type(p.budget) is int and p.budget == 10


def test_out_of_range_numbers_are_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="int32"):
        pack([1], [1.0], budget=5, sections=[Section("a", priority=2**40)])
    with pytest.raises(InvalidInput, match="int64"):
        pack([1], [1.0], budget=2**70)
    with pytest.raises(InvalidInput, match=r"exact_limit must be in \[0, 40\]"):
        pack(np.array([1]), np.array([1.0]), budget=5, exact_limit=41)
    with pytest.raises(InvalidInput, match="budget must be an int"):
        pack(np.array([1]), np.array([1.0]), budget=True)
    with pytest.raises(InvalidInput, match="tokens must be >= 1"):
        pack(np.array([3, 0]), np.array([1.0, 1.0]), budget=5)


@settings(max_examples=30)
@given(st.integers(1, 6), st.integers(0, 2**31))
def test_node_limit_still_feasible(n_sec: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 24
    secs = [Section(f"s{i}", priority=int(rng.integers(0, 3))) for i in range(n_sec)]
    p = pack(
        rng.integers(1, 50, n),
        rng.random(n),
        budget=300,
        sections=secs,
        section=rng.integers(0, n_sec, n),
        node_limit=50,
    )
    assert p.total <= 300
    if p.nodes > 50:
        assert not p.exact and p.method == "exact-partial"


def test_doctests() -> None:
    import covekit.decision.packing as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0

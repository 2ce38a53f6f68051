"""Packing items into an exact token budget (the native packer, ``covekit/budget.hpp``).

:func:`pack` chooses which items (evidence chunks, history turns, tool definitions...)
go into a request: each item has a token count, a utility and a :class:`Section`; it
may belong to a group (a document: at most ``group_cap`` items per group), be required,
or be truncatable from its start or its end down to ``min_keep`` tokens (a truncated
item keeps ``utility * kept / tokens``).

The objective is lexicographic over the sections' priorities (a lower number is
filled first): the utility of the first priority level is maximised, then the next.
A section's ``min_tokens`` is a reservation: it gets at least that many (or all of its
items when they have fewer), whatever its priority. ``overhead`` tokens are charged
once for a section that holds any item (a chat message's framing, a header).

Guarantees: the selection is never over the budget, never breaks a section's
``min_tokens``/``max_tokens`` or a group's cap, and keeps every required item; with up
to ``exact_limit`` optional items it is the exact optimum (branch and bound), above
that the better of a density greedy and a score greedy, each improved by a fill of
truncatable items and by swaps, so it is never below greedy by score.

>>> import covekit
>>> p = covekit.pack([300, 200, 200, 150], [0.9, 0.8, 0.7, 0.2], budget=500,
...                  groups=["a", "a", "b", "c"], group_cap=1)
>>> p.selected, p.total, p.exact
([0, 2], 500, True)
>>> p.reasons
['kept', 'per_group_cap', 'kept', 'over_budget']

Thread safety: :func:`pack` keeps no state and releases the GIL while it packs; call
it from many threads at once.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from covekit import _core
from covekit.errors import InvalidInput

__all__ = ["Packing", "Section", "pack"]

#: Why an item is out (index = the native status code).
STATUS_NAMES: tuple[str, ...] = ("kept", "over_budget", "per_group_cap", "section_full")

_REQUIRED, _TRUNCATE_START, _TRUNCATE_END = 1, 2, 4


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the context with its own priority and token limits.

    ``priority``: lower numbers are filled first; ``min_tokens`` is reserved for the
    section (or all of its items, when they have fewer); ``max_tokens`` caps it
    (``None``: no cap); ``overhead`` is charged once when it holds any item; the limits
    count the overhead. ``required``: used by :class:`~covekit.ContextBuilder` for
    sections that must be present (system, the question).

    >>> Section("evidence", priority=1, max_tokens=1500)
    Section(name='evidence', priority=1, min_tokens=0, max_tokens=1500, overhead=0, required=False)
    """

    name: str
    priority: int = 1
    min_tokens: int = 0
    max_tokens: int | None = None
    overhead: int = 0
    required: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"a section needs a non-empty name, got {self.name!r}")
        for attr in ("priority", "min_tokens", "overhead"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidInput(f"Section.{attr} must be an int, got {v!r}")
        if self.min_tokens < 0 or self.overhead < 0:
            raise InvalidInput(
                f"section {self.name!r}: min_tokens and overhead must be >= 0, "
                f"got {self.min_tokens} and {self.overhead}"
            )
        if self.max_tokens is not None:
            if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int):
                raise InvalidInput(
                    f"Section.max_tokens must be an int or None, got {self.max_tokens!r}"
                )
            if self.max_tokens < self.min_tokens:
                raise InvalidInput(
                    f"section {self.name!r}: min_tokens {self.min_tokens:,} is above "
                    f"max_tokens {self.max_tokens:,}; no selection can meet both"
                )

    def _native(self, overhead: int | None = None) -> tuple[int, int, int | None, int, str]:
        return (
            self.priority,
            self.min_tokens,
            self.max_tokens,
            self.overhead if overhead is None else overhead,
            self.name,
        )


@dataclass(frozen=True, slots=True)
class Packing:
    """The result of :func:`pack`.

    ``kept[i]`` is the tokens item ``i`` keeps (0: out; fewer than its tokens:
    truncated), ``status[i]`` why it is out (``reasons`` gives the names), ``selected``
    the kept items in input order (made from ``kept`` when read), ``total`` the tokens
    used (overheads included),
    ``section_tokens`` per section name, ``level_utility`` per priority (ascending),
    ``exact`` whether the optimum was proven, ``method`` which algorithm won
    (``"exact"``, ``"exact-partial"``, ``"density"``, ``"score"``).

    >>> import covekit
    >>> covekit.pack([10, 10], [1.0, 2.0], budget=10).selected
    [1]
    """

    kept: npt.NDArray[np.int64]
    status: npt.NDArray[np.uint8]
    total: int
    utility: float
    section_tokens: dict[str, int]
    level_utility: dict[int, float]
    exact: bool
    method: str
    nodes: int
    budget: int

    @property
    def selected(self) -> list[int]:
        """The kept items, in input order (a new list on each read)."""
        selected: list[int] = np.flatnonzero(self.kept).tolist()
        return selected

    @property
    def reasons(self) -> list[str]:
        """Per item: ``"kept"``, ``"over_budget"``, ``"per_group_cap"`` or ``"section_full"``."""
        return [STATUS_NAMES[int(s)] for s in self.status]

    def truncated(self, tokens: Sequence[int] | npt.NDArray[np.int64]) -> list[int]:
        """Indices of the items kept with fewer tokens than ``tokens[i]``."""
        t = np.asarray(tokens, dtype=np.int64)
        return [int(i) for i in np.flatnonzero((self.kept > 0) & (self.kept < t))]


def _groups(groups: Any, n: int) -> tuple[npt.NDArray[np.int32] | None, int]:
    """Dense group indices (-1: no group) from labels, or an int array as it is (the
    packer checks it and counts the groups: -1)."""
    if groups is None:
        return None, 0
    if isinstance(groups, np.ndarray) and groups.dtype.kind in "iu":
        if groups.shape != (n,):
            raise InvalidInput(
                f"groups must have one entry per item ({n}), got shape {groups.shape}"
            )
        return groups, -1
    labels = list(groups)
    if len(labels) != n:
        raise InvalidInput(f"groups must have one entry per item ({n}), got {len(labels)}")
    try:
        distinct = dict.fromkeys(labels)  # first-seen order, at C speed
    except TypeError as exc:
        raise InvalidInput(f"group labels must be hashable (a document id): {exc}") from None
    index: dict[Hashable, int] = {label: i for i, label in enumerate(distinct)}
    none = index.pop(None, None)
    if none is not None:  # renumber past the None slot; None is -1
        index = {label: (i if i < none else i - 1) for label, i in index.items()}
        index[None] = -1
    codes = np.fromiter(map(index.__getitem__, labels), dtype=np.int32, count=n)
    return codes, len(index) - (1 if none is not None else 0)


def _per_item(value: Any, n: int, name: str, dtype: Any) -> npt.NDArray[Any] | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.shape != (n,):
        raise InvalidInput(f"{name} must have one entry per item ({n}), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def pack(
    tokens: Sequence[int] | npt.NDArray[np.integer[Any]],
    utility: Sequence[float] | npt.NDArray[np.floating[Any]],
    *,
    budget: int,
    sections: Sequence[Section] | None = None,
    section: Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    groups: Sequence[Hashable | None] | npt.NDArray[np.integer[Any]] | None = None,
    group_cap: int = 0,
    required: Sequence[bool] | npt.NDArray[np.bool_] | None = None,
    truncate: Sequence[Literal["start", "end"] | None] | None = None,
    min_keep: Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    exact_limit: int = 24,
    node_limit: int = 2_000_000,
    method: Literal["best", "greedy_by_score"] = "best",
) -> Packing:
    """Chooses the items that fit ``budget`` tokens with the most utility (module docs).

    Args:
        tokens: each item's token count (>= 1).
        utility: each item's utility (finite, >= 0).
        budget: the tokens available (>= 0).
        sections: the sections (default: one, named ``"default"``); ``section[i]`` is
            item ``i``'s index in it (default 0).
        groups: each item's group label (a document id; ``None``: no group), or an int
            array with -1 for none; at most ``group_cap`` items per group (0: no cap).
        required: items that must be kept; a required item that cannot fit raises
            :class:`~covekit.errors.BudgetExceeded`.
        truncate: per item ``"start"``, ``"end"`` or ``None``: may lose tokens from that
            side down to ``min_keep[i]`` (default 1).
        exact_limit: the optimum is searched up to this many optional items.
        method: ``"greedy_by_score"`` runs only the baseline (for comparisons).

    Raises:
        BudgetExceeded: the required items, or the section minimums, cannot fit; the
            message says by how many tokens.
        InvalidInput: arrays of different lengths, a token count below 1, a negative or
            non-finite utility, a section index out of range, ``min_keep`` outside
            ``[1, tokens]``, both ``"start"`` and ``"end"``.

    >>> import covekit
    >>> secs = [covekit.Section("history", priority=2, min_tokens=50),
    ...         covekit.Section("evidence", priority=1)]
    >>> p = covekit.pack([120, 400, 300], [1.0, 0.9, 0.8], budget=500, sections=secs,
    ...                  section=[0, 1, 1], truncate=["start", None, None], min_keep=[20, 1, 1])
    >>> p.kept.tolist(), p.section_tokens
    ([100, 400, 0], {'history': 100, 'evidence': 400})
    """
    if truncate is None:
        # numpy arrays, Python ints and a list of Sections: checked and packed natively,
        # with no per-item Python objects; anything else is normalised below
        fast: Packing | None = _fast_pack(tokens, utility, budget, sections, section, groups,
                                          group_cap, required, None, min_keep, exact_limit,
                                          node_limit, method, False)  # fmt: skip
        if fast is not None:
            return fast
    t = np.ascontiguousarray(tokens, dtype=np.int64)
    if t.ndim != 1:
        raise InvalidInput(f"tokens must be 1-D, got {t.ndim} dimensions")
    n = t.shape[0]
    u = np.ascontiguousarray(utility, dtype=np.float64)
    if u.shape != (n,):
        raise InvalidInput(f"utility must have one entry per item ({n}), got shape {u.shape}")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer):
        raise InvalidInput(f"budget must be an int (tokens), got {budget!r}")
    secs = list(sections) if sections is not None else [Section("default", priority=0)]
    for s in secs:
        if not isinstance(s, Section):
            raise InvalidInput(f"sections must be covekit.Section objects, not {type(s).__name__}")
    names = [s.name for s in secs]
    if len(set(names)) != len(names):
        raise InvalidInput(f"section names must be unique, got {names}")
    sec = _per_item(section, n, "section", np.int32)
    grp, _ = _groups(groups, n)
    flags = None
    if required is not None:
        req = _per_item(required, n, "required", np.bool_)
        assert req is not None
        flags = req.astype(np.uint8)
    if truncate is not None:
        tr = list(truncate)
        if len(tr) != n:
            raise InvalidInput(f"truncate must have one entry per item ({n}), got {len(tr)}")
        sides = np.empty(n, dtype=object)
        sides[:] = tr
        start, end = sides == "start", sides == "end"
        none = np.array([x is None for x in tr], dtype=bool) if None in tr else False
        bad = ~(start | end | none | (sides == ""))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInput(f"truncate[{i}] must be 'start', 'end' or None, got {tr[i]!r}")
        code = start.astype(np.uint8) * _TRUNCATE_START + end.astype(np.uint8) * _TRUNCATE_END
        flags = code if flags is None else flags | code
    keep = _per_item(min_keep, n, "min_keep", np.int64)
    if method not in ("best", "greedy_by_score"):
        raise InvalidInput(f"method must be 'best' or 'greedy_by_score', got {method!r}")
    out: Packing = _fast_pack(t, u, int(budget), secs, sec, grp, int(group_cap), None, flags,
                              keep, int(exact_limit), int(node_limit), method, True)  # fmt: skip
    return out


#: The native pack behind :func:`pack` (``cpp/bindings/bind_budget.cpp``): a Packing, or
#: None for arguments it leaves to :func:`pack`'s general path.
_fast_pack = _core.make_packer(Packing, Section)

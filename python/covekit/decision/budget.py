"""The budget of one request: tokens (prompt, completion, total), money and time.

One :class:`Budget` type serves the whole request: the context builder reads its
prompt room, :meth:`covekit.Contract.enforce` keeps every attempt within its token and
cost limits, and each step reads its :class:`~covekit.Deadline`. Prices come from the
per-token prices given, else from the bundled, dated :class:`~covekit.PriceTable` for
``model``; the context window of a known model also bounds the prompt.

>>> import covekit
>>> budget = covekit.Budget(max_tokens=4_000, max_completion_tokens=500, model="gpt-4o-mini")
>>> budget.prompt_room()
3500
>>> round(budget.cost(3_000, 400, cached_prompt_tokens=2_048), 6)
0.000536

Thread safety: a :class:`Budget`, :class:`Degrade` and :class:`BudgetPlan` are immutable
and may be shared between threads; the deadline is read, never changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import KW_ONLY, asdict, dataclass, field
from typing import Any

from covekit.decision.deadline import Deadline
from covekit.decision.prices import Price, PriceTable, split_model
from covekit.errors import InvalidInput, UnknownPrice

__all__ = ["Budget", "BudgetPlan", "Deadline", "Degrade"]


def _number(value: Any, what: str) -> None:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
    ):
        raise InvalidInput(f"{what} must be a number >= 0 or None, got {value!r}")


def _count(value: Any, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidInput(f"{what} must be an int >= 0 or None, got {value!r}")


def _steps(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidInput(f"{what} must be a tuple of step names, e.g. ('rerank',), not {value!r}")
    steps = tuple(value)
    for s in steps:
        if not isinstance(s, str) or not s:
            raise InvalidInput(f"{what} must hold non-empty step names, got {s!r}")
    return steps


@dataclass(frozen=True, slots=True)
class Degrade:
    """A fallback for when time runs short: with less than ``below`` seconds left on the
    deadline, use at most ``max_prompt_tokens`` prompt tokens, the model ``tier`` (a name
    the caller's router knows, e.g. ``"small"``) and ``skip`` the optional steps named.

    >>> Degrade(below=0.3, max_prompt_tokens=1000, tier="small", skip=("rerank",))
    Degrade(below=0.3, max_prompt_tokens=1000, tier='small', skip=('rerank',))

    Errors: :class:`~covekit.errors.InvalidInput` for a negative or non-numeric ``below``
    or ``max_prompt_tokens``, an empty ``tier``, or ``skip`` given as one str.
    """

    below: float
    max_prompt_tokens: int | None = None
    tier: str | None = None
    skip: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        b = self.below
        if isinstance(b, bool) or not isinstance(b, int | float) or math.isnan(b) or b < 0:
            raise InvalidInput(f"Degrade.below must be seconds >= 0, got {b!r}")
        _count(self.max_prompt_tokens, "Degrade.max_prompt_tokens")
        if self.tier is not None and (not isinstance(self.tier, str) or not self.tier):
            raise InvalidInput(f"Degrade.tier must be a non-empty str or None, got {self.tier!r}")
        object.__setattr__(self, "skip", _steps(self.skip, "Degrade.skip"))


@dataclass(frozen=True, slots=True)
class BudgetPlan:
    """What a request may use now (:meth:`Budget.plan`): ``prompt_tokens``, the most
    prompt tokens (``None``: no limit), the model ``tier`` to use (``None``: the usual
    one), the optional steps to ``skip``, the seconds ``remaining`` on the deadline
    (``None`` without one), the :class:`Degrade` that fired (if any) and the ``reason``.

    >>> plan = BudgetPlan(1000, "small", ("rerank",), 0.25, Degrade(0.3, 1000, "small"),
    ...                   "0.250 s left, under the 0.300 s threshold")
    >>> plan.skips("rerank"), plan.to_dict()["tier"]
    (True, 'small')
    """

    prompt_tokens: int | None
    tier: str | None
    skip: tuple[str, ...]
    remaining: float | None
    degrade: Degrade | None
    reason: str

    def skips(self, step: str) -> bool:
        """Whether the plan skips ``step``."""
        return step in self.skip

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-serializable data (for traces and manifests).

        >>> BudgetPlan(None, None, (), None, None, "no deadline").to_dict()["reason"]
        'no deadline'
        """
        remaining = self.remaining
        return {
            "prompt_tokens": self.prompt_tokens,
            "tier": self.tier,
            "skip": list(self.skip),
            "remaining": None if remaining is None or math.isinf(remaining) else remaining,
            "degrade": None
            if self.degrade is None
            else {**asdict(self.degrade), "skip": list(self.degrade.skip)},
            "reason": self.reason,
        }


def _default_prices() -> PriceTable:
    return PriceTable.default()


@dataclass(frozen=True, slots=True)
class Budget:
    """The limits of one request: tokens, money and time. ``None``: no limit.

    Positional, as before: ``max_tokens`` (prompt plus completion, over all attempts of
    :meth:`covekit.Contract.enforce`), ``max_cost`` (USD), ``prompt_price`` and
    ``completion_price`` (USD per token). Keyword-only:

    - ``max_prompt_tokens``: the most prompt tokens of a model call (what the context
      builder may fill, counted exactly as the model bills it: see
      :func:`covekit.count_chat_tokens`);
    - ``max_completion_tokens``: the completion reserve, the most completion tokens of a
      model call (each call's ``max_tokens`` is capped at it);
    - ``model``: the model (``"gpt-4o-mini"`` or ``"openai:gpt-4o-mini"``) whose prices
      and context window the price table gives;
    - ``cached_prompt_price``: USD per cached prompt token (a prompt-cache read);
    - ``deadline``: a :class:`~covekit.Deadline`, or seconds from now (a number, made
      into a Deadline when the Budget is made);
    - ``degrade``: :class:`Degrade` thresholds, read by :meth:`plan`;
    - ``prices``: the :class:`~covekit.PriceTable` (default: the bundled one).

    Explicit per-token prices win over the table, one by one. Cost is what the model
    reports, else tokens times these prices, with cached prompt tokens at the cached
    price (the table's, or the prompt price when none is known).

    >>> import covekit
    >>> b = covekit.Budget(max_cost=0.01, model="openai:gpt-4o-mini")
    >>> b.rates()
    (1.5e-07, 7.5e-08, 6e-07)
    >>> covekit.Contract({"type": "object"}, budget=b).budget.max_cost
    0.01

    Errors: :class:`~covekit.errors.InvalidInput` for negative, NaN or non-numeric limits
    and prices, bools, token limits that contradict each other (``max_prompt_tokens`` or
    ``max_completion_tokens`` above ``max_tokens``), degrade thresholds without a
    deadline, and a ``max_cost`` with no way to price a call;
    :class:`~covekit.errors.UnknownPrice` for a ``max_cost`` whose ``model`` the table
    does not list and whose prices are not given.

    Thread safety: immutable; share it between threads and requests (a deadline given
    as seconds started when the Budget was made: make one Budget per request then).
    """

    max_tokens: int | None = None
    max_cost: float | None = None
    prompt_price: float | None = None
    completion_price: float | None = None
    _: KW_ONLY
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    model: str | None = None
    cached_prompt_price: float | None = None
    deadline: Deadline | None = None
    degrade: tuple[Degrade, ...] = ()
    prices: PriceTable = field(default_factory=_default_prices, repr=False)

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_cost", "prompt_price", "completion_price"):
            _number(getattr(self, name), f"Budget.{name}")
        _number(self.cached_prompt_price, "Budget.cached_prompt_price")
        _count(self.max_prompt_tokens, "Budget.max_prompt_tokens")
        _count(self.max_completion_tokens, "Budget.max_completion_tokens")
        for name in ("max_prompt_tokens", "max_completion_tokens"):
            v = getattr(self, name)
            if v is not None and self.max_tokens is not None and v > self.max_tokens:
                raise InvalidInput(
                    f"Budget.{name} ({v}) is above max_tokens ({self.max_tokens}), which "
                    f"counts prompt and completion together; lower {name} or raise max_tokens"
                )
        if self.model is not None:
            split_model(self.model)  # raises for a non-str or empty name
        if not isinstance(self.prices, PriceTable):
            raise InvalidInput(
                f"Budget.prices must be a covekit.PriceTable, not {type(self.prices).__name__}"
            )
        d = self.deadline
        if d is not None and not isinstance(d, Deadline):
            if isinstance(d, bool) or not isinstance(d, int | float):
                raise InvalidInput(
                    "Budget.deadline must be a covekit.Deadline or seconds from now (a number), "
                    f"not {type(d).__name__}"
                )
            object.__setattr__(self, "deadline", Deadline(d))
        degrade = self.degrade
        if isinstance(degrade, Degrade):
            degrade = (degrade,)
        if not isinstance(degrade, Iterable):
            raise InvalidInput("Budget.degrade must be a tuple of covekit.Degrade")
        levels = tuple(degrade)
        for level in levels:
            if not isinstance(level, Degrade):
                raise InvalidInput(
                    f"Budget.degrade must hold covekit.Degrade, not {type(level).__name__}"
                )
        if levels and self.deadline is None:
            raise InvalidInput(
                "Budget.degrade thresholds are read against a deadline: pass deadline= "
                "(a covekit.Deadline or seconds)"
            )
        belows = [level.below for level in levels]
        if len(set(belows)) != len(belows):
            raise InvalidInput(f"Budget.degrade has two thresholds at the same time: {belows}")
        object.__setattr__(self, "degrade", tuple(sorted(levels, key=lambda x: x.below)))
        if self.max_cost is not None and (
            self.prompt_price is None or self.completion_price is None
        ):
            if self.model is None:
                raise InvalidInput(
                    "Budget.max_cost needs prompt_price and completion_price (per token), or a "
                    "model= the price table lists, so that an attempt's cost is known before it "
                    "is made"
                )
            self.rates()  # raises UnknownPrice for a model the table lacks

    # ---------------------------------------------------------------- prices
    def _price(self, model: str | None) -> Price | None:
        m = model if model is not None else self.model
        return None if m is None else self.prices.find(m)

    def rates(
        self, prompt_tokens: int = 0, *, model: str | None = None
    ) -> tuple[float, float, float]:
        """USD per token ``(prompt, cached prompt, completion)`` for a call whose prompt
        has ``prompt_tokens`` tokens: the prices given, else the table's for ``model``
        (default: the budget's).

        >>> Budget(prompt_price=1e-06, completion_price=2e-06).rates()
        (1e-06, 1e-06, 2e-06)

        Raises:
            UnknownPrice: a price is neither given nor in the table for the model.
            InvalidInput: no price is given and no model is named.
        """
        explicit = (self.prompt_price, self.cached_prompt_price, self.completion_price)
        if explicit[0] is not None and explicit[2] is not None:
            p, c = float(explicit[0]), float(explicit[2])
            if explicit[1] is not None:
                return p, float(explicit[1]), c
            price = self._price(model)
            cached = price.per_token(prompt_tokens)[1] if price is not None else p
            return p, cached, c
        m = model if model is not None else self.model
        if m is None:
            raise InvalidInput(
                "the budget cannot price a call: pass model= (a model the price table lists, "
                "e.g. 'gpt-4o-mini') or prompt_price= and completion_price= (USD per token)"
            )
        price = self.prices.find(m)
        if price is None:
            self.prices.get(m)  # raises UnknownPrice with the table's date and a hint
            raise UnknownPrice(m)  # pragma: no cover
        tp, tc, to = price.per_token(prompt_tokens)
        p = float(explicit[0]) if explicit[0] is not None else tp
        c = float(explicit[2]) if explicit[2] is not None else to
        cached = float(explicit[1]) if explicit[1] is not None else tc
        return p, cached, c

    def can_price(self, *, model: str | None = None) -> bool:
        """Whether :meth:`cost` can price a call (prices given, or the model is listed).

        >>> Budget(model="gpt-4o").can_price(), Budget(model="my-model").can_price()
        (True, False)
        """
        try:
            self.rates(model=model)
        except (InvalidInput, UnknownPrice):
            return False
        return True

    def cost(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        cached_prompt_tokens: int = 0,
        *,
        model: str | None = None,
    ) -> float:
        """USD for one call: ``prompt_tokens`` (all of them, the cached ones included) and
        ``completion_tokens``, with ``cached_prompt_tokens`` of the prompt billed at the
        cached price. Linear in the tokens, never negative.

        >>> Budget(model="gpt-4o").cost(1_000, 100)
        0.0035
        >>> Budget(prompt_price=2e-06, completion_price=8e-06).cost(1_000, 100)
        0.0028

        Raises:
            UnknownPrice: the model is not in the table and its prices are not given (the
                message names the model, the table's date and how to pass a price).
            InvalidInput: token counts that are not ints >= 0, or more cached tokens than
                prompt tokens.
        """
        for what, v in (
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
            ("cached_prompt_tokens", cached_prompt_tokens),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidInput(f"{what} must be an int >= 0, got {v!r}")
        if cached_prompt_tokens > prompt_tokens:
            raise InvalidInput(
                f"cached_prompt_tokens ({cached_prompt_tokens}) cannot exceed prompt_tokens "
                f"({prompt_tokens}): prompt_tokens counts every prompt token, the cached ones "
                "included"
            )
        p, k, c = self.rates(prompt_tokens, model=model)
        return (
            (prompt_tokens - cached_prompt_tokens) * p
            + cached_prompt_tokens * k
            + (completion_tokens * c)
        )

    # ---------------------------------------------------------------- tokens
    def context_window(self, *, model: str | None = None) -> int | None:
        """The model's context window from the price table (``None`` when unknown).

        >>> Budget(model="gpt-4o").context_window()
        128000
        """
        price = self._price(model)
        return None if price is None else price.context_window

    def prompt_room(self, *, model: str | None = None) -> int | None:
        """The most prompt tokens a call may use (``None``: no limit): the least of
        ``max_prompt_tokens``, ``max_tokens`` less ``max_completion_tokens`` (or all of
        ``max_tokens`` when no completion reserve is set), and the context window of
        ``model`` (default: the budget's) less the completion reserve, when the price
        table knows it. Never negative.

        >>> Budget(max_prompt_tokens=3_000, max_tokens=4_000, max_completion_tokens=1_500
        ...        ).prompt_room()
        2500
        >>> Budget(model="gpt-4", max_completion_tokens=1_000).prompt_room()
        7192
        >>> Budget().prompt_room() is None
        True
        """
        limits: list[int] = []
        reserve = self.max_completion_tokens or 0
        if self.max_prompt_tokens is not None:
            limits.append(self.max_prompt_tokens)
        if self.max_tokens is not None:
            limits.append(math.floor(self.max_tokens) - reserve)
        window = self.context_window(model=model)
        if window is not None:
            limits.append(window - reserve)
        return max(0, min(limits)) if limits else None

    # ---------------------------------------------------------------- time
    def plan(self, *, model: str | None = None, deadline: Deadline | None = None) -> BudgetPlan:
        """What the request may use now: reads the time left on the deadline (or on
        ``deadline``, which overrides the budget's) and applies the tightest
        :class:`Degrade` that fires (the one with the smallest ``below`` that is still
        above the time left; the order they are given in does not matter).

        >>> import covekit
        >>> now = [0.0]
        >>> b = covekit.Budget(max_prompt_tokens=4000,
        ...     deadline=covekit.Deadline(2.0, clock=lambda: now[0]),
        ...     degrade=[covekit.Degrade(below=1.0, max_prompt_tokens=2000),
        ...              covekit.Degrade(below=0.3, max_prompt_tokens=1000, tier="small",
        ...                              skip=("rerank",))])
        >>> b.plan().prompt_tokens, b.plan().reason
        (4000, '2.000 s left, no degrade threshold reached')
        >>> now[0] = 1.75
        >>> p = b.plan()
        >>> p.prompt_tokens, p.tier, p.skip, p.reason
        (1000, 'small', ('rerank',), '0.250 s left, under the 0.300 s threshold')
        """
        if deadline is not None and not isinstance(deadline, Deadline):
            raise InvalidInput(
                f"deadline must be a covekit.Deadline, not {type(deadline).__name__}"
            )
        room = self.prompt_room(model=model)
        dl = deadline if deadline is not None else self.deadline
        if dl is None:
            return BudgetPlan(room, None, (), None, None, "no deadline")
        left = dl.remaining()
        fired = next((d for d in self.degrade if left < d.below), None)
        if fired is None:
            return BudgetPlan(
                room, None, (), left, None, f"{left:.3f} s left, no degrade threshold reached"
            )
        if fired.max_prompt_tokens is not None:
            room = fired.max_prompt_tokens if room is None else min(room, fired.max_prompt_tokens)
        return BudgetPlan(
            room,
            fired.tier,
            fired.skip,
            left,
            fired,
            f"{left:.3f} s left, under the {fired.below:.3f} s threshold",
        )

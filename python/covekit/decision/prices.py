"""Model prices: a bundled, dated table (USD per 1M tokens), overridable by the user.

The bundled table (``prices.json`` beside this module) lists input, cached input and
output prices, the context window and the output limit of the common models served
through OpenAI-compatible endpoints, each with its source; ``as_of`` is the date the
numbers were read. Look a model up as ``"provider:model"`` or by its bare name.

>>> import covekit
>>> table = covekit.PriceTable.default()
>>> table.as_of
'2026-12-07'
>>> table.get("openai:gpt-4o-mini")
Price(input=0.15, cached_input=0.075, output=0.6, context_window=128000, max_output_tokens=16384)
>>> round(table.cost("gpt-4o-mini", 10_000, 500, cached_prompt_tokens=8_000), 8)
0.0012

Thread safety: a :class:`PriceTable` and its :class:`Price` entries are immutable;
:meth:`PriceTable.default` loads the bundled file once, under a lock.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from covekit.errors import InvalidInput, UnknownPrice

__all__ = ["Price", "PriceTable", "split_model"]

_PER = 1_000_000  # prices are per this many tokens


def _rate(value: Any, what: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        more = " or None" if optional else ""
        raise InvalidInput(f"{what} must be a finite number >= 0{more} (USD per 1M tokens), "
                           f"got {value!r}")  # fmt: skip
    return float(value)


def _tokens(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be an int >= 0, got {value!r}")
    return value


def split_model(model: str) -> tuple[str | None, str]:
    """``"provider:model"`` into its parts; a bare name has no provider. Fine-tuned OpenAI
    names (``"ft:gpt-4o-mini:org::id"``) are bare names.

    >>> split_model("openai:gpt-4o"), split_model("gpt-4o"), split_model("ft:gpt-4o:acme::1")
    (('openai', 'gpt-4o'), (None, 'gpt-4o'), (None, 'ft:gpt-4o:acme::1'))
    """
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput(f"model must be a non-empty str such as 'openai:gpt-4o', got {model!r}")
    head, sep, tail = model.partition(":")
    if not sep or head == "ft" or not tail:
        return None, model
    return head, tail


@dataclass(frozen=True, slots=True)
class Price:
    """The price of one model in USD per 1M tokens: ``input``, ``cached_input`` (a prompt
    cache read; ``None``: billed as ``input``) and ``output``, with the ``context_window``
    (the most prompt tokens it accepts) and ``max_output_tokens`` where known.

    ``long_context_above`` and the ``long_*`` prices: when a prompt has more tokens than
    that, every token of the request is billed at the long-context prices (as Gemini 2.5
    Pro and Claude Sonnet 4.5 bill prompts over 200k tokens).

    >>> p = Price(2.5, 1.25, 10.0, context_window=128_000)
    >>> p.cost(1_000, 200), p.cost(1_000, 200, cached_prompt_tokens=1_000)
    (0.0045, 0.00325)

    Errors: :class:`~covekit.errors.InvalidInput` for a negative, NaN or non-numeric
    price, or a token count that is not an int >= 0.
    """

    input: float
    cached_input: float | None
    output: float
    context_window: int | None = None
    max_output_tokens: int | None = None
    long_context_above: int | None = None
    long_input: float | None = None
    long_cached_input: float | None = None
    long_output: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("input", "output"):
            object.__setattr__(self, name, _rate(getattr(self, name), f"Price.{name}"))
        for name in ("cached_input", "long_input", "long_cached_input", "long_output"):
            object.__setattr__(
                self, name, _rate(getattr(self, name), f"Price.{name}", optional=True)
            )
        for name in ("context_window", "max_output_tokens", "long_context_above"):
            v = getattr(self, name)
            if v is not None:
                _tokens(v, f"Price.{name}")
        if (self.long_context_above is None) != (
            self.long_input is None or self.long_output is None
        ):
            raise InvalidInput(
                "Price.long_context_above needs long_input and long_output (and the other "
                "way round): give all three, or none"
            )
        if not isinstance(self.source, str):
            raise InvalidInput("Price.source must be a str")

    def __repr__(self) -> str:
        shown = ["input", "cached_input", "output", "context_window", "max_output_tokens"]
        if self.long_context_above is not None:
            shown += ["long_context_above", "long_input", "long_cached_input", "long_output"]
        return "Price(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in shown) + ")"

    def per_token(self, prompt_tokens: int = 0) -> tuple[float, float, float]:
        """USD per token ``(input, cached input, output)`` for a request whose prompt has
        ``prompt_tokens`` tokens (the long-context prices above the threshold).

        >>> Price(2.5, None, 10.0).per_token()
        (2.5e-06, 2.5e-06, 1e-05)
        """
        n = _tokens(prompt_tokens, "prompt_tokens")
        inp, cached, out = self.input, self.cached_input, self.output
        if self.long_context_above is not None and n > self.long_context_above:
            assert self.long_input is not None and self.long_output is not None
            inp, out = self.long_input, self.long_output
            cached = self.long_cached_input
        return inp / _PER, (inp if cached is None else cached) / _PER, out / _PER

    def cost(
        self, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0
    ) -> float:
        """USD for one request. ``prompt_tokens`` counts all prompt tokens, the cached ones
        included (as OpenAI's ``usage.prompt_tokens`` does); ``cached_prompt_tokens`` of
        them are billed at the cached price.

        >>> Price(0.15, 0.075, 0.6).cost(10_000, 500, cached_prompt_tokens=8_000)
        0.0012
        """
        p = _tokens(prompt_tokens, "prompt_tokens")
        c = _tokens(completion_tokens, "completion_tokens")
        k = _tokens(cached_prompt_tokens, "cached_prompt_tokens")
        if k > p:
            raise InvalidInput(
                f"cached_prompt_tokens ({k}) cannot exceed prompt_tokens ({p}): prompt_tokens "
                "counts every prompt token, the cached ones included"
            )
        inp, cached, out = self.input, self.cached_input, self.output
        if self.long_context_above is not None and p > self.long_context_above:
            assert self.long_input is not None and self.long_output is not None
            inp, out, cached = self.long_input, self.long_output, self.long_cached_input
        if cached is None:
            cached = inp
        return ((p - k) * inp + k * cached + c * out) / _PER


def _price_from(value: Any, where: str) -> Price:
    if isinstance(value, Price):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{where}: give a covekit.Price or a mapping with 'input', 'cached_input' and "
            f"'output' (USD per 1M tokens), not {type(value).__name__}"
        )
    known = {f.name for f in fields(Price)}
    data = dict(value)
    long = data.pop("long_context", None)
    if long is not None:
        if not isinstance(long, Mapping):
            raise InvalidInput(f"{where}: long_context must be a mapping")
        data["long_context_above"] = long.get("above")
        data["long_input"] = long.get("input")
        data["long_cached_input"] = long.get("cached_input")
        data["long_output"] = long.get("output")
    data.pop("source_key", None)
    extra = sorted(set(data) - known)
    if extra:
        raise InvalidInput(f"{where}: unknown price fields {extra}; fields: {sorted(known)}")
    for need in ("input", "output"):
        if need not in data:
            raise InvalidInput(f"{where}: missing {need!r} (USD per 1M tokens)")
    data.setdefault("cached_input", None)
    try:
        return Price(**data)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None


class PriceTable:
    """Prices by model: a mapping of ``"provider:model"`` to :class:`Price`, with the date
    (``as_of``) and ``source`` of the numbers.

    Lookup (:meth:`get`, :meth:`find`) takes ``"provider:model"`` or the bare model name;
    dated snapshots are found only where the table lists them (``aliases``): no prefix
    rule guesses that ``gpt-4o-2024-05-13`` costs what ``gpt-4o`` costs (it does not).
    Use :meth:`default` for the bundled table, :meth:`with_prices` to override or add
    models, :meth:`load` to read a table in the same JSON format.

    >>> table = PriceTable.default().with_prices({"acme:small": Price(0.1, None, 0.4)})
    >>> table.get("small").output, "acme:small" in table, len(table) > 30
    (0.4, True, True)

    Errors: :class:`~covekit.errors.UnknownPrice` for a model the table does not list
    (a ``KeyError`` and ``ValueError``); its message names the model, the table's date and
    how to give a price. :class:`~covekit.errors.InvalidInput` for malformed prices or
    files.

    Thread safety: immutable; :meth:`with_prices` returns a new table.
    """

    __slots__ = ("_aliases", "_bare", "_prices", "_providers", "as_of", "source")

    _prices: Mapping[str, Price]
    _aliases: Mapping[str, str]
    _providers: Mapping[str, str]
    _bare: Mapping[str, tuple[str, ...]]
    as_of: str
    source: str

    def __init__(
        self,
        prices: Mapping[str, Price | Mapping[str, Any]],
        *,
        as_of: str,
        source: str = "",
        aliases: Mapping[str, str] | None = None,
        provider_aliases: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(prices, Mapping):
            raise InvalidInput("prices must be a mapping of 'provider:model' to covekit.Price")
        if not isinstance(as_of, str) or not as_of:
            raise InvalidInput("as_of must be the date of the prices, e.g. '2026-12-07'")
        table: dict[str, Price] = {}
        for key, value in prices.items():
            split_model(key)
            table[key] = _price_from(value, f"price of {key!r}")
        alias_map = dict(aliases or {})
        for a, target in alias_map.items():
            split_model(a)
            if target not in table:
                raise InvalidInput(f"alias {a!r} points to {target!r}, which the table lacks")
        bare: dict[str, list[str]] = {}
        for key in (*table, *alias_map):
            bare.setdefault(split_model(key)[1], []).append(key)
        set_ = object.__setattr__
        set_(self, "_prices", MappingProxyType(table))
        set_(self, "_aliases", MappingProxyType(alias_map))
        set_(self, "_providers", MappingProxyType(dict(provider_aliases or {})))
        set_(self, "_bare", MappingProxyType({k: tuple(v) for k, v in bare.items()}))
        set_(self, "as_of", as_of)
        set_(self, "source", source)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a PriceTable is immutable; use with_prices() for a new one")

    def __repr__(self) -> str:
        return f"<covekit.PriceTable as_of={self.as_of} models={len(self._prices)}>"

    def __len__(self) -> int:
        return len(self._prices)

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __contains__(self, model: object) -> bool:
        try:
            return isinstance(model, str) and self._key(model) is not None
        except InvalidInput:
            return False

    # ---------------------------------------------------------------- construction
    @classmethod
    def default(cls) -> PriceTable:
        """The bundled table (loaded once and shared).

        >>> PriceTable.default() is PriceTable.default()
        True
        """
        table = _DEFAULT[0]
        if table is None:
            with _DEFAULT_LOCK:
                table = _DEFAULT[0]
                if table is None:
                    text = resources.files("covekit.decision").joinpath("prices.json")
                    table = cls._from_json(text.read_text(encoding="utf-8"), "bundled prices.json")
                    _DEFAULT[0] = table
        return table

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PriceTable:
        """A table read from a JSON file in the bundled file's format (``as_of``, ``models``
        of ``"provider:model": {"input", "cached_input", "output", ...}``, ``aliases``).

        >>> import json, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "prices.json"
        >>> _ = f.write_text(json.dumps({"as_of": "2027-01-01", "models": {
        ...     "acme:small": {"input": 0.1, "cached_input": None, "output": 0.4}}}))
        >>> PriceTable.load(f).get("acme:small").input
        0.1
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read the price table {p}: {exc}") from None
        return cls._from_json(text, str(p))

    @classmethod
    def _from_json(cls, text: str, where: str) -> PriceTable:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"{where} is not JSON: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
            raise InvalidInput(f"{where} has no 'models' object")
        sources = doc.get("sources") or {}
        names = ", ".join(
            f"{s.get('title', k)} @ {str(s.get('commit', ''))[:8]}".rstrip(" @")
            for k, s in sources.items()
            if isinstance(s, dict)
        )
        as_of = doc.get("as_of")
        if not isinstance(as_of, str):
            raise InvalidInput(f"{where} has no 'as_of' date")
        return cls(
            doc["models"],
            as_of=as_of,
            source=names or where,
            aliases=doc.get("aliases") or {},
            provider_aliases=doc.get("provider_aliases") or {},
        )

    def with_prices(self, prices: Mapping[str, Price | Mapping[str, Any]]) -> PriceTable:
        """A new table with ``prices`` added or replacing entries (the same date and source;
        a key that names a listed model, bare or ``"provider:model"``, replaces it, and its
        listed snapshots follow).

        >>> t = PriceTable.default().with_prices({"gpt-4o": {"input": 2.0, "output": 8.0}})
        >>> t.get("openai:gpt-4o").input, t.get("gpt-4o-2024-08-06").input
        (2.0, 2.0)
        """
        if not isinstance(prices, Mapping):
            raise InvalidInput("prices must be a mapping of model to covekit.Price")
        table = dict(self._prices)
        aliases = dict(self._aliases)
        for key, value in prices.items():
            price = _price_from(value, f"price of {key!r}")
            listed = self._listed_key(key)
            if listed is not None and listed in aliases:  # a snapshot gets its own price
                del aliases[listed]
            table[listed or key] = price
        return PriceTable(
            table,
            as_of=self.as_of,
            source=self.source,
            aliases=aliases,
            provider_aliases=self._providers,
        )

    # ---------------------------------------------------------------- lookup
    def _listed_key(self, model: str) -> str | None:
        """The table's own key for ``model`` (a model's or a snapshot's), or None."""
        provider, name = split_model(model)
        if model in self._prices or model in self._aliases:
            return model
        if provider is not None:
            key = f"{self._providers.get(provider, provider)}:{name}"
            return key if key in self._prices or key in self._aliases else None
        keys = self._bare.get(name, ())
        return keys[0] if len(keys) == 1 else None

    def _key(self, model: str) -> str | None:
        provider, name = split_model(model)
        if provider is not None:
            provider = self._providers.get(provider, provider)
            key = f"{provider}:{name}"
            if key in self._prices:
                return key
            target = self._aliases.get(key)
            if target is not None:
                return target
            return model if model in self._prices else None
        if model in self._prices:  # a bare key added by the user
            return model
        hits = {self._aliases.get(k, k) for k in self._bare.get(name, ())}
        return hits.pop() if len(hits) == 1 else None

    def find(self, model: str) -> Price | None:
        """The price of ``model``, or None if the table does not list it.

        >>> PriceTable.default().find("my-own-model") is None
        True
        """
        key = self._key(model)
        return None if key is None else self._prices[key]

    def get(self, model: str) -> Price:
        """The price of ``model`` (``"provider:model"`` or a bare name).

        >>> PriceTable.default().get("claude-haiku-4-5").output
        5.0

        Raises:
            UnknownPrice: the table does not list the model.
        """
        key = self._key(model)
        if key is not None:
            return self._prices[key]
        raise UnknownPrice(self._unknown_message(model))

    def _unknown_message(self, model: str) -> str:
        provider, name = split_model(model)
        ambiguous = self._bare.get(name, ()) if provider is None else ()
        if len(ambiguous) > 1:
            why = f"model {model!r} is listed by several providers ({', '.join(ambiguous)})"
            hint = "; name one as 'provider:model'"
        else:
            why = f"no price for model {model!r} in the price table of {self.as_of}"
            close = difflib.get_close_matches(model, [*self._prices, *self._aliases], n=3)
            hint = f" (close: {', '.join(close)})" if close else ""
        src = f" ({self.source})" if self.source else ""
        return (
            f"{why}{src}{hint}; pass its prices per token, e.g. covekit.Budget(model=..., "
            "prompt_price=2.5e-06, completion_price=1e-05), or add it: "
            f"covekit.PriceTable.default().with_prices({{{model!r}: covekit.Price(input=..., "
            "cached_input=..., output=...)}) in USD per 1M tokens"
        )

    def cost(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_prompt_tokens: int = 0,
    ) -> float:
        """USD for one request to ``model`` (see :meth:`Price.cost`).

        >>> PriceTable.default().cost("openai:gpt-4o", 1_000, 100)
        0.0035
        """
        return self.get(model).cost(prompt_tokens, completion_tokens, cached_prompt_tokens)

    def models(self) -> list[str]:
        """The listed ``"provider:model"`` keys (snapshots not included).

        >>> "openai:gpt-5-nano" in PriceTable.default().models()
        True
        """
        return list(self._prices)

    def aliases(self) -> dict[str, str]:
        """The listed snapshots and the model whose price each has.

        >>> PriceTable.default().aliases()["openai:gpt-4o-mini-2024-07-18"]
        'openai:gpt-4o-mini'
        """
        return dict(self._aliases)


_DEFAULT: list[PriceTable | None] = [None]
_DEFAULT_LOCK = threading.Lock()

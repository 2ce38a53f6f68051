"""The three planes composed: one call takes a question through routing, redaction,
permitted retrieval, the context budget, the model and its contract, grounding and a
calibrated confidence, and returns an :class:`~covekit.Answer` that says what it is
based on and how sure it is (docs/pipeline.md has the diagram).

>>> import covekit
>>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
>>> _ = kb.add([covekit.Document("Refunds take 5 business days.", "refunds.md",
...                              acl=["role:support"])])
>>> model = covekit.ScriptedModel(["Refunds take 5 business days [1]."])
>>> pipe = covekit.Pipeline(kb, model)
>>> a = pipe.answer("How long do refunds take?", principals=["role:support"])
>>> a.outcome, [(c.marker, c.doc_id, c.quote) for c in a.citations]
('answered', [(1, 'refunds.md', 'Refunds take 5 business days.')])
>>> pipe.answer("How long do refunds take?", principals=["role:hr"]).reason
'no evidence the caller may see'

Thread safety: a Pipeline is read-only after construction and ``answer`` may run from
many threads at once, as far as its model, retriever and hooks allow (covekit's do);
``fit_calibrator`` replaces the calibrator and must not run alongside ``answer``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from covekit._fileio import atomic_write
from covekit.data.filters import Filter
from covekit.decision.budget import Budget
from covekit.decision.context import Context, ContextBuilder
from covekit.decision.deadline import Deadline
from covekit.decision.policy import Policy
from covekit.decision.redact import Redactor, Vault
from covekit.decision.router import Router
from covekit.errors import ContractError, DeadlineExceeded, InvalidInput
from covekit.execution.answer import Answer, AnswerCitation
from covekit.execution.calibrate import Calibrator, ConfidenceSignals
from covekit.execution.contract import Contract
from covekit.execution.model import ModelBase
from covekit.execution.verdict import ModelReply
from covekit.observe.privacy import ContentPolicy
from covekit.observe.sink import SpanSink
from covekit.observe.trace import (
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    Span,
    Tracer,
)

__all__ = ["DEFAULT_SYSTEM", "Pipeline"]

#: The system message of a pipeline's context, unless another is given.
DEFAULT_SYSTEM = (
    "Answer from the sources only and cite each sentence's sources as [n]. "
    "If the sources do not answer the question, say that there is not enough evidence."
)
_FORMAT = "covekit.pipeline"
_FORMAT_VERSION = 1
_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*?_[1-9][0-9]*>")
_REFUSAL = re.compile(r"^\s*(not enough evidence|i (?:do not|don't) know)\b", re.IGNORECASE)
# ContextBuilder options that are plain data, saved with the pipeline
_PLAIN_CONTEXT = (
    "model",
    "candidates",
    "min_score",
    "per_document_cap",
    "order",
    "utility",
    "truncate_evidence",
    "note_conflicts",
    "evidence_header",
)

Grounder = Callable[..., Any]
_MAX_PASSES = 64  # redaction passes over one text (see _Sanitizer.redact)
_WITHHELD = "[withheld: it holds values the redactor could not remove]"


def _markers_in(text: str) -> list[int]:
    out: list[int] = []
    for m in _MARKERS.finditer(text):
        for part in m.group(1).split(","):
            n = int(part)
            if n not in out:
                out.append(n)
    return out


def _verdicts(attempts: Sequence[Any]) -> list[dict[str, Any]]:
    """The contract's verdict on each attempt, as trace data (no output text)."""
    return [
        {
            "attempt": a.index,
            "step": a.step,
            "model": a.model,
            "ok": a.verdict.ok,
            "violations": [f"{v.kind} {v.path or '(root)'}: {v.source}" for v in a.verdict.errors][
                :10
            ],
        }
        for a in attempts
    ]


_REFUSED_FIELDS = ("refused", "refusal", "insufficient_evidence", "not_enough_evidence",
                   "cannot_answer", "abstain", "unanswerable")  # fmt: skip
_CITATION_FIELDS = ("citations", "sources", "references", "markers", "cited")


def _signal(record: Any, name: str) -> tuple[float, int]:
    """A candidate's raw score and rank (1-based) in one retrieval signal (0 and 0 when
    it has none)."""
    got = (getattr(record, "signals", None) or {}).get(name) or {}
    if not isinstance(got, Mapping):
        return 0.0, 0
    score, rank = got.get("score"), got.get("rank")
    value = 0.0
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        value = float(score)
    place = rank if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0 else 0
    return value, place


def _standout(pool: Sequence[float], best: float) -> float:
    """How many standard deviations ``best`` lies above the mean of ``pool`` (0 for a
    pool of fewer than two or without spread)."""
    n = len(pool)
    if n < 2:
        return 0.0
    mean = sum(pool) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in pool) / n)
    return (best - mean) / sd if sd > 0 else 0.0


def _refused_value(value: Any) -> bool:
    """Whether a structured answer says it declines (a true boolean named so)."""
    return isinstance(value, Mapping) and any(value.get(k) is True for k in _REFUSED_FIELDS)


def _value_markers(value: Any) -> list[int]:
    """The markers a structured answer lists: integers, numeric strings ("1", "[1]") or
    objects with a ``marker``/``id`` field, under ``citations`` (or a like name)."""
    if not isinstance(value, Mapping):
        return []
    out: list[int] = []
    for key in _CITATION_FIELDS:
        items = value.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, Mapping):
                item = next((item[f] for f in ("marker", "id") if f in item), None)
            if isinstance(item, str) and item.strip("[] ").isdigit():
                item = int(item.strip("[] "))
            if isinstance(item, int) and not isinstance(item, bool) and item not in out:
                out.append(item)
    return out


class _Call:
    """The model as :meth:`Contract.enforce` calls it: ``messages -> ModelReply``, with
    the response format and deadline of this request, keeping every reply."""

    def __init__(
        self, model: Any, response_format: Mapping[str, Any] | None, deadline: Deadline | None
    ) -> None:
        self.model = model
        self.response_format = response_format
        self.deadline = deadline
        self.name = str(getattr(model, "name", None) or getattr(model, "__name__", "model"))
        self.replies: list[ModelReply] = []

    def __call__(self, messages: list[dict[str, Any]], max_tokens: int | None = None) -> Any:
        if self.deadline is not None:
            self.deadline.check("model call")
        if isinstance(self.model, ModelBase):
            reply = self.model.complete(
                messages,
                response_format=self.response_format,
                max_tokens=max_tokens,
                deadline=self.deadline,
            )
        else:
            from covekit.execution.contract import _accepts_max_tokens, _as_reply

            raw = (
                self.model(messages, max_tokens=max_tokens)
                if max_tokens is not None and _accepts_max_tokens(self.model)
                else self.model(messages)
            )
            reply = _as_reply(raw)
        self.replies.append(reply)
        return reply


class _Sanitizer:
    """What the answer may show: every PII value the redactor finds is replaced (one vault
    per request, so one value has one placeholder everywhere), and only the placeholders
    the user's own messages produced are restored."""

    def __init__(self, redactor: Redactor | None) -> None:
        self.redactor = redactor
        self.vault = Vault()
        self.given: frozenset[str] = frozenset()

    def user(self, text: str) -> tuple[str, dict[str, int]]:
        if self.redactor is None:
            return text, {}
        counts: dict[str, int] = {}
        value = text
        for _ in range(_MAX_PASSES):  # see redact(): a value after another may need a pass more
            red = self.redactor.redact(value, vault=self.vault)
            if not red.changed:
                break
            value = str(red.value)
            for k, v in red.counts.items():
                counts[k] = counts.get(k, 0) + v
        else:
            raise InvalidInput(
                f"the redactor still finds values after {_MAX_PASSES} passes over the "
                "question; it cannot be sent redacted"
            )
        self.given = self.given | frozenset(_PLACEHOLDER.findall(value))
        return value, counts

    def redact(self, text: str) -> str:
        """The text with every finding replaced (nothing restored)."""
        if self.redactor is None or not text:
            return text
        # Again on what changed, until nothing does: the scanner can miss a value that
        # directly follows another finding ("415-555-2671 4111 1111 1111 1111" keeps
        # the card on the first pass; a run of adjacent cards gives up one per pass), and
        # a pass over the placeholders finds the next one. A text that still changes
        # after _MAX_PASSES passes is withheld whole rather than shown half redacted.
        for _ in range(_MAX_PASSES):
            red = self.redactor.redact(text, vault=self.vault)
            if not red.changed:
                return text
            text = str(red.value)
        return _WITHHELD

    def shown(self, text: str) -> str:
        """The text as the user may see it: redacted, then the user's own values back."""
        if self.redactor is None or not text:
            return text
        red = self.redact(text)

        def back(m: re.Match[str]) -> str:
            ph = m.group(0)
            if ph in self.given:
                got = self.vault.get(ph)
                return got if got is not None else ph
            return ph

        return _PLACEHOLDER.sub(back, red)

    def value(self, value: Any) -> Any:
        if self.redactor is None or value is None:
            return value
        if isinstance(value, str):
            return self.shown(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


class Pipeline:
    """A request's way through the planes (module docs).

    Args:
        kb: the :class:`~covekit.KnowledgeBase` (or any retriever with ``search(query,
            k, *, principals, filter)``) the evidence comes from.
        model: the model (a :class:`~covekit.ModelBase` or a callable ``messages ->
            str | ModelReply``); a mapping of router tiers to models picks one per
            request (its ``"default"`` entry when the route's tier is missing or there
            is no router). Default: :class:`~covekit.ExtractiveModel`.
        contract: a :class:`~covekit.Contract` the output must satisfy (its schema goes
            to the model as a strict ``response_format``; ``value`` is the parsed
            output). Without one the reply's text is the answer.
        context: a :class:`~covekit.ContextBuilder`, or a dict of its options.
        policy: a :class:`~covekit.Policy`: ``check_input`` on the question (block:
            refused), ``check_context`` on every retrieved chunk (through the context
            builder made here), ``check_output`` on the answer (block: refused).
        redactor: a :class:`~covekit.Redactor`: the question is redacted before routing,
            retrieval and the model; the answer shows no PII value but the user's own
            (restored through a per-request :class:`~covekit.Vault`).
        router: a :class:`~covekit.Router`; its :class:`~covekit.Route` picks the model
            tier and is kept on the answer.
        budget: the prompt tokens of the context (an int) or a :class:`~covekit.Budget`
            (default: 3,000 prompt tokens).
        calibrator: the :class:`~covekit.Calibrator` of the confidence (default: an
            unfitted one, which gives :meth:`Calibrator.prior`).
        system: the system message of the context.
        grounding_threshold: passed to :func:`covekit.ground` (None: its default).
        grounder: replaces :func:`covekit.ground` (``grounder(text, chunks, **kw)``).
        sinks: :class:`~covekit.observe.sink.SpanSink` objects that receive each
            request's spans when it finishes (a trace store, an OTLP exporter); a sink
            that raises is counted and logged, never breaks the answer.
        content: the :class:`~covekit.observe.ContentPolicy` of what the trace keeps of the
            question, the retrieved text, the prompt and the answer (default: none of
            it); ``answer.trace`` and the sinks see the spans after it.

    >>> import covekit
    >>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
    >>> covekit.Pipeline(kb, covekit.ScriptedModel(["x"]), budget=800).config()["budget"]
    800
    """

    def __init__(
        self,
        kb: Any,
        model: Any = None,
        *,
        contract: Contract | None = None,
        context: ContextBuilder | Mapping[str, Any] | None = None,
        policy: Policy | None = None,
        redactor: Redactor | None = None,
        router: Router | None = None,
        budget: Budget | int | None = None,
        calibrator: Calibrator | None = None,
        system: str = DEFAULT_SYSTEM,
        grounding_threshold: float | None = None,
        grounder: Grounder | None = None,
        sinks: Iterable[SpanSink] = (),
        content: ContentPolicy | None = None,
    ) -> None:
        if not callable(getattr(kb, "search", None)):
            raise InvalidInput(
                "kb must be a covekit.KnowledgeBase or have a search(query, k, *, principals, "
                f"filter) method; got {type(kb).__name__}"
            )
        self.kb = kb
        if model is None:
            from covekit.execution.extractive import ExtractiveModel

            model = ExtractiveModel()
        if isinstance(model, Mapping):
            if not model:
                raise InvalidInput("model is an empty mapping; give {tier: model, ...}")
            for tier, m in model.items():
                if not isinstance(tier, str) or not callable(m):
                    raise InvalidInput("a model mapping maps tier names (str) to models")
        elif not callable(model):
            raise InvalidInput(f"model must be a covekit.ModelBase or a callable, not {model!r}")
        self.model = model
        if contract is not None and not isinstance(contract, Contract):
            raise InvalidInput(
                f"contract must be a covekit.Contract, not {type(contract).__name__}"
            )
        self.contract = contract
        if policy is not None and not isinstance(policy, Policy):
            raise InvalidInput(f"policy must be a covekit.Policy, not {type(policy).__name__}")
        self.policy = policy
        self._context_options: dict[str, Any] = {}
        if isinstance(context, ContextBuilder):
            self.builder = context
        elif context is None or isinstance(context, Mapping):
            opts = dict(context or {})
            if "retriever" in opts:
                raise InvalidInput("context options must not name the retriever: it is kb")
            opts.setdefault("policy", policy)
            self._context_options = {k: v for k, v in opts.items() if k in _PLAIN_CONTEXT}
            try:
                self.builder = ContextBuilder(kb, **opts)
            except TypeError as e:
                raise InvalidInput(f"unknown ContextBuilder option: {e}") from e
        else:
            raise InvalidInput("context must be a covekit.ContextBuilder or a dict of its options")
        if redactor is not None and not isinstance(redactor, Redactor):
            raise InvalidInput(
                f"redactor must be a covekit.Redactor, not {type(redactor).__name__}"
            )
        self.redactor = redactor
        if router is not None and not isinstance(router, Router):
            raise InvalidInput(f"router must be a covekit.Router, not {type(router).__name__}")
        self.router = router
        if budget is None:
            budget = 3000
        if isinstance(budget, bool) or not isinstance(budget, int | Budget):
            raise InvalidInput("budget must be a number of prompt tokens or a covekit.Budget")
        if isinstance(budget, int) and budget < 1:
            raise InvalidInput(f"budget must be >= 1 prompt token, got {budget}")
        self.budget = budget
        if calibrator is not None and not isinstance(calibrator, Calibrator):
            raise InvalidInput(
                f"calibrator must be a covekit.Calibrator, not {type(calibrator).__name__}"
            )
        self.calibrator = calibrator or Calibrator()
        if not isinstance(system, str):
            raise InvalidInput("system must be a str")
        self.system = system
        if grounding_threshold is not None and not (
            isinstance(grounding_threshold, int | float) and 0 <= grounding_threshold <= 1
        ):
            raise InvalidInput("grounding_threshold must be a number in [0, 1] or None")
        self.grounding_threshold = grounding_threshold
        if grounder is not None and not callable(grounder):
            raise InvalidInput("grounder must be callable: (text, chunks, **kw) -> Grounding")
        self._grounder = grounder
        self.sinks: tuple[SpanSink, ...] = tuple(sinks)
        Tracer(sinks=self.sinks, content=content)  # checks them (InvalidInput)
        self.content = content if content is not None else ContentPolicy()

    def __repr__(self) -> str:
        return (
            f"<covekit.Pipeline model={self._model_name(self.model)!r} "
            f"contract={self.contract is not None} redactor={self.redactor is not None} "
            f"router={self.router is not None} calibrator={self.calibrator!r}>"
        )

    # ------------------------------------------------------------------ config
    @staticmethod
    def _model_name(model: Any) -> str:
        if isinstance(model, Mapping):
            return ",".join(f"{k}={Pipeline._model_name(v)}" for k, v in model.items())
        return str(getattr(model, "name", None) or getattr(model, "__name__", None) or "model")

    def config(self) -> dict[str, Any]:
        """The configuration that is plain data (what :meth:`save` writes beside the
        calibrator): the budget, system message, grounding threshold, the context
        builder's plain options, and the names of the parts that are not data."""
        budget: Any = self.budget
        if isinstance(self.budget, Budget):
            b = self.budget
            budget = {
                "max_tokens": b.max_tokens,
                "max_cost": b.max_cost,
                "max_prompt_tokens": b.max_prompt_tokens,
                "max_completion_tokens": b.max_completion_tokens,
                "model": b.model,
            }
        return {
            "budget": budget,
            "system": self.system,
            "grounding_threshold": self.grounding_threshold,
            "context": dict(self._context_options),
            "model": self._model_name(self.model),
            "contract": None if self.contract is None else self.contract.output_schema,
            "policy": self.policy is not None,
            "redactor": self.redactor is not None,
            "router": self.router is not None,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the plain configuration and the calibrator to ``path`` (JSON, atomic).

        >>> import covekit, tempfile, pathlib
        >>> kb = covekit.KnowledgeBase(covekit.Chunker("o200k_base", max_tokens=64))
        >>> p = covekit.Pipeline(kb, covekit.ScriptedModel(["x"]), budget=900)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     f = p.save(pathlib.Path(d) / "pipe.json")
        ...     covekit.Pipeline.load(f, kb, covekit.ScriptedModel(["x"])).budget
        900
        """
        data = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "config": self.config(),
            "calibrator": self.calibrator.to_dict(),
        }
        try:
            text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"the pipeline's configuration is not plain data: {e}") from e
        target = Path(path)
        atomic_write(target, text.encode("utf-8"))
        return target

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], kb: Any, model: Any = None, **parts: Any
    ) -> Pipeline:
        """A pipeline from :meth:`save`'s file, over ``kb`` and ``model`` (and the parts
        that are not data, as keyword arguments: ``contract``, ``policy``,
        ``redactor``, ``router``, ``grounder``; a ``budget`` or ``context`` given here
        wins over the saved one).

        Raises:
            InvalidInput: the file is not a saved pipeline, or is damaged.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InvalidInput(f"{path} is not a saved covekit pipeline: {e}") from e
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise InvalidInput(f"{path} is not a saved covekit pipeline (format != {_FORMAT!r})")
        if data.get("version") != _FORMAT_VERSION:
            raise InvalidInput(f"{path} has pipeline format version {data.get('version')!r}")
        cfg = data.get("config") or {}
        budget: Any = cfg.get("budget")
        if isinstance(budget, dict):
            budget = Budget(
                budget.get("max_tokens"),
                budget.get("max_cost"),
                max_prompt_tokens=budget.get("max_prompt_tokens"),
                max_completion_tokens=budget.get("max_completion_tokens"),
                model=budget.get("model"),
            )
        context: Any = parts.pop("context", None)
        if context is None:
            context = dict(cfg.get("context") or {})
            if parts.get("policy") is not None:
                context["policy"] = parts["policy"]
        return cls(
            kb,
            model,
            context=context,
            budget=parts.pop("budget", budget),
            calibrator=Calibrator.from_dict(data.get("calibrator") or {}),
            system=parts.pop("system", cfg.get("system", DEFAULT_SYSTEM)),
            grounding_threshold=parts.pop("grounding_threshold", cfg.get("grounding_threshold")),
            **parts,
        )

    # ------------------------------------------------------------------ calibration
    def fit_calibrator(self, answers: Sequence[Answer], labels: Sequence[int | bool]) -> Calibrator:
        """Fits the calibrator on answers (their signals) and whether each was right.
        Refused and escalated answers are left out (their confidence is 0).

        Raises:
            InvalidInput: lengths differ, or no answered example is left.
        """
        from covekit.execution.calibrate import features_matrix

        if len(answers) != len(labels):
            raise InvalidInput(f"{len(answers)} answers but {len(labels)} labels")
        pairs = [(a.signals, int(bool(y))) for a, y in zip(answers, labels, strict=True)
                 if a.outcome == "answered" and a.signals is not None]  # fmt: skip
        if not pairs:
            raise InvalidInput("no answered example to fit on")
        x = features_matrix([s for s, _ in pairs])
        self.calibrator.fit(x, [y for _, y in pairs])
        return self.calibrator

    # ------------------------------------------------------------------ answer
    def answer(
        self,
        question: str,
        *,
        principals: Sequence[str],
        filter: Filter | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        deadline: Deadline | float | None = None,
    ) -> Answer:
        """Answers ``question`` for ``principals`` (see the class and module docs).

        Refusals (no evidence, a policy block, the deadline, not enough support) and
        escalations (the contract escalated or ran out of steps) come back as an
        :class:`~covekit.Answer` with ``refused`` or ``escalated`` and the reason.

        Raises:
            InvalidInput: an empty or non-str question, missing principals, a bad
                history message, a bad deadline.
        """
        if not isinstance(question, str):
            raise InvalidInput(f"question must be a str, not {type(question).__name__}")
        if not question.strip():
            raise InvalidInput("question is empty; pass the user's request")
        if principals is None:
            raise InvalidInput(
                "principals is required: pass the caller's identities, e.g. ['user:42']; "
                "the pipeline never retrieves without them"
            )
        if isinstance(principals, str | bytes) or not isinstance(principals, Iterable):
            raise InvalidInput(
                f"principals must be a list such as ['user:42'], not {type(principals).__name__}"
            )
        if isinstance(deadline, int | float) and not isinstance(deadline, bool):
            deadline = Deadline(float(deadline))
        if deadline is None and isinstance(self.budget, Budget):
            deadline = self.budget.deadline
        if deadline is not None and not isinstance(deadline, Deadline):
            raise InvalidInput("deadline must be a covekit.Deadline, a number of seconds or None")
        hist = list(history or ())
        for m in hist:
            if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
                raise InvalidInput("history must be chat messages {'role': ..., 'content': str}")

        tracer = Tracer(sinks=self.sinks, content=self.content)
        with tracer.span("covekit.pipeline", {GEN_AI_OPERATION_NAME: "invoke_agent"}) as root:
            if tracer.records_content:
                root.set("covekit.question", question)
            answer = self._answer(tracer, root, question, list(principals), filter, hist, deadline)
            root.set("covekit.outcome", answer.outcome)
            root.set("covekit.confidence", answer.confidence)
            if answer.reason:
                root.set("covekit.reason", answer.reason)
            if tracer.records_content:
                root.set("covekit.answer", answer.text)
        return dataclasses.replace(answer, trace=tracer.trace(private=True))

    def _answer(
        self,
        tracer: Tracer,
        root: Span,
        question: str,
        principals: list[str],
        filter: Filter | None,
        history: list[Mapping[str, Any]],
        deadline: Deadline | None,
    ) -> Answer:
        san = _Sanitizer(self.redactor)

        # redact: the question and the user's earlier turns (their values may come back)
        with tracer.span("redact") as s:
            asked, counts = san.user(question)
            turns = []
            for turn in history:
                if turn.get("role") == "user":
                    text, more = san.user(str(turn["content"]))
                    for k, v in more.items():
                        counts[k] = counts.get(k, 0) + v
                else:
                    text = san.redact(str(turn["content"]))
                    if text != turn["content"]:
                        for k, v in san.redactor.redact(str(turn["content"])).counts.items():  # type: ignore[union-attr]
                            counts[k] = counts.get(k, 0) + v
                turns.append({**turn, "content": text})
            s.set("covekit.redaction.counts", counts)
            s.set("covekit.redaction.enabled", self.redactor is not None)

        # route
        route = None
        model = self.model
        if self.router is not None:
            with tracer.span("route") as s:
                route = self.router.route(asked)
                s.set("covekit.route.workflow", route.workflow)
                s.set("covekit.route.tier", route.tier)
                s.set("covekit.route.method", route.method)
                s.set("covekit.route.confidence", route.confidence)
        if isinstance(model, Mapping):
            tier = route.tier if route is not None else "default"
            if tier not in model and "default" not in model:
                return Answer(
                    "", escalated=True, route=route,
                    reason=f"no model for the route's tier {tier!r}",
                )  # fmt: skip
            model = model.get(tier, model.get("default"))

        # policy on the input
        if self.policy is not None:
            with tracer.span("policy.input") as s:
                verdict = self.policy.check_input(question)
                s.set("covekit.policy.action", verdict.action)
                s.set("covekit.policy.rules", list(verdict.rules))
            if not verdict.allowed:
                return Answer(
                    "", refused=True, route=route,
                    reason=f"the policy blocked the question ({', '.join(verdict.rules)})",
                )  # fmt: skip

        def expired(step: str) -> Answer | None:
            if deadline is not None and deadline.expired:
                root.event("deadline", {"step": step, "overrun_s": deadline.overrun()})
                return Answer(
                    "", refused=True, route=route,
                    reason=f"the deadline passed before {step}",
                )  # fmt: skip
            return None

        if (late := expired("retrieval")) is not None:
            return late

        # permitted retrieval and the context, within the budget
        with tracer.span("build_context", {GEN_AI_OPERATION_NAME: "retrieval"}) as s:
            ctx = self.builder.build(
                asked,
                principals=principals,
                budget=self.budget,
                system=self.system or None,
                history=turns,
                filter=filter,
                deadline=deadline,
            )
            m = ctx.manifest
            s.set("gen_ai.data_source.id", m.index_version)
            s.set("covekit.context.summary", m.summary())
            s.set("covekit.context.prompt_tokens", ctx.prompt_tokens)
            if tracer.records_content:
                s.set("covekit.retrieved.text", [self._chunk_text(ctx, n) for n in ctx.citations])
        if not ctx.citations and self.contract is None:
            return Answer("", refused=True, reason="no evidence the caller may see",
                          manifest=m, route=route)  # fmt: skip
        if (late := expired("the model call")) is not None:
            return Answer(late.text, refused=True, reason=late.reason, manifest=m, route=route)

        # the model, through the contract
        response_format = None
        if (
            self.contract is not None
            and self.contract.output_schema is not None
            and isinstance(model, ModelBase)
        ):
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": "answer",
                    "schema": self.contract.for_provider("openai-strict"),
                    "strict": True,
                },
            }
        call = _Call(model, response_format, deadline)
        # the model sees no PII either: the evidence is redacted with the request's vault
        # (the manifest's token counts are those of the prompt before this step)
        messages = [
            {**msg, "content": san.redact(msg["content"])}
            if isinstance(msg.get("content"), str)
            else msg
            for msg in ctx.messages
        ]
        value: Any = None
        text = ""
        failed: Answer | None = None
        with tracer.span(f"chat {call.name}", {GEN_AI_OPERATION_NAME: "chat",
                                               GEN_AI_REQUEST_MODEL: call.name}) as s:  # fmt: skip
            if tracer.records_content:
                s.set(GEN_AI_INPUT_MESSAGES, messages)
            try:
                if self.contract is None:
                    text = call(messages).text
                else:
                    enforced = self.contract.enforce(call, messages, context=ctx.evidence)
                    s.set("covekit.verdicts", _verdicts(enforced.attempts))
                    if enforced.refused or enforced.escalated:
                        why = (
                            "no evidence the caller may see"
                            if enforced.reason == "missing_context"
                            else f"the contract escalated ({enforced.reason} violations)"
                        )
                        failed = Answer("", refused=enforced.refused,
                                        escalated=enforced.escalated, reason=why)  # fmt: skip
                    else:
                        value = enforced.value
                        text = self._text_of(value, enforced.attempts[-1].text)
            except ContractError as e:
                failed = Answer(
                    "", escalated=True,
                    reason="the contract ran out of steps: " + str(e).splitlines()[0],
                )  # fmt: skip
                s.set("covekit.verdicts", _verdicts(e.attempts))
            except DeadlineExceeded as e:
                failed = Answer("", refused=True, reason=f"the deadline passed ({e})")
            except InvalidInput:
                raise
            except Exception as e:  # the model is an unreliable collaborator: an outcome
                why = san.redact(str(e).splitlines()[0][:200] if str(e) else "")
                failed = Answer(
                    "", escalated=True,
                    reason=f"the model failed: {type(e).__name__}" + (f": {why}" if why else ""),
                )  # fmt: skip
            finally:
                self._usage(s, call.replies)
                if tracer.records_content and call.replies:
                    said = [{"role": "assistant", "content": r.text} for r in call.replies]
                    s.set(GEN_AI_OUTPUT_MESSAGES, said)
        if failed is not None:
            return Answer(
                failed.text, refused=failed.refused, escalated=failed.escalated,
                reason=failed.reason, manifest=m, route=route,
            )  # fmt: skip
        if not text.strip() and value is None:
            return Answer("", escalated=True, reason="the model returned an empty answer",
                          manifest=m, route=route)  # fmt: skip
        declined = bool(call.replies) and call.replies[-1].finish_reason == "refusal"
        if declined or _REFUSAL.match(text) or _refused_value(value):
            return Answer(san.shown(text), value=san.value(value), refused=True,
                          reason="not enough evidence", manifest=m, route=route)  # fmt: skip

        # grounding against the cited chunks, the citations, the confidence
        with tracer.span("ground") as s:
            shown_text = san.shown(text)
            cited = _markers_in(shown_text)
            for c in _value_markers(value):
                if c not in cited:
                    cited.append(c)
            known = [n for n in cited if n in ctx.citations]
            dangling = [n for n in cited if n not in ctx.citations]
            raw = {n: self._chunk_text(ctx, n) for n in known}
            chunks = {n: san.shown(t) for n, t in raw.items()}
            grounding = self._ground(shown_text, chunks)
            citations = self._citations(ctx, known, chunks, raw, grounding)
            s.set("covekit.grounding.score", float(getattr(grounding, "score", 0.0) or 0.0))
            s.set("covekit.grounding.unsupported", len(getattr(grounding, "unsupported", ()) or ()))
            s.set("covekit.grounding.dangling_markers", dangling)

        if self.policy is not None:
            with tracer.span("policy.output") as s:
                verdict = self.policy.check_output(value if value is not None else text)
                s.set("covekit.policy.action", verdict.action)
                s.set("covekit.policy.rules", list(verdict.rules))
            if not verdict.allowed:
                why = f"the policy blocked the answer ({', '.join(verdict.rules)})"
                return Answer("", refused=True, reason=why, manifest=m, route=route)

        with tracer.span("confidence") as s:
            coverage = self._coverage(asked, chunks)
            signals = self._signals(ctx, known, grounding, dangling, coverage)
            features = signals.features()
            dims = self.calibrator.dims
            if dims and dims < features.size:  # fitted on an earlier, shorter FEATURES
                features = features[:dims]
            conf = float(self.calibrator.predict(features[None, :])[0])
            conf = 0.0 if not math.isfinite(conf) else min(1.0, max(0.0, conf))
            low = self.calibrator.low_score
            reasons = signals.reasons(low_score=low)
            if dangling:
                reasons.append(
                    "cites sources that are not in the context: "
                    + ", ".join(f"[{n}]" for n in dangling)
                )
            s.set("covekit.confidence", conf)
            s.set("covekit.reasons", reasons)
        return Answer(
            shown_text,
            value=san.value(value),
            citations=citations,
            grounding=grounding,
            confidence=conf,
            reasons=tuple(reasons),
            signals=signals,
            manifest=m,
            route=route,
        )

    # ------------------------------------------------------------------ parts
    @staticmethod
    def _text_of(value: Any, raw: str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            for key in ("answer", "text"):
                if isinstance(value.get(key), str):
                    return str(value[key])
        return raw

    @staticmethod
    def _usage(span: Span, replies: list[ModelReply]) -> None:
        if not replies:
            return
        span.set(GEN_AI_USAGE_INPUT_TOKENS, sum(r.prompt_tokens or 0 for r in replies))
        span.set(GEN_AI_USAGE_OUTPUT_TOKENS, sum(r.completion_tokens or 0 for r in replies))
        cached = sum(r.cached_prompt_tokens or 0 for r in replies)
        span.set(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, cached)
        span.set("covekit.usage.cached_input_tokens", cached)
        span.set("covekit.cost_usd", sum(r.cost or 0.0 for r in replies))
        span.set("covekit.attempts", len(replies))
        span.set("covekit.cache_hits", sum(1 for r in replies if r.cache_hit))
        last = replies[-1]
        if last.model:
            span.set(GEN_AI_RESPONSE_MODEL, last.model)
        reasons = [r.finish_reason for r in replies if r.finish_reason]
        if reasons:
            span.set(GEN_AI_RESPONSE_FINISH_REASONS, reasons)
        fallbacks = [f for r in replies for f in r.fallbacks]
        if fallbacks:
            span.set("covekit.fallbacks", fallbacks)

    def _chunk_text(self, ctx: Context, marker: int) -> str:
        """The text of a cited chunk as the context showed it."""
        cit = ctx.citations[marker]
        getter = getattr(self.kb, "chunk", None)
        if not callable(getter):
            return ""
        try:
            chunk = getter(cit.chunk_id)
        except KeyError:  # removed by a concurrent write
            return ""
        text = str(getattr(chunk, "text", ""))
        return text[: max(0, cit.end - cit.start)] if cit.truncated else text

    def _ground(self, text: str, chunks: dict[int, str]) -> Any:
        grounder = self._grounder
        if grounder is None:
            from covekit.execution.grounding import ground

            grounder = ground
        kw = {} if self.grounding_threshold is None else {"threshold": self.grounding_threshold}
        return grounder(text, chunks, **kw)

    @staticmethod
    def _citations(
        ctx: Context,
        known: list[int],
        chunks: dict[int, str],
        raw: dict[int, str],
        grounding: Any,
    ) -> tuple[AnswerCitation, ...]:
        """One citation per cited marker; the quote is the chunk's span that an answer
        sentence citing it repeats verbatim (else the chunk's shown text), with its
        offsets into the document (the chunk's when the quote holds a redacted value)."""
        sentences = list(getattr(grounding, "sentences", ()) or ())
        out = []
        for n in known:
            cit = ctx.citations[n]
            chunk = chunks.get(n, "")
            quote, start, end = chunk, cit.start, cit.end
            for s in sentences:
                span = getattr(s, "source_span", None)
                if getattr(s, "source", None) == n and span is not None:
                    a, b = int(span[0]), int(span[1])
                    if 0 <= a < b <= len(chunk):
                        quote = chunk[a:b]
                        k = a if raw.get(n) == chunk else raw.get(n, "").find(quote)
                        if k >= 0:
                            start, end = cit.start + k, cit.start + k + len(quote)
                        break
                if n not in (getattr(s, "markers", ()) or ()):
                    continue
                said = _MARKERS.sub("", str(getattr(s, "text", ""))).strip().rstrip(".").strip()
                i = chunk.find(said) if len(said) >= 8 else -1
                if i >= 0:
                    j = i + len(said)
                    while j < len(chunk) and chunk[j] in ".!?":
                        j += 1
                    quote = chunk[i:j]
                    k = raw.get(n, "").find(quote)
                    if k >= 0:  # the same text in the chunk as stored: exact offsets
                        start, end = cit.start + k, cit.start + k + len(quote)
                    break
            out.append(AnswerCitation(n, cit.doc_id, cit.chunk_id, cit.doc_version,
                                      start, end, quote))  # fmt: skip
        return tuple(out)

    def _coverage(self, question: str, chunks: dict[int, str]) -> float:
        """How much of the question the cited chunks cover: the question's grounding
        score against them (the share of its terms and term pairs they hold)."""
        passages = {n: t for n, t in chunks.items() if t}
        if not passages:
            return 0.0
        try:
            g = self._ground(_MARKERS.sub("", question), passages)
        except InvalidInput:
            return 0.0
        return float(getattr(g, "score", 0.0) or 0.0)

    @staticmethod
    def _signals(
        ctx: Context, known: list[int], grounding: Any, dangling: list[int], coverage: float
    ) -> ConfidenceSignals:
        cands = ctx.manifest.candidates
        scores = sorted((c.score for c in cands), reverse=True)
        cited = [c for c in cands if c.kept and c.marker in known]
        kept = sorted((c for c in cands if c.kept), key=lambda c: c.rank)
        sentences = list(getattr(grounding, "sentences", ()) or ())
        unsupported = list(getattr(grounding, "unsupported", ()) or ())
        stale_best = bool(kept) and any(f in ("stale", "superseded") for f in kept[0].flags)
        # how far the cited evidence stands out among all the candidates
        docs = {ctx.citations[n].doc_id for n in known}
        cited_ids = {c.chunk_id for c in cited}
        lexical: list[float] = []
        semantic: list[float] = []
        cited_lexical = cited_semantic = -math.inf
        agreement = doc_rank = 0
        per_doc: dict[str, int] = {}
        for c in cands:
            lex, lex_rank = _signal(c, "bm25")
            sem, sem_rank = _signal(c, "vector")
            lexical.append(lex)
            semantic.append(sem)
            if c.chunk_id in cited_ids:
                cited_lexical = max(cited_lexical, lex)
                cited_semantic = max(cited_semantic, sem)
                if lex_rank and sem_rank:  # both searches found it: the worse rank
                    worse = max(lex_rank, sem_rank)
                    agreement = worse if agreement == 0 else min(agreement, worse)
            if c.doc_id in docs:
                per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
                doc_rank = c.rank if doc_rank == 0 else min(doc_rank, c.rank)
        if not cited:
            cited_lexical = cited_semantic = 0.0
        return ConfidenceSignals(
            best_score=float(scores[0]) if scores else 0.0,
            second_score=float(scores[1]) if len(scores) > 1 else 0.0,
            cited_score=max((float(c.score) for c in cited), default=0.0),
            cited_rank=min((c.rank for c in cited), default=0),
            sources=len(docs),
            conflicts=len(ctx.conflicts),
            stale=stale_best,
            grounding=float(getattr(grounding, "score", 0.0) or 0.0),
            unsupported=len(unsupported) / len(sentences) if sentences else 0.0,
            dangling=len(dangling),
            coverage=coverage,
            lexical_score=cited_lexical,
            semantic_score=cited_semantic,
            lexical_z=_standout(lexical, cited_lexical) if cited else 0.0,
            semantic_z=_standout(semantic, cited_semantic) if cited else 0.0,
            agreement_rank=agreement,
            document_rank=doc_rank,
            document_chunks=max(per_doc.values(), default=0),
        )

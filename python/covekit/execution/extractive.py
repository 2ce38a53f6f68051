"""The extractive answerer: covekit's deterministic model, which answers from the
context only.

:class:`ExtractiveModel` reads the question (the last user message) and the evidence
blocks (``[n] title`` then the passage, as :class:`covekit.ContextBuilder` renders
them; a one-line ``[n] text`` block is its own passage) from the messages, scores every
sentence of the evidence against the question in C++ (BM25 over the sentences plus the
share of the question's terms each covers: see :mod:`covekit.execution.grounding`),
and answers with the best sentences verbatim, each followed by its marker
(``"Refunds take 5 days [1]."``). When the best sentence covers less than
``min_support`` of the question's terms it refuses: the text is ``refusal`` and
``finish_reason`` is ``"refusal"``.

>>> import covekit
>>> model = covekit.ExtractiveModel()
>>> messages = [{"role": "user", "content": "Sources:\\n\\n[1] refunds.md\\nRefunds take 5 days. "
...              "Gift cards are final.\\n\\n[2] office.md\\nOur office is in Berlin."},
...             {"role": "user", "content": "How long do refunds take?"}]
>>> reply = model.complete(messages)
>>> reply.text, reply.finish_reason
('Refunds take 5 days [1].', 'stop')
>>> model.complete(messages[:1] + [{"role": "user", "content": "Who won the cup?"}]).finish_reason
'refusal'

Thread safety: immutable; ``complete`` may run from many threads at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from covekit._core import Grounder as _Grounder
from covekit.errors import InvalidInput
from covekit.execution.grounding import _blocks, _content, _evidence
from covekit.execution.model import ModelBase
from covekit.execution.verdict import Message, ModelReply

if TYPE_CHECKING:
    from covekit.data.tokenize import Tokenizer
    from covekit.decision.deadline import Deadline

__all__ = ["ExtractiveModel"]

#: What finish_reason says when the model refuses.
REFUSAL = "refusal"

_TERMINAL = ".!?\u2026\u3002\uff01\uff1f\uff61"  # ellipsis, ideographic and fullwidth stops
_ANSWER_NAMES = (
    "answer",
    "text",
    "response",
    "reply",
    "content",
    "output",
    "result",
    "summary",
    "message",
)
_CITATION_NAMES = (
    "citations",
    "sources",
    "references",
    "refs",
    "markers",
    "evidence",
    "cited",
    "ids",
)
_REFUSED_NAMES = (
    "refused",
    "refusal",
    "refuse",
    "insufficient_evidence",
    "not_enough_evidence",
    "cannot_answer",
    "abstain",
    "unanswerable",
)
# Markdown heading lines at the start of a sentence ("## Refunds")
_HEADINGS = re.compile(r"\A(?:[ \t]*#{1,6}[ \t][^\n]*(?:\n|\Z)[ \t\n]*)+")
_MARKER_FIELDS = ("marker", "id", "citation", "source", "index", "ref", "n", "number")
_QUOTE_FIELDS = ("quote", "text", "span", "excerpt", "snippet", "sentence")
_SCORE_NAMES = ("confidence", "support", "score")


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class ExtractiveModel(ModelBase):
    """Answers from the evidence in the messages with its best sentences, verbatim and
    cited; refuses below ``min_support`` (see the module docs).

    Args:
        max_sentences: at most this many sentences in an answer (>= 1).
        min_support: the least share of the question's content terms the best sentence
            must cover, in [0, 1]; below it the model refuses. Further sentences need it
            too, and a score of at least ``relative_cutoff`` times the best one's.
        refusal: the text of a refusal.
        relative_cutoff: see ``min_support``, in [0, 1].
        overlap_weight: the weight of term coverage against (normalized) BM25 in the
            sentence score, in [0, 1].
        tokenizer: a :class:`covekit.Tokenizer` or encoding name to count the usage
            with; None (the default) reports no usage.

    Markdown heading lines at the start of a sentence are left out (a title is not a
    claim). Sentences that hold marker-like text (``[12]``) or unbalanced quote marks are
    skipped, so that every marker of an answer is one of the context's and every quote
    in it is verbatim. Ties between equal scores go to the earlier sentence.

    With ``response_format={"type": "json_schema", "json_schema": {"schema": ...}}`` the
    reply is JSON for that schema: the answer goes into the string property named like
    an answer (``answer``, ``text``, ``response``...; else the first string property),
    the markers into the array named like citations (``citations``, ``sources``...: of
    integers, of strings, or of objects with a ``marker``/``id`` field and a ``quote``
    field), a boolean named like a refusal (``refused``, ``insufficient_evidence``...)
    says whether it refused, a number named ``confidence``/``support``/``score`` gets
    the best support; other required properties get neutral values (null when allowed,
    else the first enum value, "", 0, false, [] or an object filled the same way).
    ``{"type": "json_object"}`` gives ``{"answer": ..., "citations": [...]}``.

    >>> import covekit, json
    >>> schema = {"type": "object", "properties": {"answer": {"type": "string"},
    ...           "citations": {"type": "array", "items": {"type": "integer"}}},
    ...           "required": ["answer", "citations"]}
    >>> messages = [{"role": "user", "content": "[1] Refunds take 5 days."},
    ...             {"role": "user", "content": "How long do refunds take?"}]
    >>> reply = covekit.ExtractiveModel().complete(
    ...     messages, response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    >>> json.loads(reply.text)
    {'answer': 'Refunds take 5 days [1].', 'citations': [1]}
    """

    name = "extractive"

    def __init__(
        self,
        *,
        max_sentences: int = 3,
        min_support: float = 0.3,
        refusal: str = "not enough evidence",
        relative_cutoff: float = 0.5,
        overlap_weight: float = 0.5,
        tokenizer: Tokenizer | str | None = None,
    ) -> None:
        if (
            isinstance(max_sentences, bool)
            or not isinstance(max_sentences, int)
            or max_sentences < 1
        ):
            raise InvalidInput(f"max_sentences must be an int >= 1, got {max_sentences!r}")
        if not isinstance(refusal, str) or not refusal.strip():
            raise InvalidInput(f"refusal must be a non-empty str, got {refusal!r}")
        self.max_sentences = max_sentences
        self.min_support = _number(min_support, "min_support", 0.0, 1.0)
        self.relative_cutoff = _number(relative_cutoff, "relative_cutoff", 0.0, 1.0)
        self.overlap_weight = _number(overlap_weight, "overlap_weight", 0.0, 1.0)
        self.refusal = refusal
        self._grounder = _Grounder(overlap_weight=self.overlap_weight)
        self._tokenizer: Tokenizer | None = None
        if tokenizer is not None:
            from covekit.data.tokenize import Tokenizer as _Tok
            from covekit.data.tokenize import get_tokenizer

            if isinstance(tokenizer, str):
                self._tokenizer = get_tokenizer(tokenizer)
            elif isinstance(tokenizer, _Tok):
                self._tokenizer = tokenizer
            else:
                raise InvalidInput(
                    f"tokenizer must be a covekit.Tokenizer or an encoding name, not {tokenizer!r}"
                )

    def identity(self) -> dict[str, Any]:
        """The class, name and every option that changes the text (for cache keys).

        >>> ExtractiveModel(max_sentences=2).identity()["max_sentences"]
        2
        """
        return {
            **super().identity(),
            "version": 1,
            "max_sentences": self.max_sentences,
            "min_support": self.min_support,
            "refusal": self.refusal,
            "relative_cutoff": self.relative_cutoff,
            "overlap_weight": self.overlap_weight,
            "tokenizer": None if self._tokenizer is None else self._tokenizer.name,
        }

    def __repr__(self) -> str:
        return (
            f"ExtractiveModel(max_sentences={self.max_sentences}, min_support={self.min_support}, "
            f"refusal={self.refusal!r})"
        )

    # ------------------------------------------------------------------ answering
    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        deadline: Deadline | None = None,
        sample: int = 0,
    ) -> ModelReply:
        """The extractive answer to ``messages`` (tools, temperature, seed and sample
        change nothing: the answer is deterministic).

        Raises:
            InvalidInput: ``messages`` is not a list of messages or has no user message,
                or ``response_format`` is not one this model can fill.
            DeadlineExceeded: ``deadline`` has passed.
        """
        if deadline is not None:
            deadline.check("extractive answer")
        question, passages = self._read(messages)
        mode, schema = self._format(response_format)
        sentences, best = self._select(question, passages)
        refused = not sentences
        finish = REFUSAL if refused else "stop"
        answer = self.refusal if refused else self._compose(sentences)
        if not refused and max_tokens is not None and self._tokenizer is not None:
            answer, finish = self._fit(sentences, answer, max_tokens)
        if stop:
            cut = min((i for i in (answer.find(s) for s in stop if s) if i >= 0), default=-1)
            if cut >= 0:
                answer = answer[:cut]
        markers: list[int] = []
        for _, marker in sentences:
            if marker not in markers:
                markers.append(marker)
        if mode == "text":
            text = answer
        else:
            value = (
                {"answer": answer, "citations": markers}
                if schema is None
                else _Filler(schema, answer, markers, sentences, refused, best).value()
            )
            text = json.dumps(value, ensure_ascii=False)
        prompt = completion = None
        if self._tokenizer is not None:
            from covekit.decision.chat_format import count_chat_tokens

            prompt = count_chat_tokens(messages, tokenizer=self._tokenizer)
            completion = self._tokenizer.count(text, disallowed_special=())
        return ModelReply(
            text,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=0.0,
            finish_reason=finish,
            model=self.name,
        )

    def _read(self, messages: Sequence[Message]) -> tuple[str, dict[int, str]]:
        if isinstance(messages, Mapping | str) or not isinstance(messages, Sequence):
            raise InvalidInput("messages must be a list of {'role', 'content'} messages")
        for i, m in enumerate(messages):
            if not isinstance(m, Mapping) or "role" not in m:
                raise InvalidInput(
                    f"messages[{i}] must be a message {{'role', 'content'}}, got {m!r:.80}"
                )
        last = next(
            (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None
        )
        if last is None:
            raise InvalidInput(
                "no user message: ExtractiveModel answers the last user message's question"
            )
        text = _content(messages[last])
        passages = _evidence(messages, skip=last)
        blocks = _blocks(text)
        if blocks:  # evidence and question in one message: the question comes first
            for marker, _, start, end in blocks:
                passages[marker] = text[start:end]
            question = text[: blocks[0][1]].strip()
        else:
            question = text
        return question, passages

    @staticmethod
    def _format(response_format: Mapping[str, Any] | None) -> tuple[str, Any]:
        if response_format is None:
            return "text", None
        if not isinstance(response_format, Mapping):
            raise InvalidInput(
                f"response_format must be a mapping, not {type(response_format).__name__}"
            )
        kind = response_format.get("type")
        if kind == "text":
            return "text", None
        if kind == "json_object":
            return "json", None
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            if not isinstance(schema, Mapping | bool):
                raise InvalidInput(
                    "response_format json_schema needs {'json_schema': {'schema': {...}}}, got "
                    f"{response_format!r:.120}"
                )
            return "json", schema
        raise InvalidInput(
            f"response_format type must be 'text', 'json_object' or 'json_schema', got {kind!r}"
        )

    def _select(
        self, question: str, passages: Mapping[int, str]
    ) -> tuple[list[tuple[str, int]], float]:
        """The chosen (sentence, marker) pairs, best first, and the best support."""
        markers = list(passages)
        bodies = [passages[m] for m in markers]
        if not bodies:
            return [], 0.0
        ranked = self._grounder.rank(question, bodies)
        chosen: list[tuple[str, int]] = []
        best_score = None
        best_overlap = 0.0
        for p, s, e, score, _bm25, overlap, terms in ranked:
            if best_score is not None and score < self.relative_cutoff * best_score:
                break
            if overlap < self.min_support or terms == 0:
                continue
            sentence = _HEADINGS.sub("", bodies[p][s:e])  # a heading is a title, not a claim
            if (
                not sentence.strip()
                or not self._usable(sentence)
                or any(sentence == c for c, _ in chosen)
            ):
                continue
            if best_score is None:
                best_score, best_overlap = score, overlap
            chosen.append((sentence, markers[p]))
            if len(chosen) == self.max_sentences:
                break
        return chosen, best_overlap

    def _usable(self, sentence: str) -> bool:
        if self._grounder.markers(sentence):
            return False
        if sentence.count('"') % 2:
            return False
        return sentence.count("\u201c") == sentence.count("\u201d")

    def _cited(self, sentence: str, marker: int) -> str:
        tag = f" [{marker}]"
        if sentence and sentence[-1] in _TERMINAL:
            i = len(sentence)
            while i > 0 and sentence[i - 1] in _TERMINAL:
                i -= 1
            if i > 0:
                return sentence[:i] + tag + sentence[i:]
        return sentence + tag

    def _compose(self, sentences: Sequence[tuple[str, int]]) -> str:
        parts = [self._cited(s, m) for s, m in sentences]
        text = " ".join(parts)
        if len(parts) > 1 and len(self._grounder.sentences(text)) != len(parts):
            text = "\n\n".join(parts)  # a blank line always ends a sentence
        return text

    def _fit(
        self, sentences: Sequence[tuple[str, int]], answer: str, max_tokens: int
    ) -> tuple[str, str]:
        tok = self._tokenizer
        assert tok is not None
        if tok.count(answer, disallowed_special=()) <= max_tokens:
            return answer, "stop"
        for n in range(len(sentences) - 1, 0, -1):
            shorter = self._compose(sentences[:n])
            if tok.count(shorter, disallowed_special=()) <= max_tokens:
                return shorter, "stop"
        return tok.truncate(
            self._compose(sentences[:1]), max(0, max_tokens), disallowed_special=()
        ), "length"


class _Filler:
    """Fills a JSON Schema with the answer (see ExtractiveModel)."""

    def __init__(
        self,
        schema: Any,
        answer: str,
        markers: list[int],
        sentences: Sequence[tuple[str, int]],
        refused: bool,
        support: float,
    ) -> None:
        self.root = schema
        self.answer = answer
        self.markers = markers
        self.sentences = sentences
        self.refused = refused
        self.support = support

    def value(self) -> Any:
        schema = self._resolve(self.root)
        if self._types(schema) & {"object"} or "properties" in schema:
            return self._object(schema, top=True)
        if "string" in self._types(schema):
            return self.answer
        return self._neutral(schema)

    def _resolve(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#") and depth < 32:
            node: Any = self.root
            for part in ref[1:].split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                node = node.get(part) if isinstance(node, Mapping) else None
            return self._resolve(node, depth + 1)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                non_null = [
                    o for o in options if "null" not in self._types(self._resolve(o, depth + 1))
                ]
                picked = self._resolve((non_null or options)[0], depth + 1)
                merged = {k: v for k, v in schema.items() if k != key}
                merged.update(picked)
                if len(non_null) < len(options):
                    merged["_nullable"] = True
                return merged
        return dict(schema)

    @staticmethod
    def _types(schema: Mapping[str, Any]) -> set[str]:
        t = schema.get("type")
        if isinstance(t, str):
            return {t}
        if isinstance(t, list):
            return {x for x in t if isinstance(x, str)}
        if "properties" in schema:
            return {"object"}
        if "items" in schema:
            return {"array"}
        return set()

    @staticmethod
    def _named(name: str, names: Sequence[str]) -> bool:
        key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        return key in names

    def _object(self, schema: Mapping[str, Any], top: bool = False) -> dict[str, Any]:
        props = schema.get("properties") or {}
        required = [r for r in schema.get("required") or [] if isinstance(r, str)]
        resolved = {k: self._resolve(v) for k, v in props.items()}
        answer_key = next(
            (
                k
                for k in resolved
                if "string" in self._types(resolved[k]) and self._named(k, _ANSWER_NAMES)
            ),
            None,
        )
        if answer_key is None and top:
            answer_key = next((k for k in resolved if "string" in self._types(resolved[k])), None)
        out: dict[str, Any] = {}
        for key, sub in resolved.items():
            types = self._types(sub)
            if key == answer_key:
                out[key] = self.answer
            elif "array" in types and self._named(key, _CITATION_NAMES):
                out[key] = self._citations(self._resolve(sub.get("items")))
            elif "boolean" in types and self._named(key, _REFUSED_NAMES):
                out[key] = self.refused
            elif (
                types & {"number", "integer"}
                and self._named(key, _SCORE_NAMES)
                and "number" in types
            ):
                out[key] = round(self.support, 6)
            elif key in required:
                out[key] = self._neutral(sub)
        return out

    def _citations(self, items: Mapping[str, Any]) -> list[Any]:
        types = self._types(items)
        if "integer" in types or "number" in types:
            return list(self.markers)
        if "object" in types:
            quote_of: dict[int, str] = {}
            for sentence, marker in self.sentences:
                quote_of.setdefault(marker, sentence)
            out = []
            for m in self.markers:
                obj: dict[str, Any] = {}
                props = {k: self._resolve(v) for k, v in (items.get("properties") or {}).items()}
                required = set(items.get("required") or [])
                marker_key = next((k for k in props if self._named(k, _MARKER_FIELDS)), None)
                quote_key = next(
                    (k for k in props if k != marker_key and self._named(k, _QUOTE_FIELDS)), None
                )
                for key, sub in props.items():
                    t = self._types(sub)
                    if key == marker_key:
                        obj[key] = m if t & {"integer", "number"} or not t else str(m)
                    elif key == quote_key:
                        obj[key] = quote_of.get(m, "")
                    elif key in required:
                        obj[key] = self._neutral(sub)
                out.append(obj)
            return out
        return [str(m) for m in self.markers]

    def _neutral(self, schema: Mapping[str, Any], depth: int = 0) -> Any:
        types = self._types(schema)
        if "const" in schema:
            return schema["const"]
        if "null" in types or schema.get("_nullable"):
            return None
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[0]
        if "string" in types:
            return ""
        if "integer" in types or "number" in types:
            low = schema.get("minimum", schema.get("exclusiveMinimum"))
            return low if isinstance(low, int | float) and not isinstance(low, bool) else 0
        if "boolean" in types:
            return False
        if "array" in types:
            return []
        if "object" in types and depth < 16:
            return {
                k: self._neutral(self._resolve(v), depth + 1)
                for k, v in (schema.get("properties") or {}).items()
                if k in (schema.get("required") or [])
            }
        return None

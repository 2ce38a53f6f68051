"""Output schemas downgraded to what a provider's strict structured-output mode accepts.

>>> from covekit.execution.providers import strict_schema
>>> out = strict_schema({"type": "object", "properties": {"n": {"minimum": 1, "type": "integer"}}},
...                     "openai-strict")
>>> out["properties"], out["required"], out["additionalProperties"]
({'n': {'type': ['integer', 'null']}}, ['n'], False)
"""

from __future__ import annotations

from typing import Any, Literal

from covekit.errors import InvalidInput

__all__ = ["PROVIDERS", "strict_schema"]

PROVIDERS = ("openai-strict",)


def strict_schema(schema: Any, provider: Literal["openai-strict"]) -> dict[str, Any]:
    """``schema`` (a dict) rewritten for ``provider``; see ``Contract.for_provider``."""
    if provider not in PROVIDERS:
        known = ", ".join(repr(p) for p in PROVIDERS)
        raise InvalidInput(f"unknown provider {provider!r}; known: {known}")
    out: dict[str, Any] = _openai_strict(schema, "")
    return out


# Keywords OpenAI's strict structured outputs reject (its documented subset keeps type,
# properties, required, additionalProperties, items, enum, const, anyOf, $ref, $defs,
# description and title).
_OPENAI_DROPPED = frozenset(
    {
        "pattern", "format", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "contains",
        "minContains", "maxContains", "minProperties", "maxProperties", "patternProperties",
        "propertyNames", "unevaluatedProperties", "unevaluatedItems", "dependentRequired",
        "dependentSchemas", "if", "then", "else", "not", "default", "examples", "$schema", "$id",
        "$anchor", "$comment", "readOnly", "writeOnly", "deprecated", "contentEncoding",
        "contentMediaType",
    }
)  # fmt: skip


def _openai_strict(schema: Any, where: str) -> Any:
    if isinstance(schema, bool):
        if schema:
            raise InvalidInput(
                f"schema at {where or '/'} is `true` (anything); strict mode needs a definite type"
            )
        raise InvalidInput(f"schema at {where or '/'} is `false`; strict mode cannot express it")
    if not isinstance(schema, dict):
        raise InvalidInput(f"schema at {where or '/'} is not an object")
    out: dict[str, Any] = {}
    for key, sub in schema.items():
        if key in _OPENAI_DROPPED:
            continue
        if key == "properties":
            out[key] = {k: _openai_strict(v, f"{where}/properties/{k}") for k, v in sub.items()}
        elif key in ("$defs", "definitions"):
            out[key] = {k: _openai_strict(v, f"{where}/{key}/{k}") for k, v in sub.items()}
        elif key == "items" and isinstance(sub, dict):
            out[key] = _openai_strict(sub, f"{where}/items")
        elif key == "prefixItems":
            raise InvalidInput(f"{where}/prefixItems: strict mode has no tuple schemas")
        elif key in ("anyOf", "oneOf"):
            out["anyOf"] = [_openai_strict(s, f"{where}/{key}/{i}") for i, s in enumerate(sub)]
        elif key == "allOf":
            if len(sub) != 1:
                raise InvalidInput(
                    f"{where}/allOf: strict mode has no allOf; merge the schemas first"
                )
            for k, v in _openai_strict(sub[0], f"{where}/allOf/0").items():
                out.setdefault(k, v)
        elif key == "additionalProperties":
            continue  # set below for every object
        else:
            out[key] = sub
    is_object = out.get("type") == "object" or "properties" in out
    if is_object:
        props = out.setdefault("properties", {})
        required = list(schema.get("required", []))
        for name, sub in props.items():
            if name not in required:
                props[name] = _nullable(sub)
                required.append(name)
        out["required"] = required
        out["additionalProperties"] = False
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    t = schema.get("type")
    if isinstance(t, str):
        return {**schema, "type": [t, "null"]} if t != "null" else schema
    if isinstance(t, list):
        return schema if "null" in t else {**schema, "type": [*t, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}

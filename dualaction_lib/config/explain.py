"""A pydantic validation error as one line: the dotted key, the value, what is allowed (read from the
schema) and, for a typo, the closest key or value."""

from __future__ import annotations

import difflib
from typing import Any

from dualaction_lib.config.schema import Config

_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number")
_TYPE_NAMES = {
    "number": "float",
    "integer": "int",
    "boolean": "bool",
    "array": "a list",
    "object": "a mapping",
}


def explain(error: Any) -> str:
    """One entry of ``ValidationError.errors()`` as ``key: problem``."""
    loc, value, kind = error["loc"], error["input"], error["type"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if kind == "value_error":  # a rule between fields: its message names the key
        return str(error["ctx"]["error"])
    if kind == "extra_forbidden":
        return f"{key}: unknown config key{_close(loc[-1], _schema_at(loc[:-1]).get('properties', {}))}"
    node = _schema_at(loc)
    if kind == "literal_error":
        return f"{key}: {value!r} is not one of {node['enum']}{_close(value, node['enum'])}"
    if kind in _RANGE_ERRORS:
        option = ".".join(p for p in loc if isinstance(p, str))
        return f"{key}: {value} is out of range; expected {_bounds(node)} (set it with --{option} VALUE)"
    if "properties" in node:
        return f"{key}: expected a section (mapping), got {value!r}"
    return f"{key}: expected {_TYPE_NAMES.get(node.get('type'), 'str')}, got {value!r}"


def _schema_at(loc: tuple) -> dict[str, Any]:
    """The JSON schema of the field at ``loc`` (an integer part: a tuple's item)."""
    schema = Config.model_json_schema()

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in node:
            return schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        options = [n for n in node.get("anyOf", ()) if n.get("type") != "null"]
        return resolve(options[0]) if options else node

    node = schema
    for part in loc:
        node = resolve(node)
        node = node.get("items", {}) if isinstance(part, int) else node.get("properties", {}).get(part, {})
    return resolve(node)


def _bounds(node: dict[str, Any]) -> str:
    """'an integer >= 1', 'a number in [0, 1)' from the field's JSON schema limits."""
    kind = "an integer" if node.get("type") == "integer" else "a number"
    lo_open, hi_open = "exclusiveMinimum" in node, "exclusiveMaximum" in node
    lo = node.get("exclusiveMinimum", node.get("minimum"))
    hi = node.get("exclusiveMaximum", node.get("maximum"))
    if hi is None:
        return f"{kind} {'>' if lo_open else '>='} {lo:g}"
    return f"{kind} in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def _close(word: Any, allowed: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]}?)" if close else ""

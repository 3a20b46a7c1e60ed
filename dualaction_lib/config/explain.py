"""A pydantic validation error as one line: key, value, what is allowed, the closest match of a typo."""

from __future__ import annotations

import difflib
import re
from typing import Any

from dualaction_lib.config.schema import Config

_LIMITS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def explain(error: Any) -> str:
    """One entry of ``ValidationError.errors()`` as ``key: problem``."""
    loc, value, kind = error["loc"], error["input"], error["type"]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if kind == "value_error":  # a rule between fields: its message names the key
        return str(error["ctx"]["error"])
    section: Any = Config
    for part in loc[:-1]:  # the model holding the field; none inside a list or a free-form mapping
        field = getattr(section, "model_fields", {}).get(part)
        section = field.annotation if field else None
    fields = getattr(section, "model_fields", {})
    if kind == "extra_forbidden":
        return f"{key}: unknown config key{_close(loc[-1], fields)}"
    allowed = error["msg"].removeprefix("Input should be ")
    if kind == "literal_error":
        hint = _close(value, re.findall(r"'([^']*)'", allowed))
        return f"{key}: {value!r} is not one of {allowed}{hint}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"):
        field = fields.get(loc[-1])
        limits = [f"{op} {getattr(m, k)}" for m in getattr(field, "metadata", ()) for k, op in _LIMITS.items()
                  if hasattr(m, k)]  # fmt: skip
        number = "an integer" if getattr(field, "annotation", None) is int else "a number"
        allowed = f"{number} {' and '.join(limits)}" if limits else allowed
        option = ".".join(p for p in loc if isinstance(p, str))
        return f"{key}: {value} is out of range; expected {allowed} (set --{option})"
    if error["msg"].startswith("Input should be "):
        return f"{key}: {value!r} is not {allowed}"
    return f"{key}: got {value!r}; {error['msg'][0].lower()}{error['msg'][1:]}"


def _close(word: Any, allowed: Any) -> str:
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]}?)" if close else ""

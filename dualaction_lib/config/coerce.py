"""Typed construction of a Config from plain dicts: unknown keys and wrong types name the dotted key.

Strings (from the CLI or papermill) are parsed as YAML scalars against the field's annotation, and a
``Literal[...]`` annotation is the list of allowed values.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from typing import Any, Literal

import yaml

from dualaction_lib.config.schema import Config, ConfigError


def from_dict(data: dict[str, Any], cls: type = Config, prefix: str = "") -> Any:
    """``cls(**data)`` with every key checked and every value coerced to its annotation."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
            raise ConfigError(f"{dotted}: unknown config key{hint}")
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: expected a section (mapping), got {value!r}")
            kwargs[key] = from_dict(value, kind, f"{dotted}.")
        else:
            kwargs[key] = coerce(value, kind, dotted)
    return cls(**kwargs)


def coerce(value: Any, kind: Any, key: str) -> Any:
    """Check ``value`` against annotation ``kind``; strings from the CLI are parsed as YAML scalars."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null", "~") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], key)
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
    if origin is tuple:
        if isinstance(value, str):
            value = yaml.safe_load(value if value.strip().startswith("[") else f"[{value}]")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict or kind is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if kind is Any:
        return value
    return _scalar(value, kind, key)


def _scalar(value: Any, kind: type, key: str) -> Any:
    if isinstance(value, str) and kind is not str:
        value = yaml.safe_load(value)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string; Python does not
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, (str, os.PathLike)):
            return str(value)
    else:
        raise ConfigError(f"{key}: unsupported annotation {kind!r}")
    raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r} ({type(value).__name__})")

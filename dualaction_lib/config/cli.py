"""``--key value`` command-line tokens → dotted overrides for :func:`dualaction_lib.config.load_config`."""

from __future__ import annotations

from typing import Any

from dualaction_lib.config.schema import ConfigError


def parse_cli_overrides(tokens: list[str]) -> dict[str, Any]:
    """['--optim.lr', '0.01', '--data.flip=false'] → {'optim.lr': '0.01', 'data.flip': 'false'}.

    Values stay strings; the coercion parses them against the field's type. '-' and '_' are equivalent.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--"):
            raise ConfigError(f"{token}: expected --key value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise ConfigError(f"{key}: missing value")
            value = tokens[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out

"""Run configuration: YAML presets and recipes (each may name a ``base`` it overrides) merged, then validated
by the pydantic models of ``schema``. Later wins: defaults → the preset's recipe → the preset → a recipe
asked for → the preset's ``method_overrides`` of the run's method → overrides (keywords, dotted keys such as
``optim.lr``, ``--key value`` on the command line): ``load_config("cpu", method="ds", **{"optim.lr": 0.05})``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dualaction_lib.config.explain import explain
from dualaction_lib.config.schema import FREEFORM_KEYS, Config, ConfigError, DataConfig
from dualaction_lib.io import atomic_write_yaml, read_yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"
RECIPE_DIR = CONFIG_DIR / "recipes"


def load_config(preset: str | os.PathLike = "cpu", overrides: dict | None = None, **kwargs: Any) -> Config:
    """A Config from a preset name (or YAML path) plus overrides (nested dicts or dotted keys)."""
    preset_dict = read_layered(preset, CONFIG_DIR, "preset")
    preset_dict.pop("preset", None)  # a preset is named after its file
    user = _nest({**(overrides or {}), **kwargs})
    base_recipe = preset_dict.get("recipe", Config.model_fields["recipe"].default)
    recipe = user.get("recipe", base_recipe)
    layers = [read_layered(base_recipe, RECIPE_DIR, "recipe"), preset_dict]
    if recipe != base_recipe:  # e.g. the MARS recipe on the cpu preset
        layers.append(read_layered(recipe, RECIPE_DIR, "recipe"))
    merged: dict[str, Any] = {}
    for layer in layers:
        _deep_update(merged, copy.deepcopy(layer))
    preset_frames = merged.get("data", {}).get("frames_root", DataConfig.model_fields["frames_root"].default)
    method = user.get("method", merged.get("method", Config.model_fields["method"].default))
    per_method = {**merged.get("method_overrides", {}), **user.get("method_overrides", {})}
    _deep_update(merged, _nest(copy.deepcopy(per_method.get(method, {}))))
    _deep_update(merged, copy.deepcopy(user))
    merged.setdefault("preset", Path(str(preset)).stem)
    merged["recipe"] = recipe
    data = merged.get("data")
    frames = data.get("frames_root", preset_frames) if isinstance(data, dict) else preset_frames
    if not merged.get("group") and Path(str(frames)).resolve() != Path(str(preset_frames)).resolve():
        merged["group"] = f"{merged['preset']}-{Path(frames).name}"  # runs on other data live apart
    return build(merged)


def list_presets(folder: Path = CONFIG_DIR) -> list[str]:
    """The presets' names (the recipes' with ``RECIPE_DIR``)."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def read_layered(name: str | os.PathLike, folder: Path, kind: str, seen: tuple = ()) -> dict[str, Any]:
    """A preset or recipe file merged over the chain of files its ``base`` keys name."""
    path = Path(name) if Path(name).suffix in (".yaml", ".yml") else folder / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(
            f"{kind}: no {kind} {str(name)!r} ({path} missing); available: {list_presets(folder)}"
        )
    data = read_yaml(path, ConfigError) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {kind} must hold a mapping of config keys, found {type(data).__name__}")
    base = data.pop("base", None)
    if base in seen:
        raise ConfigError(f"base: {kind} inheritance loop through {base!r} in {path}")
    merged = {} if base is None else read_layered(base, folder, kind, (*seen, str(name)))
    _deep_update(merged, _nest(data))
    return merged


def override(cfg: Config, overrides: dict[str, Any] | None = None, **kwargs: Any) -> Config:
    """A copy of ``cfg`` with overrides (nested dicts or dotted keys), validated like load_config."""
    merged = cfg.to_dict()
    _deep_update(merged, _nest({**(overrides or {}), **kwargs}))
    return build(merged)


def build(data: dict[str, Any]) -> Config:
    """A Config from a nested dict; its first problem is a one-line ConfigError (see ``explain``)."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(explain(err.errors()[0])) from None


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    atomic_write_yaml(path, cfg.to_dict())


def read_config(path: str | os.PathLike) -> Config:
    """Read a saved config file back into a Config (a run's: ``rundir.RunDir.read_config``)."""
    path = Path(path)
    data = read_yaml(path, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a run's config (a mapping), found {type(data).__name__}")
    try:
        return build(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def parse_cli_overrides(tokens: list[str]) -> dict[str, Any]:
    """argparse's leftovers ['--optim.lr', '0.01', '--data.flip=false'] → {'optim.lr': '0.01', 'data.flip':
    'false'}: text, read against each field by the schema; '-' and '_' in keys are equivalent."""
    out: dict[str, Any] = {}
    rest = iter(tokens)
    for token in rest:
        if not token.startswith("--"):
            raise ConfigError(f"{token}: expected --key value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            value = next(rest, "--")
            if value.startswith("--"):
                raise ConfigError(f"{key}: missing value")
        out[key.replace("-", "_")] = value
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'optim.lr': 1, 'data': {'split': 2}} → {'optim': {'lr': 1}, 'data': {'split': 2}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = str(key).split(".")
        node = {leaf: _nest(value) if isinstance(value, dict) and leaf not in FREEFORM_KEYS else value}
        for part in reversed(parents):
            node = {part: node}
        _deep_update(out, node)
    return out


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict) and key not in FREEFORM_KEYS:
            _deep_update(dst[key], value)
        else:
            dst[key] = value

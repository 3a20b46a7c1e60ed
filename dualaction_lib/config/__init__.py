"""Presets and recipes (YAML, each may name a ``base``) merged, later wins: defaults → the preset's recipe →
the preset → a recipe asked for → ``method_overrides`` of the run's method → overrides (dotted keys, e.g.
``load_config("cpu", method="ds", **{"optim.lr": 0.05})``), then validated by ``schema``."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dualaction_lib.config.explain import explain
from dualaction_lib.config.schema import FREEFORM_KEYS, Config, ConfigError, DataConfig
from dualaction_lib.io import read_yaml

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

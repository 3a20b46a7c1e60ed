"""Run configuration: one dataclass per concern, loaded from a preset YAML and overridden by keyword.

Resolution order (later wins): dataclass defaults → the preset's recipe block (``RECIPES[recipe]``) → preset
YAML (``configs/<preset>.yaml``, which may name a ``base`` preset) → a different recipe asked for by the
caller → overrides (notebook keywords or CLI
``--key value``; dotted keys such as ``optim.lr`` address a section). Unknown keys and values of the wrong
type raise ``ConfigError`` naming the dotted key.

    from dualaction_lib.config import load_config
    cfg = load_config("cpu", method="ds", seed=1, **{"optim.lr": 0.05})
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
METHODS = ("flow", "rgb", "mars", "ds", "ds_mae", "ds_gram")
DISTILL_METHODS = ("mars", "ds", "ds_mae", "ds_gram")
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4", "fc")
FEATURE_LAYERS = ("layer1", "layer2", "layer3", "layer4", "pool")


class ConfigError(ValueError):
    """A configuration key is unknown or its value has the wrong type."""


# ----------------------------------------------------------------------------------------------- sections
@dataclass
class DataConfig:
    dataset: str = "synthetic"  # synthetic | ucf101 | hmdb51
    root: str = "data/synthetic"  # raw set: <root>/videos/<class>/*.avi + <root>/splits (prepare input)
    frames_root: str = "data/synthetic/frames"  # extracted frames + flow, <frames_root>/splits
    split: int = 1
    clip_len: int = 16  # T consecutive frames per clip
    crop_size: int = 112
    scales: tuple[float, ...] = (1.0, 0.8408964, 0.7071068, 0.5946036, 0.5)  # MARS multi-scale crop
    flip: bool = True  # flips negate flow-x
    norm: str = "mars"  # mars | kinetics
    num_workers: int = 0
    auto_prepare: bool = True  # synthetic only: generate + extract when frames_root is missing
    fps: float = 25.0  # extraction (prepare) settings
    short_side: int = 256
    flow_backend: str = "opencv"  # opencv | torch
    flow_bound: float = 20.0
    prepare_workers: int = 2  # extraction processes
    flow_params: dict[str, Any] = field(default_factory=dict)  # TV-L1 overrides, e.g. {nscales: 2}
    synthetic: dict[str, Any] = field(default_factory=dict)  # SyntheticSpec overrides


@dataclass
class ModelConfig:
    arch: str = "resnet18"  # see dualaction_lib.models.build_model
    widths: tuple[int, ...] | None = None  # e.g. (16, 32, 64, 128) for tiny CPU models
    dropout: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)  # other build_model keywords
    pretrained: str = ""  # checkpoint path for load_weights ('' = from scratch)
    pretrained_source: str = "auto"  # auto | mars | hara | torchvision | native
    finetune_from: str = "stem"  # first trained stage: stem (all) … layer4 (MARS: layer4 + fc), fc


@dataclass
class OptimConfig:
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.1
    momentum: float = 0.9
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 5e-4
    epochs: int = 250
    batch_size: int = 32
    scheduler: str = "plateau"  # plateau | cosine | step | none
    patience: int = 10  # plateau: epochs without train-loss improvement before lr *= factor
    factor: float = 0.1
    step_size: int = 30  # step scheduler
    warmup_epochs: int = 0  # linear warm-up (cosine / step)
    grad_clip: float = 0.0  # max grad norm, 0 = off


@dataclass
class DistillConfig:
    alpha: float = 50.0
    layers: tuple[str, ...] = FEATURE_LAYERS  # DS feature levels (MARS always uses "pool")
    teacher: str = (
        "auto"  # flow run dir or checkpoint file; auto = <out_dir>/<preset>/flow_seed<teacher_seed>
    )
    teacher_seed: int = 0
    teacher_arch: str = ""  # for a bare checkpoint file; '' = same as model.arch
    teacher_widths: tuple[int, ...] | None = None
    teacher_source: str = "auto"  # load_weights source for a bare checkpoint file
    auto_train_teacher: bool = True  # teacher 'auto' and missing → train it first


@dataclass
class EvalConfig:
    protocol: str = "mars"  # mars (all non-overlapping clips, centre crop) | multiclip
    num_clips: int = 10  # multiclip protocol
    crops: int = 3  # multiclip protocol
    batch_size: int = 4  # videos per forward chunk
    every: int = 0  # evaluate on test every N epochs during training (0 = only at the end)
    train_scores: bool = True  # also score the train split (needed by fusion training)


@dataclass
class Config:
    preset: str = "cpu"
    recipe: str = "paper"  # paper | mars | mars_finetune | cpu
    method: str = "ds"  # flow | rgb | mars | ds | ds_mae | ds_gram
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:1
    amp: str = "auto"  # auto (bf16/fp16 on CUDA, off on CPU) | off | bf16 | fp16
    threads: int = 0  # torch.set_num_threads (0 = leave as is)
    deterministic: bool = True
    out_dir: str = "runs"
    name: str = ""  # run dir name; '' = <method>_seed<seed>
    resume: bool = True  # continue from checkpoint.pt when the run dir has one
    progress: bool = True  # tqdm bars
    progress_interval: float = 5.0  # tqdm mininterval in seconds (throttles batch logs)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    # ------------------------------------------------------------------ derived values
    @property
    def run_name(self) -> str:
        return self.name or f"{self.method}_seed{self.seed}"

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.preset / self.run_name

    @property
    def is_distill(self) -> bool:
        return self.method in DISTILL_METHODS

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


# ----------------------------------------------------------------------------------------------- recipes
_MARS_OPTIM: dict[str, Any] = {
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "dampening": 0.9,
    "weight_decay": 5e-4,
    "scheduler": "plateau",
    "patience": 10,
    "factor": 0.1,
}
RECIPES: dict[str, dict[str, Any]] = {
    # The seed paper: SGD lr 0.1, momentum 0.9, wd 5e-4, alpha 50, 112 crop.
    "paper": {
        "optim": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 5e-4},
        "data": {"crop_size": 112, "norm": "mars"},
        "distill": {"alpha": 50.0},
    },
    # MARS defaults: dampening 0.9, ReduceLROnPlateau(patience 10), batch 32 (16 when distilling).
    "mars": {
        "optim": {**_MARS_OPTIM, "batch_size": 32},
        "data": {"crop_size": 112, "norm": "mars"},
        "distill": {"alpha": 50.0},
    },
    # MARS fine-tuning from a Kinetics checkpoint: lr 0.001, only layer4 + fc train.
    "mars_finetune": {
        "optim": {**_MARS_OPTIM, "lr": 0.001},
        "model": {"finetune_from": "layer4"},
        "distill": {"alpha": 50.0},
    },
    # Small CPU recipe: tiny widths, short low-resolution clips, a few cosine epochs.
    "cpu": {
        "optim": {
            "optimizer": "sgd",
            "lr": 0.05,
            "momentum": 0.9,
            "dampening": 0.0,
            "weight_decay": 5e-4,
            "scheduler": "cosine",
            "batch_size": 16,
        },
        "model": {"arch": "resnet10", "widths": (16, 32, 64, 128)},
        "eval": {"batch_size": 16},
    },
}


# ----------------------------------------------------------------------------------------------- loading
def load_config(
    preset: str | os.PathLike = "cpu", overrides: dict[str, Any] | None = None, **kwargs: Any
) -> Config:
    """Build a Config from a preset name (or YAML path) plus overrides (nested dicts or dotted keys)."""
    preset_dict = _read_preset(preset)
    user = _nest({**(overrides or {}), **kwargs})
    base_recipe = preset_dict.get("recipe", Config.recipe)
    recipe = user.get("recipe", base_recipe)
    for name in (base_recipe, recipe):
        if name not in RECIPES:
            raise ConfigError(f"recipe: unknown recipe {name!r}; choose from {sorted(RECIPES)}")
    # A recipe chosen by the caller applies on top of the preset (e.g. the MARS recipe on the cpu preset).
    layers = (
        [RECIPES[base_recipe], preset_dict] + ([RECIPES[recipe]] if recipe != base_recipe else []) + [user]
    )
    merged: dict[str, Any] = {}
    for layer in layers:
        _deep_update(merged, copy.deepcopy(layer))
    merged.setdefault("preset", Path(str(preset)).stem)
    merged["recipe"] = recipe
    cfg = from_dict(merged)
    validate(cfg)
    return cfg


def list_presets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _read_preset(preset: str | os.PathLike, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = Path(preset)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIG_DIR / f"{preset}.yaml"
    if not path.exists():
        raise ConfigError(f"preset: no preset {str(preset)!r} ({path} missing); available: {list_presets()}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"preset: {path} must hold a mapping")
    base = data.pop("base", None)
    if base is None:
        return _nest(data)
    if base in _seen:
        raise ConfigError(f"base: preset inheritance loop through {base!r}")
    merged = _read_preset(base, (*_seen, str(preset)))
    _deep_update(merged, _nest(data))
    merged.pop("preset", None)  # the derived preset keeps its own name
    return merged


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{'optim.lr': 1, 'data': {'split': 2}} → {'optim': {'lr': 1}, 'data': {'split': 2}}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = str(key).split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part!r} is not a section")
        if isinstance(value, dict) and isinstance(node.get(leaf), dict):
            _deep_update(node[leaf], _nest(value))
        else:
            node[leaf] = _nest(value) if isinstance(value, dict) and leaf not in _FREEFORM else value
    return out


_FREEFORM = ("options", "synthetic", "flow_params")  # dict-valued fields whose keys are not config keys


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for key, value in src.items():
        if isinstance(value, dict) and isinstance(dst.get(key), dict) and key not in _FREEFORM:
            _deep_update(dst[key], value)
        else:
            dst[key] = value


# ----------------------------------------------------------------------------------------------- typing
def from_dict(data: dict[str, Any], cls: type = Config, prefix: str = "") -> Any:
    """Typed construction with key/type checking; error messages name the dotted key."""
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
    elif kind is str:
        if isinstance(value, (str, os.PathLike)):
            return str(value)
    else:
        raise ConfigError(f"{key}: unsupported annotation {kind!r}")
    raise ConfigError(f"{key}: expected {kind.__name__}, got {value!r} ({type(value).__name__})")


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain YAML-safe dict (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def validate(cfg: Config) -> None:
    """Semantic checks beyond types."""
    choices = {
        "method": (cfg.method, METHODS),
        "amp": (cfg.amp, ("auto", "off", "bf16", "fp16")),
        "optim.optimizer": (cfg.optim.optimizer, ("sgd", "adamw")),
        "optim.scheduler": (cfg.optim.scheduler, ("plateau", "cosine", "step", "none")),
        "eval.protocol": (cfg.eval.protocol, ("mars", "multiclip")),
        "model.finetune_from": (cfg.model.finetune_from, STAGES),
        "data.norm": (cfg.data.norm, ("mars", "kinetics")),
    }
    for key, (value, allowed) in choices.items():
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {list(allowed)}")
    for layer in cfg.distill.layers:
        if layer not in ("stem", *FEATURE_LAYERS):
            raise ConfigError(f"distill.layers: unknown feature level {layer!r}")
    positive = {
        "optim.epochs": cfg.optim.epochs,
        "optim.batch_size": cfg.optim.batch_size,
        "data.clip_len": cfg.data.clip_len,
        "data.crop_size": cfg.data.crop_size,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    if not (cfg.device == "auto" or cfg.device == "cpu" or cfg.device.startswith("cuda")):
        raise ConfigError(f"device: {cfg.device!r} is not auto, cpu or cuda[:N]")


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    from dualaction_lib.io import atomic_write_yaml

    atomic_write_yaml(path, cfg.to_dict())


def read_config(path: str | os.PathLike) -> Config:
    """Read a run directory's config.yaml (or the file itself) back into a Config."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    return from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------------------------- CLI
def parse_cli_overrides(tokens: list[str]) -> dict[str, Any]:
    """['--optim.lr', '0.01', '--data.flip=false'] → {'optim.lr': '0.01', 'data.flip': 'false'}.

    Values stay strings; ``coerce`` parses them against the field's type. '-' and '_' are equivalent.
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


def override(cfg: Config, overrides: dict[str, Any] | None = None, **kwargs: Any) -> Config:
    """A copy of ``cfg`` with overrides (nested dicts or dotted keys), type-checked like load_config."""
    merged = to_dict(cfg)
    _deep_update(merged, _nest({**(overrides or {}), **kwargs}))
    out = from_dict(merged)
    validate(out)
    return out

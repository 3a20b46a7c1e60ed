"""The run configuration's schema: one dataclass per concern, with typed fields and their choices.

A field whose values are a fixed set is annotated ``Literal[...]``, which the coercion
(:func:`dualaction_lib.config.coerce.coerce`) checks; a numeric field's allowed range is in ``RANGES``
(checked by :func:`dualaction_lib.config.load.validate`): the allowed values are written once, here.
Defaults are the seed paper's.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dualaction_lib.errors import UsageError
from dualaction_lib.feature_names import DISTILL_LAYERS, FeatureName

Method = Literal["flow", "rgb", "mars", "ds", "ds_mae", "ds_gram"]
Stage = Literal["stem", "layer1", "layer2", "layer3", "layer4", "fc"]  # trainable stages, forward order
WeightSource = Literal["auto", "mars", "hara", "torchvision", "native"]

METHODS: tuple[str, ...] = typing.get_args(Method)
DISTILL_METHODS: tuple[str, ...] = ("mars", "ds", "ds_mae", "ds_gram")
STAGES: tuple[str, ...] = typing.get_args(Stage)
# dict-valued fields: their keys belong to another API (build_model, tvl1, SyntheticSpec), not to the config
FREEFORM_KEYS = ("options", "synthetic", "flow_params", "method_overrides")


class ConfigError(UsageError, ValueError):
    """A configuration key is unknown, or its value has the wrong type or is out of range; the message
    names the dotted key (or the file) first. The CLI prints it as one line and exits with code 2."""


@dataclass
class DataConfig:
    dataset: Literal["synthetic", "ucf101", "hmdb51"] = "synthetic"
    root: str = "data/synthetic"  # raw set: <root>/videos/<class>/*.avi + <root>/splits (prepare input)
    frames_root: str = "data/synthetic/frames"  # extracted frames + flow, <frames_root>/splits
    split: int = 1
    clip_len: int = 16  # T consecutive frames per clip
    crop_size: int = 112
    scales: tuple[float, ...] = (1.0, 0.8408964, 0.7071068, 0.5946036, 0.5)  # MARS multi-scale crop
    flip: bool = True  # flips negate flow-x
    # How crops are resized to crop_size: linear = OpenCV's INTER_LINEAR (fast, aliases when downscaling);
    # pil_bilinear = PIL's antialiased Image.resize(BILINEAR) per frame, MARS's loader (data.transforms).
    resize: Literal["linear", "pil_bilinear"] = "linear"
    norm: Literal["mars", "kinetics"] = "mars"
    num_workers: int = 0
    auto_prepare: bool = True  # synthetic only: generate + extract when frames_root is missing
    allow_upscale: bool = False  # crop_size larger than the frames' short side (upscaled crops) on request
    fps: float = 25.0  # extraction (prepare) settings
    short_side: int = 256
    flow_backend: Literal["opencv", "torch"] = "opencv"
    flow_bound: float = 20.0
    # Flow quantization: round (unbiased) or truncate (MARS's uint8 cast). prepare's --rounding; train and
    # evaluate refuse a frames root whose prepare report records another one (engine.data).
    flow_rounding: Literal["round", "truncate"] = "round"
    prepare_workers: int = 2  # extraction processes
    flow_params: dict[str, Any] = field(default_factory=dict)  # TV-L1 overrides, e.g. {nscales: 2}
    synthetic: dict[str, Any] = field(default_factory=dict)  # SyntheticSpec overrides
    # Listed videos that cannot be read (skipped by prepare, missing, damaged): skip = leave them out
    # with one warning, counted in eval.json; error = refuse to start.
    missing: Literal["skip", "error"] = "skip"
    # Data check before train/evaluate: fast = files exist, sizes, JPEG markers; full = decode every
    # JPEG; off = folders only (see dualaction_lib.data.check).
    check: Literal["fast", "full", "off"] = "fast"
    # Share of the training videos held out as a validation split (never trained on): attention fusion is
    # fitted there and hyperparameters are chosen there, never on the test split. Whole UCF-101 groups
    # are held out (no clips of one group on both sides); 0 = none (see engine.data.validation_split).
    val_fraction: float = 0.0
    cache: bool = False  # keep decoded frames in memory across epochs (small data sets, num_workers 0)


@dataclass
class ModelConfig:
    arch: str = "resnet18"  # see dualaction_lib.models.build_model
    widths: tuple[int, ...] | None = None  # e.g. (16, 32, 64, 128) for tiny CPU models
    dropout: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)  # other build_model keywords
    # scratch: random init; pretrained: load `pretrained` (a checkpoint file or run directory, or "auto":
    # the source stage's run of this modality, <out_dir>/<source_preset>/<rgb|flow>_seed<source_seed>,
    # trained first when missing) — the miniature of starting from Kinetics / MARS checkpoints.
    init: Literal["scratch", "pretrained"] = "scratch"
    pretrained: str = ""
    pretrained_source: WeightSource = "auto"
    source_preset: str = ""  # the pretraining stage's preset (e.g. cpu_source), for pretrained: auto
    source_seed: int = 0
    finetune_from: Stage = "stem"  # first trained stage: stem (all) … layer4 (MARS: layer4 + fc), fc


@dataclass
class OptimConfig:
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 5e-4
    epochs: int = 250
    batch_size: int = 32
    scheduler: Literal["plateau", "cosine", "step", "none"] = "plateau"
    patience: int = 10  # plateau: epochs without train-loss improvement before lr *= factor
    factor: float = 0.1
    step_size: int = 30  # step scheduler
    warmup_epochs: int = 0  # linear warm-up (cosine / step)
    grad_clip: float = 0.0  # max grad norm, 0 = off


@dataclass
class DistillConfig:
    alpha: float = 50.0
    layers: tuple[FeatureName, ...] = DISTILL_LAYERS  # DS feature levels (MARS always uses "pool")
    # Optional, beyond the paper: "step0" rescales the summed distillation term so that it equals CE on the
    # run's first batch (L = CE + α·(CE₀ / Σ_k L_k,₀)·Σ_k L_k): MARS and DS get the same total weight;
    # "none" = paper.
    normalize: Literal["none", "step0"] = "none"
    teacher: str = "auto"  # flow run dir or checkpoint; auto = <out_dir>/<run group>/flow_seed<teacher seed>
    teacher_seed: int | None = None  # None: the student's seed mod teacher_seeds
    teacher_seeds: int = 1  # teachers with seeds 0 … teacher_seeds-1 (fusion rows vary the teacher)
    teacher_arch: str = ""  # for a bare checkpoint file; '' = same as model.arch
    teacher_widths: tuple[int, ...] | None = None
    teacher_source: WeightSource = "auto"  # load_weights source for a bare checkpoint file
    auto_train_teacher: bool = True  # teacher 'auto' and missing → train it first


@dataclass
class EvalConfig:
    protocol: Literal["mars", "multiclip"] = "mars"  # mars: all non-overlapping clips, centre crop
    num_clips: int = 10  # multiclip protocol
    crops: int = 3  # multiclip protocol
    batch_size: int = 4  # videos per forward chunk
    every: int = 0  # evaluate on test every N epochs during training (0 = only at the end)
    train_scores: bool = False  # also score the train split (fusion fits on the validation split)


@dataclass
class Config:
    preset: str = "cpu"
    recipe: str = "paper"  # a file of configs/recipes/: paper | mars | mars_finetune | cpu | …
    method: Method = "ds"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:1
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"  # auto: bf16/fp16 on CUDA, off on CPU
    threads: int = 0  # torch.set_num_threads (0 = leave as is)
    deterministic: bool = True  # seeded, and deterministic kernels (torch.use_deterministic_algorithms)
    deterministic_warn_only: bool = True  # an op without a deterministic kernel warns (False: raises)
    out_dir: str = "runs"
    name: str = ""  # run dir name; '' = <method>_seed<seed>
    resume: bool = True  # continue from checkpoint.pt when the run dir has one
    progress: bool = True  # tqdm bars
    progress_interval: float = 5.0  # tqdm mininterval in seconds (throttles batch logs)
    log_every: int = 10  # steps per metrics.jsonl record and NaN check: the step's only host sync
    # Folder of this run's group under out_dir: '' = the preset's name. load_config sets it to
    # <preset>-<frames folder> when the data are not the preset's, so runs on other data never collide.
    group: str = ""
    # Settings that apply only to one method, e.g. {flow: {optim: {epochs: 60}}}: the flow teacher is not
    # a student and gets its own budget; every student shares the preset's recipe.
    method_overrides: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.method}_seed{self.seed}"

    @property
    def run_group(self) -> str:
        return self.group or self.preset

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.run_group / self.run_name

    @property
    def teacher_seed(self) -> int:
        """The flow teacher this run distills from (and is fused with)."""
        d = self.distill
        return d.teacher_seed if d.teacher_seed is not None else self.seed % max(1, d.teacher_seeds)

    @property
    def is_distill(self) -> bool:
        return self.method in DISTILL_METHODS

    @property
    def input_modality(self) -> str:
        """What the trained network sees: ``"flow"`` for the flow stream, ``"rgb"`` for every student."""
        return "flow" if self.method == "flow" else "rgb"

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


@dataclass(frozen=True)
class Range:
    """The allowed values of a numeric field: finite, between ``lo`` and ``hi`` (None: unbounded)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself excluded
    hi_open: bool = False
    integer: bool = False
    choices: tuple[int, ...] = ()

    def __contains__(self, value: float) -> bool:
        if self.choices:
            return value in self.choices
        if not math.isfinite(value):
            return False
        above = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        below = self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)
        return above and below

    def __str__(self) -> str:
        if self.choices:
            return " or ".join(map(str, self.choices))
        kind = "an integer" if self.integer else "a number"
        if self.hi is None:
            return f"{kind} {'>' if self.lo_open else '>='} {self.lo:g}"
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        return f"{kind} in {left}{self.lo:g}, {self.hi:g}{right}"


def _at_least(lo: float, integer: bool = True) -> Range:
    return Range(lo, integer=integer)


_POSITIVE = Range(0.0, lo_open=True)
_NON_NEGATIVE = Range(0.0)
_FRACTION = Range(0.0, 1.0, hi_open=True)  # [0, 1)

# Allowed range of every numeric field (dotted key; a tuple field's range applies to each item).
RANGES: dict[str, Range] = {
    "seed": _at_least(0),
    "threads": _at_least(0),
    "progress_interval": _NON_NEGATIVE,
    "log_every": _at_least(1),
    "data.split": Range(1, 3, integer=True),
    "data.clip_len": _at_least(1),
    "data.crop_size": _at_least(1),
    "data.scales": Range(0.0, 1.0, lo_open=True),
    "data.num_workers": _at_least(0),
    "data.fps": _NON_NEGATIVE,  # 0 keeps every frame
    "data.short_side": _at_least(0),  # 0 keeps the size
    "data.flow_bound": _POSITIVE,
    "data.prepare_workers": _at_least(1),
    "data.val_fraction": Range(0.0, 1.0, hi_open=True),
    "model.source_seed": _at_least(0),
    "model.widths": _at_least(1),
    "model.dropout": _FRACTION,
    "optim.lr": _POSITIVE,
    "optim.momentum": _FRACTION,
    "optim.dampening": _FRACTION,
    "optim.weight_decay": _NON_NEGATIVE,
    "optim.epochs": _at_least(1),
    "optim.batch_size": _at_least(1),
    "optim.patience": _at_least(0),
    "optim.factor": Range(0.0, 1.0, lo_open=True, hi_open=True),
    "optim.step_size": _at_least(1),
    "optim.warmup_epochs": _at_least(0),
    "optim.grad_clip": _NON_NEGATIVE,
    "distill.alpha": _NON_NEGATIVE,
    "distill.teacher_seed": _at_least(0),
    "distill.teacher_seeds": _at_least(1),
    "distill.teacher_widths": _at_least(1),
    "eval.num_clips": _at_least(1),
    "eval.crops": Range(choices=(1, 3)),
    "eval.batch_size": _at_least(1),
    "eval.every": _at_least(0),
}


def to_dict(section: Any) -> dict[str, Any]:
    """A config (or one section) as a plain YAML-safe dict: tuples become lists."""
    out = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out

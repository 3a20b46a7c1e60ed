"""The run configuration: pydantic models, defaults from the seed paper; choices are ``choices`` Literals,
ranges ``Field`` constraints, unknown keys refused (docs/architecture.md)."""

from __future__ import annotations

import os
import typing
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dualaction_lib import choices
from dualaction_lib.errors import UsageError
from dualaction_lib.feature_names import DISTILL_LAYERS, FeatureName

Count = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
# dict-valued fields: their keys belong to another API (build_model, tvl1, SyntheticSpec), not to the config
FREEFORM_KEYS = ("options", "synthetic", "flow_params", "method_overrides")


class ConfigError(UsageError, ValueError):
    """A config key is unknown or its value not allowed: one line naming the key (or file) first; exit 2."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _read_text(cls, data: Any) -> Any:
        """Text for a non-text field (the command line) is read as YAML: '8,16' → [8, 16], 'none' → None."""
        if not isinstance(data, dict):
            return data
        return {k: _from_text(v, cls.model_fields[k].annotation) if k in cls.model_fields else v
                for k, v in data.items()}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")  # YAML-safe: tuples become lists


def _from_text(value: Any, kind: Any) -> Any:
    args = typing.get_args(kind)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if not isinstance(value, str) or kind is str or (args and isinstance(args[0], str)):  # text, Literal
        return value
    if value.strip().lower() in ("none", "null", "~"):
        return None
    if any(typing.get_origin(k) is tuple for k in (kind, *args)) and not value.strip().startswith("["):
        value = f"[{value}]"
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value  # pydantic refuses it, naming the key


class DataConfig(Section):
    dataset: choices.Dataset = "synthetic"
    root: str = "data/synthetic"  # raw set: <root>/videos/<class>/*.avi + <root>/splits (prepare input)
    frames_root: str = "data/synthetic/frames"  # extracted frames + flow, <frames_root>/splits
    split: Annotated[int, Field(ge=1, le=3)] = 1
    clip_len: PositiveInt = 16  # T consecutive frames per clip
    crop_size: PositiveInt = 112
    scales: tuple[Annotated[float, Field(gt=0, le=1)], ...] = (1.0, 0.8408964, 0.7071068, 0.5946036, 0.5)
    flip: bool = True  # flips negate flow-x
    resize: choices.Resize = "linear"  # crops → crop_size: OpenCV's bilinear (fast) or PIL's (MARS's loader)
    norm: choices.Norm = "mars"
    num_workers: Count = 0
    auto_prepare: bool = True  # synthetic only: generate + extract when frames_root is missing
    allow_upscale: bool = False  # crop_size larger than the frames' short side (upscaled crops) on request
    fps: NonNegative = 25.0  # 0 keeps every frame
    short_side: Count = 256  # 0 keeps the size
    # [height, width]: every frame resized to exactly this (the paper's 256 × 256); None: to short_side
    frame_size: tuple[PositiveInt, PositiveInt] | None = None
    flow_backend: choices.FlowBackend = "opencv"
    flow_bound: Positive = 20.0
    flow_rounding: choices.Rounding = "round"
    prepare_workers: PositiveInt = 2  # extraction processes
    flow_params: dict[str, Any] = Field(default_factory=dict)  # TV-L1 overrides, e.g. {nscales: 2}
    synthetic: dict[str, Any] = Field(default_factory=dict)  # SyntheticSpec overrides
    missing: choices.Missing = "skip"  # unreadable listed videos: left out (and counted) or refused
    check: choices.CheckLevel = "fast"  # fast: files, sizes, JPEG markers; full: decode all; off (data.check)
    val_fraction: Fraction = 0.0  # training videos held out (whole UCF groups): fusion, tuning; never test
    cache: bool = False  # keep decoded frames in memory across epochs (small data sets, num_workers 0)


class ModelConfig(Section):
    arch: str = "resnet18"  # see dualaction_lib.models.build_model
    widths: tuple[PositiveInt, ...] | None = None  # e.g. (16, 32, 64, 128) for tiny CPU models
    dropout: Fraction = 0.0
    options: dict[str, Any] = Field(default_factory=dict)  # other build_model keywords
    init: choices.Init = "scratch"
    pretrained: str = ""  # a checkpoint, a run directory or "auto" (rundir.source_run)
    pretrained_source: choices.WeightSource = "auto"
    # the checkpoint's classifier kept: its classes are the target's (MARS's Flow_UCF101_16f.pth on UCF-101)
    keep_classifier: bool = False
    source_preset: str = ""  # the pretraining stage's preset (e.g. cpu_source), for pretrained: auto
    source_seed: Count = 0
    finetune_from: choices.Stage = "stem"  # first trained stage: stem (all) … layer4 (MARS: layer4 + fc), fc

    @model_validator(mode="after")
    def _checkpoint_named(self) -> ModelConfig:
        if self.init == "pretrained" and not self.pretrained:
            raise ValueError("model.pretrained: model.init is pretrained but names no checkpoint (or 'auto')")
        if self.pretrained == "auto" and not self.source_preset:
            raise ValueError("model.source_preset: model.pretrained is 'auto' but no source preset is named")
        return self


class OptimConfig(Section):
    optimizer: choices.Optimizer = "sgd"
    lr: Positive = 0.1
    momentum: Fraction = 0.9
    dampening: Fraction = 0.0
    nesterov: bool = False
    weight_decay: NonNegative = 5e-4
    epochs: Count = 250  # 0: no training, the init is evaluated as it is (a released checkpoint)
    batch_size: PositiveInt = 32
    scheduler: choices.Scheduler = "plateau"
    patience: Count = 10  # plateau: epochs without validation-CE improvement before lr *= factor
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.1
    step_size: PositiveInt = 30  # step scheduler
    warmup_epochs: Count = 0  # linear warm-up (cosine / step)
    grad_clip: NonNegative = 0.0  # max grad norm, 0 = off

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimConfig:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            got = f"got {self.momentum} and {self.dampening}"
            raise ValueError(f"optim.nesterov: needs momentum > 0 and dampening 0 ({got})")
        return self


class DistillConfig(Section):
    alpha: NonNegative = 50.0
    layers: tuple[FeatureName, ...] = DISTILL_LAYERS  # DS feature levels (MARS always uses "pool")
    normalize: choices.Normalize = "none"  # step0: Σ distillation scaled to equal CE on the first batch
    teacher: str = "auto"  # flow run dir or checkpoint; auto: rundir.teacher_run
    teacher_seed: Count | None = None  # None: the student's seed mod teacher_seeds
    teacher_seeds: PositiveInt = 1  # teachers with seeds 0 … teacher_seeds-1 (fusion rows vary the teacher)
    teacher_arch: str = ""  # for a bare checkpoint file; '' = same as model.arch
    teacher_widths: tuple[PositiveInt, ...] | None = None
    teacher_source: choices.WeightSource = "auto"  # load_weights source for a bare checkpoint file
    auto_train_teacher: bool = True  # teacher 'auto' and missing → train it first


class EvalConfig(Section):
    protocol: choices.Protocol = "mars"  # mars: all non-overlapping clips, centre crop
    num_clips: PositiveInt = 10  # multiclip protocol
    crops: choices.Crops = 3  # multiclip protocol
    batch_size: PositiveInt = 4  # videos per forward chunk
    every: Count = 0  # evaluate on test every N epochs during training (0 = only at the end)
    train_scores: bool = False  # also score the train split (fusion fits on the validation split)


class Config(Section):
    preset: str = "cpu"
    recipe: str = "paper"  # a file of configs/recipes/: paper | mars | mars_finetune | cpu | …
    method: choices.Method = "ds"
    seed: Count = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    amp: choices.Amp = "auto"  # auto: bf16/fp16 on CUDA, off on CPU
    threads: Count = 0  # torch.set_num_threads (0 = leave as is)
    deterministic: bool = True  # seeded, and deterministic kernels (torch.use_deterministic_algorithms)
    deterministic_warn_only: bool = True  # an op without a deterministic kernel warns (False: raises)
    out_dir: str = "runs"
    variant: choices.Variant = "main"
    name: str = ""  # run dir name; '' = the naming rule of dualaction_lib.rundir (method, seed, variant)
    resume: bool = True  # continue from the run folder's checkpoint when it has one
    progress: bool = True  # tqdm bars
    progress_interval: NonNegative = 5.0  # tqdm mininterval in seconds (throttles batch logs)
    log_every: PositiveInt = 10  # steps per metrics record and NaN check: the step's only host sync
    group: str = ""  # runs' folder under out_dir: '' = preset; <preset>-<frames folder> on other data
    method_overrides: dict[str, Any] = Field(default_factory=dict)  # e.g. the teacher's own budget
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @property
    def run_group(self) -> str:
        return self.group or self.preset

    @property
    def teacher_seed(self) -> int:
        """The flow teacher this run distills from (and is fused with)."""
        d = self.distill
        return d.teacher_seed if d.teacher_seed is not None else self.seed % max(1, d.teacher_seeds)

    is_distill = property(lambda self: self.method in typing.get_args(choices.DistillMethod))

    @property
    def input_modality(self) -> str:
        """What the trained network sees: ``"flow"`` for the flow stream, ``"rgb"`` for every student."""
        return "flow" if self.method == "flow" else "rgb"

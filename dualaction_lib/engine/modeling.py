"""Student / teacher construction for the training loop: build, initialise, freeze, wrap."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

import torch
from torch import Tensor, nn

from dualaction_lib.choices import Stage
from dualaction_lib.config import Config
from dualaction_lib.rundir import RunDir, source_run, teacher_run

# Parameter-name prefixes of each trainable stage, in forward order (Hara/MARS key names).
STAGE_PREFIXES: dict[str, tuple[str, ...]] = {
    "stem": ("conv1.", "bn1."),
    "layer1": ("layer1.",),
    "layer2": ("layer2.",),
    "layer3": ("layer3.",),
    "layer4": ("layer4.",),
    "fc": ("fc.",),
}


class StudentHead(nn.Module):
    """``forward(x) → (logits, features)`` from ONE pass through the network (DDP wraps this module).

    ``features`` holds the named features the loss reads (``feature_names``, possibly none).
    """

    def __init__(self, model: nn.Module, feature_names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.model = model
        self.feature_names = tuple(feature_names)
        self._names = tuple(dict.fromkeys((*feature_names, "layer4")))  # layer4 feeds the classifier

    def forward(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        feats = self.model.forward_intermediates(x, self._names)  # {"layer1": (B,C,T,H,W), …, "pool": (B,C)}
        logits = self.model.forward_head(feats["layer4"])  # (B, K)
        return logits, {name: feats[name] for name in self.feature_names}


def in_channels(modality: str) -> int:
    return 2 if modality == "flow" else 3


def model_options(arch_widths: tuple[int, ...] | None, dropout: float, options: dict) -> dict[str, Any]:
    opts = dict(options)
    if arch_widths is not None:
        opts["widths"] = tuple(arch_widths)
    if dropout > 0:
        opts["dropout"] = dropout
    return opts


def build_network(cfg: Config, num_classes: int) -> nn.Module:
    """The run's architecture, freshly initialised: flow input for method 'flow', RGB otherwise."""
    from dualaction_lib.models import build_model

    m = cfg.model
    chans = in_channels(cfg.input_modality)
    return build_model(
        m.arch, in_channels=chans, num_classes=num_classes, **model_options(m.widths, m.dropout, m.options)
    )


def build_student(cfg: Config, num_classes: int) -> nn.Module:
    """The network to train: :func:`build_network`, the init (``model.init``), the frozen stages.

    A pretrained init from another data set keeps every layer but the classifier, which is re-initialised:
    the source's classes are not the target's, even when their number matches. ``model.keep_classifier``
    keeps it, for a checkpoint trained on the target's classes (MARS's Flow_UCF101_16f.pth on UCF-101).
    """
    from dualaction_lib.models import load_weights

    model = build_network(cfg, num_classes)
    path = source_run(cfg)
    if path is not None:
        source = "native" if path.is_dir() else cfg.model.pretrained_source
        weights = RunDir(path).checkpoint_path if path.is_dir() else path
        load_weights(model, weights, source=source, num_classes=num_classes, adapt_in_channels=True)
        if not cfg.model.keep_classifier:
            model.reset_classifier(num_classes)
    freeze_before(model, cfg.model.finetune_from)
    return model


# Where a released checkpoint of each weight source comes from, for the error a missing file gives.
WEIGHT_ORIGINS = {
    "mars": "MARS's released models (github.com/craston/MARS, README 'Models', e.g. RGB_Kinetics_16f.pth, "
    "Flow_UCF101_16f.pth)",
    "hara": "Hara's pretrained models (github.com/kenshohara/3D-ResNets-PyTorch, e.g. "
    "resnet-101-kinetics.pth)",
    "torchvision": "torchvision's video models (torchvision.models.video, e.g. r3d_18 weights)",
}


def check_init_files(cfg: Config) -> None:
    """A checkpoint file the run starts from (model.pretrained, a distill.teacher file) must exist.

    Refused in one line before any work, naming the file and where it comes from; a run directory or
    'auto' is left to the stage that trains it.
    """
    m, d = cfg.model, cfg.distill
    wanted = []
    if m.init == "pretrained" and m.pretrained != "auto":
        fix = "or start from random weights with --model.init scratch"
        wanted.append(("model.pretrained", Path(m.pretrained), m.pretrained_source, fix))
    if cfg.is_distill and d.teacher != "auto" and Path(d.teacher).suffix in (".pth", ".pt", ".tar"):
        fix = "or point --distill.teacher at a flow run directory"
        wanted.append(("distill.teacher", Path(d.teacher), d.teacher_source, fix))
    for key, path, source, fix in wanted:
        if not path.exists():
            origin = WEIGHT_ORIGINS.get(source, "a checkpoint of this architecture")
            raise FileNotFoundError(
                f"{key}: {path} does not exist; it is one of {origin}: download it to that path, {fix}"
            )


def load_run_model(run_dir: str | os.PathLike, cfg: Config | None = None) -> nn.Module:
    """A trained run's network from its config and checkpoint, on the CPU in eval mode.

    ``cfg`` (default: the run's config) may carry overrides that do not change the architecture.
    """
    from dualaction_lib.models import load_checkpoint

    rd = RunDir(run_dir)
    ckpt = rd.checkpoint_path
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no such file; train the run first")
    cfg = cfg or rd.read_config()
    state = load_checkpoint(ckpt, fix="train the run again with --fresh")["model"]
    model = build_network(cfg, num_classes=state["fc.weight"].shape[0])
    model.load_state_dict(state)
    return model.eval()


def freeze_before(model: nn.Module, first_stage: str) -> list[str]:
    """Freeze every stage before ``first_stage`` ('layer4' → only layer4 + fc train, as MARS fine-tuning).

    Frozen BatchNorm layers keep updating running statistics only if left in train mode; we follow MARS and
    just exclude their parameters from the optimizer. Returns the frozen stage names.
    """
    stages = get_args(Stage)
    frozen = list(stages[: stages.index(first_stage)])
    prefixes = tuple(p for stage in frozen for p in STAGE_PREFIXES[stage])
    for name, param in model.named_parameters():
        if prefixes and name.startswith(prefixes):
            param.requires_grad_(False)
    return frozen


# What the teacher's input means and which videos it saw: a teacher trained with other values reads
# the student's flow differently (norm, bound, rounding, resize filter), at another scale or length (crop,
# scales, clip), or has seen the student's test videos (another data set, split or frames root).
TEACHER_DATA_KEYS = (
    "dataset",
    "frames_root",
    "split",
    "clip_len",
    "crop_size",
    "scales",
    "norm",
    "flow_bound",
    "flow_rounding",
    "resize",
)


def teacher_data_differences(student: Config, teacher: Config) -> list[str]:
    """``data.<key> <teacher> (student <value>)`` for every data setting the two runs do not share."""
    from dualaction_lib.data.prepared import differences, root_fingerprint

    out = []
    for key in TEACHER_DATA_KEYS:
        mine, theirs = getattr(student.data, key), getattr(teacher.data, key)
        if key == "frames_root":
            mine, theirs = Path(mine).resolve(), Path(theirs).resolve()
        if key == "scales":
            mine, theirs = tuple(float(v) for v in mine), tuple(float(v) for v in theirs)
        if mine != theirs:
            out.append(f"data.{key} {theirs} (student {mine})")
    roots = [root_fingerprint(Path(c.data.frames_root)) for c in (teacher, student)]
    if all(roots):  # extraction settings of both frames roots: flow rounding, bound, size, fps, ...
        out += [f"prepare {d}" for d in differences(roots[0], roots[1])]
    return out


def check_teacher_data(cfg: Config, teacher_dir: Path) -> None:
    """Refuse a teacher run whose data settings differ from the student's, naming every difference."""
    teacher = RunDir(teacher_dir).read_config()
    if teacher.method != "flow":
        raise ValueError(f"teacher run {teacher_dir} was trained with method {teacher.method!r}, not 'flow'")
    diff = teacher_data_differences(cfg, teacher)
    if diff:
        raise ValueError(
            f"teacher run {teacher_dir} was trained on other data settings: {'; '.join(diff)}; train a "
            f"teacher with the student's settings (another distill.teacher_seed), or point distill.teacher "
            f"at {RunDir(teacher_dir).checkpoint_path} to use it anyway"
        )


def load_teacher(cfg: Config, num_classes: int, device: torch.device) -> nn.Module:
    """Frozen flow teacher in eval mode, from a flow run directory or a bare checkpoint file.

    A run directory's data settings must match the student's (:func:`check_teacher_data`); a bare
    checkpoint file carries none, so it is taken as it is.
    """
    from dualaction_lib.models import build_model, load_weights

    path = teacher_run(cfg)
    if path.is_dir():
        check_teacher_data(cfg, path)
        model = load_run_model(path)
    elif path.is_file():
        d = cfg.distill
        model = build_model(
            d.teacher_arch or cfg.model.arch,
            in_channels=2,
            num_classes=num_classes,
            **model_options(d.teacher_widths, 0.0, {}),
        )
        load_weights(model, path, source=d.teacher_source, num_classes=num_classes)
    else:
        raise FileNotFoundError(
            f"distill.teacher: {path} is neither a flow run directory nor a checkpoint file"
        )
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def teacher_layers(cfg: Config) -> tuple[str, ...]:
    """Feature levels the loss compares: MARS uses the pooled feature only."""
    return ("pool",) if cfg.method == "mars" else tuple(cfg.distill.layers)

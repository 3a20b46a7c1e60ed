"""What a run costs before it starts: one timed training step on the current device, times its steps.

    from dualaction_lib.engine.estimate import time_train_step, steps_per_run
    timing = time_train_step(cfg)                 # StepTiming: seconds per step at the run's batch size
    hours = timing.seconds * steps_per_run(cfg) / 3600

The step is the training loop's (``engine.loop``): student forward with AMP as configured, the frozen
teacher's features for a distilling method, the loss, backward and an optimizer step, on random inputs of
the run's shape and random weights (speed does not depend on the values), with the run's thread count. On
a CPU a small batch is timed first and the full batch only when that is cheap (a full paper batch would
take minutes); otherwise the small batch's time is scaled linearly. Evaluation and data loading are not
counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dualaction_lib.config import Config
from dualaction_lib.engine import distributed as D

__all__ = [
    "PAPER_TRAIN_VIDEOS", "StepTiming", "build_networks", "steps_per_run", "time_train_step", "train_step",
    "train_videos",
]  # fmt: skip

# Training videos of the published splits (UCF-101 trainlist0{1,2,3}.txt; HMDB-51: 70 per class).
PAPER_TRAIN_VIDEOS = {("ucf101", 1): 9537, ("ucf101", 2): 9586, ("ucf101", 3): 9624}
PAPER_TRAIN_VIDEOS |= {("hmdb51", split): 3570 for split in (1, 2, 3)}
PAPER_CLASSES = {"ucf101": 101, "hmdb51": 51}


@dataclass
class StepTiming:
    """One training step of a run, measured: ``seconds`` per step at the run's batch size."""

    seconds: float
    batch: int  # the run's batch size (what ``seconds`` is for)
    timed_batch: int  # the batch actually timed (smaller on a CPU; seconds scaled linearly)
    device: str
    peak_memory_mb: float | None  # CUDA only: peak allocated memory of the timed steps

    @property
    def clips_per_second(self) -> float:
        return self.batch / self.seconds


def train_videos(cfg: Config) -> int:
    """Training videos of one epoch: the frames root's split list minus its validation split when it is
    prepared; else the synthetic spec's count or the published split's size (UCF-101, HMDB-51) minus
    ``⌊videos · data.val_fraction⌋``."""
    from dualaction_lib.engine import data as edata

    d = cfg.data
    if edata.is_prepared(Path(d.frames_root)):
        return len(edata.validation_split(edata.read_index(d)[0]["train"], d.val_fraction)[0])
    if d.dataset == "synthetic":
        spec = edata.synthetic_spec(d.synthetic)
        videos = spec.videos_per_class_train * int(spec.num_classes)
    else:
        videos = PAPER_TRAIN_VIDEOS[(d.dataset, d.split)]
    return videos - math.floor(videos * d.val_fraction)


def steps_per_run(cfg: Config) -> int:
    """Optimizer steps of the whole run: epochs × ⌈training videos / batch size⌉ (one clip per video)."""
    return cfg.optim.epochs * math.ceil(train_videos(cfg) / cfg.optim.batch_size)


def build_networks(cfg: Config, num_classes: int, device: torch.device):
    """(student head, frozen teacher or None, loss) with random weights, as ``engine.train`` builds them."""
    from dualaction_lib.engine.modeling import StudentHead, build_network, model_options, teacher_layers
    from dualaction_lib.engine.train import build_loss
    from dualaction_lib.models import build_model

    student = build_network(cfg, num_classes).to(device)
    head = StudentHead(student, teacher_layers(cfg) if cfg.is_distill else ()).to(device)
    teacher = None
    if cfg.is_distill:
        d = cfg.distill
        widths = d.teacher_widths if d.teacher_arch else (d.teacher_widths or cfg.model.widths)
        options = model_options(widths, 0.0, {} if d.teacher_arch else cfg.model.options)
        teacher = build_model(d.teacher_arch or cfg.model.arch, 2, num_classes, **options).to(device).eval()
        teacher.requires_grad_(False)
    return head, teacher, build_loss(cfg)


def train_step(cfg: Config, batch: int, seed: int = 0) -> tuple[Callable[[], None], nn.Module, D.Runtime]:
    """``(step, student head, runtime)``: ``step()`` is one training step of ``cfg`` on a fixed random
    batch of ``batch`` clips (seeded by ``seed``) on the config's device, as the training loop takes it."""
    from dualaction_lib.engine.modeling import teacher_layers
    from dualaction_lib.engine.optim import build_optimizer

    rt = D.setup_runtime(cfg.device, cfg.amp)
    D.seed_everything(seed, cfg.deterministic)
    num_classes = PAPER_CLASSES.get(cfg.data.dataset, 10)
    head, teacher, loss_fn = build_networks(cfg, num_classes, rt.device)
    optimizer = build_optimizer(cfg.optim, head.model)
    scaler = D.grad_scaler(rt)
    layers = teacher_layers(cfg)
    size = (cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size)
    x = torch.randn(batch, 3 if cfg.input_modality == "rgb" else 2, *size, device=rt.device)
    flow = torch.randn(batch, 2, *size, device=rt.device)
    y = torch.randint(0, num_classes, (batch,), device=rt.device)
    head.train()

    def step() -> None:
        with D.autocast(rt):
            logits, feats = head(x)
            t_feats = {}
            if teacher is not None:
                with torch.no_grad():
                    t_feats = teacher.forward_intermediates(flow, layers)
        s_feats = {k: v.float() for k, v in feats.items()}
        terms = loss_fn.raw_terms(logits.float(), y, s_feats, {k: v.float() for k, v in t_feats.items()})
        loss, _ = loss_fn.combine(terms)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step, head, rt


def time_train_step(cfg: Config, steps: int = 2, warmup: int = 1, cpu_batch: int = 2) -> StepTiming:
    """Seconds per training step of ``cfg`` on its device (``cfg.device``, ``cfg.amp``, ``cfg.threads``),
    median of ``steps`` timed steps after ``warmup`` untimed ones.

    On a CPU a batch of ``cpu_batch`` clips is timed first; when the full batch would take less than
    ``FULL_BATCH_SECONDS`` it is timed as well (a small batch overstates the per-clip cost), else the small
    batch's time is scaled linearly.
    """
    batch = cfg.optim.batch_size
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        cuda = D.setup_runtime(cfg.device, cfg.amp).device.type == "cuda"
        sizes = [batch] if cuda else [min(batch, cpu_batch)]
        timing = _time_batch(cfg, sizes[0], steps, warmup)
        if not cuda and sizes[0] < batch and timing.seconds < FULL_BATCH_SECONDS:
            timing = _time_batch(cfg, batch, steps, warmup)
        return timing
    finally:
        torch.set_num_threads(threads)


FULL_BATCH_SECONDS = 10.0


def _time_batch(cfg: Config, timed: int, steps: int, warmup: int) -> StepTiming:
    batch = cfg.optim.batch_size
    step, _, rt = train_step(cfg, timed)
    cuda = rt.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(rt.device)
    seconds = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(rt.device)
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    per_step = sorted(seconds)[(len(seconds) - 1) // 2] * batch / timed  # median (lower for even counts)
    peak = torch.cuda.max_memory_allocated(rt.device) / 2**20 if cuda else None
    return StepTiming(per_step, batch, timed, str(rt.device), peak)

"""One training loop for every method: flow, rgb, mars, ds, ds_mae, ds_gram (docs/architecture.md, "Runs").

    from dualaction_lib.engine import train
    run_dir = train("cpu", method="ds", seed=0)        # or train(load_config(...))

The run folder's files are :class:`dualaction_lib.rundir.RunDir`'s; one epoch is
:func:`dualaction_lib.engine.loop.train_one_epoch`. The folder is claimed (its config and identity) only
once every check has passed, so a refused run leaves nothing that blocks the corrected command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dualaction_lib.config import Config, load_config, override
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import distributed as D
from dualaction_lib.engine import resume as checkpointing
from dualaction_lib.engine.loop import NonFiniteLossError, TrainState, train_one_epoch
from dualaction_lib.engine.modeling import (
    StudentHead,
    build_student,
    check_init_files,
    load_teacher,
    teacher_layers,
)
from dualaction_lib.engine.optim import build_optimizer, build_scheduler, check_schedule, scheduler_step
from dualaction_lib.losses import DualActionLoss
from dualaction_lib.rundir import RunDir, source_run, teacher_run

__all__ = ["NonFiniteLossError", "build_loss", "train"]

EpochHook = Callable[[int, dict[str, Any]], None]


def train(cfg: Config | str = "cpu", *, on_epoch_end: EpochHook | None = None, **overrides: Any) -> Path:
    """Train (or resume) one run and evaluate it; returns the run directory."""
    if isinstance(cfg, str):
        cfg = load_config(cfg, **overrides)
    elif overrides:
        cfg = override(cfg, **overrides)
    check_schedule(cfg)  # before anything is written: the run directory stays untouched
    check_init_files(cfg)
    edata.check_prepared(cfg)  # before a teacher or pretraining stage is trained for a refused run
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    with D.determinism(cfg.deterministic, cfg.deterministic_warn_only):  # before any CUDA work
        rt = D.setup_runtime(cfg.device, cfg.amp)
        try:
            if cfg.is_distill:
                _ensure_teacher(cfg, rt)
            return _train(cfg, rt, on_epoch_end)
        finally:
            D.cleanup(rt)
            torch.set_num_threads(threads)


def _ensure_source(cfg: Config, rt: D.Runtime) -> None:
    """With model.pretrained 'auto', train the pretraining stage's run first when it is missing."""
    path = source_run(cfg)
    if cfg.model.pretrained != "auto" or path is None or RunDir(path).is_evaluated():
        return
    m = cfg.model
    print(f"[dualaction] pretraining run {path} missing: training it first", file=sys.stderr)
    how = {
        k: getattr(cfg, k) for k in ("out_dir", "device", "amp", "threads", "progress", "progress_interval")
    }
    source = load_config(m.source_preset, method=cfg.input_modality, seed=m.source_seed)
    _train(override(source, **how), rt, None)


def _ensure_teacher(cfg: Config, rt: D.Runtime) -> None:
    """With distill.teacher 'auto', train the flow teacher first when its run is missing or incomplete.

    An existing teacher run is checked against the student's data settings before the student's run
    directory is created, so a refusal leaves nothing behind.
    """
    from dualaction_lib.engine.modeling import check_teacher_data

    path = teacher_run(cfg)
    if RunDir(path).is_run():
        check_teacher_data(cfg, path)
    if cfg.distill.teacher != "auto" or RunDir(path).is_evaluated():
        return
    if not cfg.distill.auto_train_teacher:
        raise FileNotFoundError(f"no flow teacher at {path}; train it with --method flow")
    print(f"[dualaction] flow teacher {path} missing: training it first", file=sys.stderr)
    flow = cfg.method_overrides.get("flow", {})
    teacher = override(cfg, flow, method="flow", seed=cfg.teacher_seed, name="", variant="main")
    check_init_files(teacher)
    _train(teacher, rt, None)


def _train(cfg: Config, rt: D.Runtime, on_epoch_end: EpochHook | None) -> Path:
    _ensure_source(cfg, rt)
    # One process trains into a run directory at a time (rank 0 holds the lock for all ranks).
    rd = RunDir.of(cfg)
    with rd.lock("training", rt.is_main):
        return _train_locked(cfg, rt, rd, on_epoch_end)


def _train_locked(cfg: Config, rt: D.Runtime, rd: RunDir, on_epoch_end: EpochHook | None) -> Path:
    run_dir, ckpt_path = rd.path, rd.checkpoint_path
    if rd.check_resume(cfg):  # read-only: a folder holding another run is refused here
        if rt.is_main:
            rd.claim(cfg)  # records run.json for a run that predates it; nothing else changes
            print(f"[dualaction] run already complete: {run_dir}", file=sys.stderr)
        D.barrier(rt)
        return run_dir
    # Every data refusal (crop size, flow rounding, unusable or too few videos) comes before the run folder
    # is claimed, so the corrected command starts clean.
    if rt.is_main:
        edata.ensure_prepared(cfg)
    D.barrier(rt)
    data = edata.open_run_data(cfg, warn=rt.is_main)
    loader = edata.train_loader(data, cfg, rt)

    D.seed_everything(cfg.seed, cfg.deterministic)
    model = build_student(cfg, data.num_classes).to(rt.device)
    head = StudentHead(model, teacher_layers(cfg) if cfg.is_distill else ()).to(rt.device)
    net: nn.Module = head
    if rt.distributed:
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(head, device_ids=ids)
    optimizer = build_optimizer(cfg.optim, model)
    scheduler = build_scheduler(cfg.optim, optimizer, steps_per_epoch=len(loader))
    state = TrainState(
        cfg,
        rt,
        net,
        teacher=load_teacher(cfg, data.num_classes, rt.device) if cfg.is_distill else None,
        loss_fn=build_loss(cfg),
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=D.grad_scaler(rt),
        metrics_path=rd.metrics_path,
    )
    if rt.is_main:
        rd.claim(cfg)  # every check has passed: the folder becomes this run's
    D.barrier(rt)
    start_epoch = 0
    if cfg.resume and ckpt_path.exists():
        start_epoch = checkpointing.resume(ckpt_path, model, optimizer, scheduler, state.loss_fn)
        if rt.is_main:
            rd.truncate_metrics(start_epoch)
    state.step = start_epoch * len(loader)
    run_start = time.time()
    for epoch in range(start_epoch, cfg.optim.epochs):
        D.seed_everything(_epoch_seed(cfg.seed, epoch, rt.rank), cfg.deterministic)
        loader.sampler.set_epoch(epoch)
        t0 = time.time()
        stats = train_one_epoch(state, loader, epoch)
        record = {"kind": "epoch", "epoch": epoch, **stats}
        if cfg.eval.every and (epoch + 1) % cfg.eval.every == 0 and epoch + 1 < cfg.optim.epochs:
            record["test_video_top1"] = _quick_eval(cfg, rt, model, data)
        if cfg.optim.scheduler == "plateau":  # the same signal for every method: CE on held-out videos
            record["val_loss"] = _validation_loss(cfg, rt, model, data)
            scheduler_step(cfg.optim, scheduler, val_loss=record["val_loss"])
        record["seconds"] = round(time.time() - t0, 3)
        if rt.is_main:
            rd.append_metrics(record)
            checkpointing.save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, cfg, state.loss_fn)
        D.barrier(rt)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    if cfg.optim.epochs == 0 and rt.is_main:  # the init evaluated as it is: its weights become the run's
        checkpointing.save_checkpoint(ckpt_path, model, optimizer, scheduler, -1, cfg, state.loss_fn)
    _finish(cfg, rt, model, data, rd, time.time() - run_start)
    return run_dir


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Every epoch reseeds all RNGs from (seed, epoch, rank): a resumed run replays the same batches."""
    return seed * 1_000_003 + epoch * 1009 + rank


# ----------------------------------------------------------------------------------------------- losses
def build_loss(cfg: Config) -> DualActionLoss:
    """flow / rgb: CE. mars: CE + α·MSE(pool). ds: CE + α(MAE + Gram); ds_mae / ds_gram: one term."""
    mae, gram, mse = {
        "mars": (False, False, True),
        "ds": (True, True, False),
        "ds_mae": (True, False, False),
        "ds_gram": (False, True, False),
    }.get(cfg.method, (False, False, False))
    d = cfg.distill
    return DualActionLoss(
        alpha=d.alpha, mae=mae, gram=gram, mse=mse, layers=teacher_layers(cfg), normalize=d.normalize
    )


def _validation_loss(cfg: Config, rt: D.Runtime, model: nn.Module, data: edata.RunData) -> float:
    """Mean CE of the validation videos' scores (mean clip logits, eval protocol); equal on every rank."""
    import torch.nn.functional as F

    from dualaction_lib.engine.evaluate import score_dataset

    loss = 0.0
    if rt.is_main:
        scored = score_dataset(model, data.val, cfg, rt, desc="val")
        loss = float(F.cross_entropy(scored["scores"], scored["labels"]))
    return D.all_sum([loss], rt)[0]


def _quick_eval(cfg: Config, rt: D.Runtime, model: nn.Module, data: edata.RunData) -> float | None:
    from dualaction_lib.engine.evaluate import score_dataset, summarize

    top1 = None
    if rt.is_main:
        top1 = summarize(score_dataset(model, data.test, cfg, rt))["video_top1"]
    D.barrier(rt)
    return top1


def _finish(
    cfg: Config, rt: D.Runtime, model: nn.Module, data: edata.RunData, rd: RunDir, seconds: float
) -> None:
    from dualaction_lib.engine.evaluate import evaluate_model

    sums = D.weight_checksums(model, rt)
    if rt.is_main:
        if rt.distributed:
            rd.append_metrics(
                {"kind": "ddp", "world_size": rt.world_size, "checksums": sums, "agree": len(set(sums)) == 1}
            )
        evaluate_model(model, cfg, rd, rt, data, train_seconds=seconds)
    D.barrier(rt)

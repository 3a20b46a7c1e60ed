"""One epoch of training for every method: student forward, frozen teacher pass, loss, step, logging."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dualaction_lib.config import Config
from dualaction_lib.engine import distributed as D
from dualaction_lib.engine.modeling import teacher_layers
from dualaction_lib.engine.optim import scheduler_step
from dualaction_lib.io import append_jsonl


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss term becomes NaN or inf; the message names the step and the term."""


@dataclass
class TrainState:
    """What the training loop reads and updates, built once per run by ``engine.train``."""

    cfg: Config
    rt: D.Runtime
    net: nn.Module  # StudentHead, wrapped in DDP when distributed: x → (logits, features)
    teacher: nn.Module | None  # frozen flow network, None for flow / rgb
    loss_fn: Callable[..., tuple[Tensor, dict[str, float]]]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    metrics_path: Path  # <run_dir>/metrics.jsonl
    step: int = 0  # optimizer steps taken so far (global, continues across epochs and resumes)


def check_finite(loss: Tensor, parts: dict[str, float], epoch: int, step: int) -> None:
    """Stop on NaN/inf, naming the step and the first offending term."""
    if math.isfinite(float(loss.detach())):
        return
    bad = [k for k, v in parts.items() if k != "total" and not math.isfinite(v)] or ["total"]
    values = ", ".join(f"{k}={v}" for k, v in parts.items())
    raise NonFiniteLossError(
        f"non-finite loss at epoch {epoch} step {step}: term {bad[0]!r} is not finite "
        f"({values}); lower optim.lr or distill.alpha"
    )


def train_one_epoch(state: TrainState, loader: Any, epoch: int) -> dict[str, float]:
    """Train on every batch of ``loader``; returns the epoch's mean losses, accuracy and last lr."""
    cfg, rt, optimizer = state.cfg, state.rt, state.optimizer
    state.net.train()
    layers = teacher_layers(cfg)
    student_key = "flow" if cfg.method == "flow" else "rgb"
    sums: dict[str, float] = {}
    correct = seen = 0
    bar = tqdm(
        loader,
        desc=f"{cfg.method} epoch {epoch + 1}/{cfg.optim.epochs}",
        leave=False,
        disable=not (cfg.progress and rt.is_main),
        mininterval=cfg.progress_interval,
    )
    for batch in bar:
        t0 = time.time()
        x = batch[student_key].to(rt.device, non_blocking=True)  # (B, C, T, H, W)
        y = batch["label"].to(rt.device, non_blocking=True)  # (B,)
        with D.autocast(rt):
            logits, feats = state.net(x)  # (B, K), {"layer1": (B, C1, T1, H1, W1), …, "pool": (B, C)}
            t_feats = None
            if state.teacher is not None:
                with torch.no_grad():  # one teacher pass per batch, no graph
                    flow = batch["flow"].to(rt.device, non_blocking=True)  # (B, 2, T, H, W), aligned
                    t_feats = state.teacher.forward_intermediates(flow, layers)
        s_feats = {k: v.float() for k, v in feats.items() if k in layers}
        t_feats = {k: v.float() for k, v in t_feats.items()} if t_feats is not None else None
        loss, parts = state.loss_fn(logits.float(), y, s_feats, t_feats)
        check_finite(loss, parts, epoch, state.step)
        optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            state.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(state.net.parameters(), cfg.optim.grad_clip)
        state.scaler.step(optimizer)
        state.scaler.update()
        scheduler_step(cfg.optim, state.scheduler, per_batch=True)
        n = y.shape[0]
        seen += n
        correct += int((logits.detach().argmax(1) == y).sum())
        parts = {"loss": float(loss.detach()), **{k: v for k, v in parts.items() if k != "total"}}
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * n
        if rt.is_main:
            lr = optimizer.param_groups[0]["lr"]
            record = {"kind": "step", "epoch": epoch, "step": state.step, **parts, "lr": lr}
            append_jsonl(state.metrics_path, {**record, "time": round(time.time() - t0, 4)})
            bar.set_postfix(loss=f"{parts['loss']:.3f}", refresh=False)
        state.step += 1
    totals = D.all_sum([*sums.values(), float(correct), float(seen)], rt)
    seen_all = max(totals[-1], 1.0)
    stats = {
        f"train_{k}" if k != "loss" else "train_loss": v / seen_all
        for k, v in zip(sums, totals, strict=False)
    }
    stats["train_acc"] = totals[-2] / seen_all
    stats["lr"] = optimizer.param_groups[0]["lr"]
    return stats

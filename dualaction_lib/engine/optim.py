"""Optimizers and learning-rate schedules from OptimConfig.

``plateau`` (MARS's code) steps once per epoch on the validation CE (the held-out split of
``data.val_fraction``), never on the training loss, which includes α·distillation and would make the
schedule depend on the method; ``cosine`` and ``step`` are LambdaLR schedules stepped every batch (with
optional linear warm-up), so short CPU runs anneal smoothly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dualaction_lib.config.schema import Config, ConfigError, OptimConfig


def build_optimizer(o: OptimConfig, model: nn.Module) -> torch.optim.Optimizer:
    """SGD (momentum, dampening, nesterov; MARS/paper apply weight decay to every parameter) or AdamW."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("no trainable parameters (check model.finetune_from)")
    groups = [{"params": params, "weight_decay": o.weight_decay}]
    if o.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=o.lr, momentum=o.momentum, dampening=o.dampening, nesterov=o.nesterov
        )
    return torch.optim.AdamW(groups, lr=o.lr)


def build_scheduler(o: OptimConfig, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    if o.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", patience=o.patience, factor=o.factor
        )
    if o.scheduler == "none":
        return None
    total = max(1, o.epochs * steps_per_epoch)
    warm = o.warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if o.scheduler == "cosine":
            progress = (step - warm) / max(1, total - warm)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return o.factor ** ((step - warm) // max(1, o.step_size * steps_per_epoch))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def check_schedule(cfg: Config) -> None:
    """A plateau schedule needs a validation split to watch; refused in one line before any work."""
    if cfg.optim.scheduler == "plateau" and cfg.optim.epochs > 0 and cfg.data.val_fraction <= 0:
        raise ConfigError(
            "optim.scheduler: plateau steps on the validation CE, but data.val_fraction is 0 (no validation "
            "split); hold one out with --data.val_fraction 0.1, or choose a fixed schedule with "
            "--optim.scheduler cosine (or step, none)"
        )


def scheduler_step(
    o: OptimConfig, scheduler: Any, *, per_batch: bool = False, val_loss: float | None = None
) -> None:
    """Per-batch call for LambdaLR schedules, per-epoch call (with the validation CE) for plateau."""
    if scheduler is None:
        return
    if o.scheduler == "plateau":
        if not per_batch:
            scheduler.step(val_loss)
    elif per_batch:
        scheduler.step()

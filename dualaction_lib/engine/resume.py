"""A training run's state in its checkpoint: saved every epoch, loaded when a rerun resumes.

The run folder's files are :class:`dualaction_lib.rundir.RunDir`'s; this module knows what a training
checkpoint holds (model, optimizer, scheduler, RNG, the loss's step0 scales).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from torch import nn

from dualaction_lib.config import Config
from dualaction_lib.engine import distributed as D


def save_checkpoint(
    path: Path, model: nn.Module, optimizer: Any, scheduler: Any, epoch: int, cfg: Config, loss_fn: Any = None
) -> None:
    from dualaction_lib.models import save_checkpoint as save_model

    save_model(
        path,
        model,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict() if scheduler is not None else {},
        epoch=epoch,
        rng_state=D.rng_state(),
        config=cfg.to_dict(),
        loss_scales={k: float(v) for k, v in (getattr(loss_fn, "scales", {}) or {}).items()},  # step0
    )


def resume(path: Path, model: nn.Module, optimizer: Any, scheduler: Any, loss_fn: Any = None) -> int:
    """Load model, optimizer, scheduler, RNG and loss-scale states; returns the first epoch to train."""
    from dualaction_lib.models import load_checkpoint

    ckpt = load_checkpoint(path, fix="rerun train with --fresh to start the run again")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler"):
        scheduler.load_state_dict(ckpt["scheduler"])
    D.set_rng_state(ckpt["rng_state"])
    if loss_fn is not None and ckpt.get("loss_scales"):
        loss_fn.scales = {k: float(v) for k, v in ckpt["loss_scales"].items()}
    print(f"[dualaction] resuming {path.parent} after epoch {ckpt['epoch'] + 1}", file=sys.stderr)
    return int(ckpt["epoch"]) + 1

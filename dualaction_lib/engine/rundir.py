"""A run directory's files: config.yaml (validated on resume), checkpoint.pt, metrics.jsonl.

``<out_dir>/<preset>/<method>_seed<k>/`` holds config.yaml, metrics.jsonl, checkpoint.pt (every epoch,
atomic), eval.json and scores.pt (written by :func:`dualaction_lib.engine.evaluate.evaluate_model`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from torch import nn

from dualaction_lib.config import FREEFORM_KEYS, Config, ConfigError, read_config, save_config
from dualaction_lib.engine import distributed as D
from dualaction_lib.io import atomic_write_text, read_jsonl
from dualaction_lib.locks import DirLock

# Keys a resumed run may change: they say how to run, not what is trained.
_IGNORED_ON_RESUME = ("resume", "progress", "progress_interval", "log_every", "threads", "device", "amp")
_IGNORED_ON_RESUME += ("data.check",)  # how thoroughly the files are checked, not which are read
RUN_FILES = ("metrics.jsonl", "checkpoint.pt", "eval.json", "scores.pt")


def lock(run_dir: Path, purpose: str, held_here: bool = True) -> contextlib.AbstractContextManager:
    """The run directory's lock (``<run_dir>/.lock``); ``held_here=False`` (DDP ranks > 0): no-op."""
    return DirLock(run_dir, purpose) if held_here else contextlib.nullcontext()


def prepare_run_dir(cfg: Config, run_dir: Path) -> bool:
    """Create or validate the run directory; returns True when the run is already complete."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.yaml"
    if cfg_path.exists() and cfg.resume:
        old, new = read_config(cfg_path).to_dict(), cfg.to_dict()
        if not cfg.is_distill:  # distillation settings do not change a flow or rgb run
            old.pop("distill", None), new.pop("distill", None)
        diff = sorted(_diff_keys(old, new))
        if diff:
            raise ConfigError(
                f"{run_dir}: holds a run with another config (keys differ: {', '.join(diff)}); "
                f"overwrite it with --fresh (resume=False), or choose another --name"
            )
        return is_complete(cfg, run_dir)
    if not cfg.resume:
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
    save_config(cfg, cfg_path)
    return False


def _diff_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new)):
        if f"{prefix}{k}" in _IGNORED_ON_RESUME:
            continue
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and k not in FREEFORM_KEYS:
            keys += _diff_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(f"{prefix}{k}")
    return keys


def is_complete(cfg: Config, run_dir: Path) -> bool:
    return cfg.resume and (run_dir / "eval.json").exists() and (run_dir / "scores.pt").exists()


def truncate_metrics(path: Path, start_epoch: int) -> None:
    """Drop records logged after the checkpoint we resume from (an interrupted epoch)."""
    if not path.exists():
        return
    keep = [r for r in read_jsonl(path) if r.get("epoch", -1) < start_epoch and r.get("kind") != "ddp"]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))


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


def clear_run(run_dir: str | Path) -> None:
    """Delete a run directory (e.g. before retraining with another config under the same name)."""
    shutil.rmtree(run_dir, ignore_errors=False)

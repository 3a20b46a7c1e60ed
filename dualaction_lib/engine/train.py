"""One training loop for every method: flow, rgb, mars, ds, ds_mae, ds_gram (DESIGN §6).

    from dualaction_lib.engine import train
    run_dir = train("cpu", method="ds", seed=0)        # or train(load_config(...))

Run directory (``<out_dir>/<preset>/<method>_seed<k>/``): config.yaml, metrics.jsonl, checkpoint.pt (every
epoch, atomic), eval.json and scores.pt (written by :func:`dualaction_lib.engine.evaluate.evaluate_model`).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from dualaction_lib.config import Config, ConfigError, load_config, override, read_config, save_config
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import distributed as D
from dualaction_lib.engine.modeling import StudentHead, build_student, load_teacher, teacher_layers
from dualaction_lib.engine.optim import build_optimizer, build_scheduler, scheduler_step
from dualaction_lib.io import append_jsonl, atomic_write_text, read_jsonl

EpochHook = Callable[[int, dict[str, Any]], None]
_IGNORED_ON_RESUME = ("resume", "progress", "progress_interval", "threads", "device", "amp")


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss term becomes NaN or inf; the message names the step and the term."""


def train(cfg: Config | str = "cpu", *, on_epoch_end: EpochHook | None = None, **overrides: Any) -> Path:
    """Train (or resume) one run and evaluate it; returns the run directory."""
    if isinstance(cfg, str):
        cfg = load_config(cfg, **overrides)
    elif overrides:
        cfg = override(cfg, **overrides)
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    rt = D.setup_runtime(cfg.device, cfg.amp)
    try:
        if cfg.is_distill:
            _ensure_teacher(cfg)
        return _train(cfg, rt, on_epoch_end)
    finally:
        D.cleanup(rt)
        torch.set_num_threads(threads)


def _ensure_teacher(cfg: Config) -> None:
    """With distill.teacher 'auto', train the flow teacher first when its run is missing or incomplete."""
    from dualaction_lib.engine.modeling import resolve_teacher_path

    path = resolve_teacher_path(cfg)
    if cfg.distill.teacher != "auto" or (path / "eval.json").exists():
        return
    if not cfg.distill.auto_train_teacher:
        raise FileNotFoundError(f"no flow teacher at {path}; train it with --method flow")
    print(f"[dualaction] flow teacher {path} missing: training it first", file=sys.stderr)
    _train(
        override(cfg, method="flow", seed=cfg.distill.teacher_seed, name=""),
        D.setup_runtime(cfg.device, cfg.amp),
        None,
    )


def _train(cfg: Config, rt: D.Runtime, on_epoch_end: EpochHook | None) -> Path:
    run_dir = cfg.run_dir
    ckpt_path = run_dir / "checkpoint.pt"
    if rt.is_main and _prepare_run_dir(cfg, run_dir):
        print(f"[dualaction] run already complete: {run_dir}", file=sys.stderr)
    D.barrier(rt)
    if _is_complete(cfg, run_dir):
        return run_dir
    if rt.is_main:
        edata.ensure_prepared(cfg)
    D.barrier(rt)

    D.seed_everything(cfg.seed, cfg.deterministic)
    bundle = edata.build_train_data(cfg, rt)
    model = build_student(cfg, bundle.num_classes).to(rt.device)
    head = StudentHead(model, teacher_layers(cfg) if cfg.is_distill else ("pool",)).to(rt.device)
    net: nn.Module = head
    if rt.distributed:
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(head, device_ids=ids)
    teacher = load_teacher(cfg, bundle.num_classes, rt.device) if cfg.is_distill else None
    loss_fn = build_loss(cfg)
    optimizer = build_optimizer(cfg.optim, model)
    scheduler = build_scheduler(cfg.optim, optimizer, steps_per_epoch=len(bundle.train_loader))
    scaler = D.grad_scaler(rt)

    start_epoch = 0
    if cfg.resume and ckpt_path.exists():
        start_epoch = _resume(ckpt_path, model, optimizer, scheduler)
        if rt.is_main:
            _truncate_metrics(run_dir / "metrics.jsonl", start_epoch)
    step = start_epoch * len(bundle.train_loader)
    run_start = time.time()
    for epoch in range(start_epoch, cfg.optim.epochs):
        D.seed_everything(_epoch_seed(cfg.seed, epoch, rt.rank), cfg.deterministic)
        bundle.sampler.set_epoch(epoch)
        t0 = time.time()
        stats, step = train_one_epoch(
            cfg,
            rt,
            net,
            teacher,
            loss_fn,
            optimizer,
            scheduler,
            scaler,
            bundle.train_loader,
            epoch,
            step,
            run_dir,
        )
        record = {"kind": "epoch", "epoch": epoch, **stats}
        if cfg.eval.every and (epoch + 1) % cfg.eval.every == 0 and epoch + 1 < cfg.optim.epochs:
            record["test_video_top1"] = _quick_eval(cfg, rt, model, bundle)
        scheduler_step(cfg.optim, scheduler, epoch_loss=stats["train_loss"])
        record["seconds"] = round(time.time() - t0, 3)
        if rt.is_main:
            append_jsonl(run_dir / "metrics.jsonl", record)
            _save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch, cfg)
        D.barrier(rt)
        if on_epoch_end is not None:
            on_epoch_end(epoch, record)
    _finish(cfg, rt, model, bundle, run_dir, time.time() - run_start)
    return run_dir


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Every epoch reseeds all RNGs from (seed, epoch, rank): a resumed run replays the same batches."""
    return seed * 1_000_003 + epoch * 1009 + rank


# ----------------------------------------------------------------------------------------------- losses
def build_loss(cfg: Config) -> Callable[..., tuple[Tensor, dict[str, float]]]:
    """flow / rgb: CE. mars: CE + α·MSE(pool). ds: CE + α(MAE + Gram); ds_mae / ds_gram: one term."""
    if not cfg.is_distill:
        return ce_loss
    from dualaction_lib.losses import DualActionLoss

    flags = {
        "mars": (False, False, True),
        "ds": (True, True, False),
        "ds_mae": (True, False, False),
        "ds_gram": (False, True, False),
    }[cfg.method]
    mae, gram, mse = flags
    return DualActionLoss(alpha=cfg.distill.alpha, mae=mae, gram=gram, mse=mse, layers=teacher_layers(cfg))


def ce_loss(logits: Tensor, target: Tensor, *_: Any) -> tuple[Tensor, dict[str, float]]:
    loss = F.cross_entropy(logits, target)
    return loss, {"ce": float(loss.detach())}


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


# ----------------------------------------------------------------------------------------------- epoch
def train_one_epoch(
    cfg: Config,
    rt: D.Runtime,
    net: nn.Module,
    teacher: nn.Module | None,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    loader: Any,
    epoch: int,
    step: int,
    run_dir: Path,
) -> tuple[dict[str, float], int]:
    net.train()
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
            logits, feats = net(x)  # (B, K), {"layer1": (B, C1, T1, H1, W1), …, "pool": (B, C)}
            t_feats = None
            if teacher is not None:
                with torch.no_grad():  # one teacher pass per batch, no graph
                    flow = batch["flow"].to(rt.device, non_blocking=True)  # (B, 2, T, H, W), aligned
                    t_feats = teacher.forward_features(flow, layers)
        s_feats = {k: v.float() for k, v in feats.items() if k in layers}
        t_feats = {k: v.float() for k, v in t_feats.items()} if t_feats is not None else None
        loss, parts = loss_fn(logits.float(), y, s_feats, t_feats)
        check_finite(loss, parts, epoch, step)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(net.parameters(), cfg.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler_step(cfg.optim, scheduler, per_batch=True)
        n = y.shape[0]
        seen += n
        correct += int((logits.detach().argmax(1) == y).sum())
        parts = {"loss": float(loss.detach()), **{k: v for k, v in parts.items() if k != "total"}}
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v * n
        if rt.is_main:
            lr = optimizer.param_groups[0]["lr"]
            append_jsonl(
                run_dir / "metrics.jsonl",
                {
                    "kind": "step",
                    "epoch": epoch,
                    "step": step,
                    **parts,
                    "lr": lr,
                    "time": round(time.time() - t0, 4),
                },
            )
            bar.set_postfix(loss=f"{parts['loss']:.3f}", refresh=False)
        step += 1
    totals = D.all_sum([*sums.values(), float(correct), float(seen)], rt)
    seen_all = max(totals[-1], 1.0)
    stats = {
        f"train_{k}" if k != "loss" else "train_loss": v / seen_all
        for k, v in zip(sums, totals, strict=False)
    }
    stats["train_acc"] = totals[-2] / seen_all
    stats["lr"] = optimizer.param_groups[0]["lr"]
    return stats, step


# ----------------------------------------------------------------------------------------------- run dir
def _prepare_run_dir(cfg: Config, run_dir: Path) -> bool:
    """Create or validate the run directory; returns True when the run is already complete."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "config.yaml"
    if cfg_path.exists() and cfg.resume:
        old = read_config(cfg_path).to_dict()
        new = cfg.to_dict()
        diff = sorted(_diff_keys(old, new))
        if diff:
            raise ConfigError(
                f"{run_dir} holds a run with another config (keys differ: {', '.join(diff)}); "
                f"pass resume=False to overwrite it, or choose another name"
            )
        return _is_complete(cfg, run_dir)
    if not cfg.resume:
        for name in ("metrics.jsonl", "checkpoint.pt", "eval.json", "scores.pt"):
            (run_dir / name).unlink(missing_ok=True)
    save_config(cfg, cfg_path)
    return False


def _diff_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new)):
        if not prefix and k in _IGNORED_ON_RESUME:
            continue
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict) and k not in ("options", "synthetic", "flow_params"):
            keys += _diff_keys(a, b, f"{prefix}{k}.")
        elif a != b:
            keys.append(f"{prefix}{k}")
    return keys


def _is_complete(cfg: Config, run_dir: Path) -> bool:
    return cfg.resume and (run_dir / "eval.json").exists() and (run_dir / "scores.pt").exists()


def _truncate_metrics(path: Path, start_epoch: int) -> None:
    """Drop records logged after the checkpoint we resume from (an interrupted epoch)."""
    if not path.exists():
        return
    import json

    keep = [r for r in read_jsonl(path) if r.get("epoch", -1) < start_epoch and r.get("kind") != "ddp"]
    atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))


def _save_checkpoint(
    path: Path, model: nn.Module, optimizer: Any, scheduler: Any, epoch: int, cfg: Config
) -> None:
    from dualaction_lib.models import save_checkpoint

    save_checkpoint(
        path,
        model,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict() if scheduler is not None else {},
        epoch=epoch,
        rng_state=D.rng_state(),
        config=cfg.to_dict(),
    )


def _resume(path: Path, model: nn.Module, optimizer: Any, scheduler: Any) -> int:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler"):
        scheduler.load_state_dict(ckpt["scheduler"])
    D.set_rng_state(ckpt["rng_state"])
    print(f"[dualaction] resuming {path.parent} after epoch {ckpt['epoch'] + 1}", file=sys.stderr)
    return int(ckpt["epoch"]) + 1


def _quick_eval(cfg: Config, rt: D.Runtime, model: nn.Module, bundle: edata.TrainData) -> float | None:
    from dualaction_lib.engine.evaluate import score_dataset, summarize

    top1 = None
    if rt.is_main:
        top1 = summarize(score_dataset(model, bundle.test_ds, cfg, rt))["video_top1"]
    D.barrier(rt)
    return top1


def _finish(
    cfg: Config, rt: D.Runtime, model: nn.Module, bundle: edata.TrainData, run_dir: Path, seconds: float
) -> None:
    from dualaction_lib.engine.evaluate import evaluate_model

    sums = D.weight_checksums(model, rt)
    if rt.is_main:
        if rt.distributed:
            append_jsonl(
                run_dir / "metrics.jsonl",
                {"kind": "ddp", "world_size": rt.world_size, "checksums": sums, "agree": len(set(sums)) == 1},
            )
        evaluate_model(model, cfg, run_dir, rt, bundle=bundle, train_seconds=seconds)
    D.barrier(rt)


def clear_run(run_dir: str | Path) -> None:
    """Delete a run directory (e.g. before retraining with another config under the same name)."""
    shutil.rmtree(run_dir, ignore_errors=False)

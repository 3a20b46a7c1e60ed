"""One epoch of training for every method: student forward, frozen teacher pass, loss, step, logging.

The step never waits for the device: loss terms stay detached tensors and are summed on the device. Every
``log_every`` steps (and at the epoch's end) ONE transfer brings the interval's sums to the host, where the
NaN/inf check runs and one metrics record is written. A non-finite term therefore stops the run at
the end of its interval, before the epoch's checkpoint is written, naming the step where it first appeared.
(With fp16 autocast, torch's GradScaler still checks for inf gradients on the host at every step; bf16,
the default on GPUs that support it, and fp32 need no scaler.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dualaction_lib.config import Config
from dualaction_lib.engine import distributed as D
from dualaction_lib.engine.balance import balance_record, level_balance, loss_balance
from dualaction_lib.engine.modeling import teacher_layers
from dualaction_lib.engine.optim import scheduler_step
from dualaction_lib.io import append_jsonl
from dualaction_lib.losses import DualActionLoss


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss term becomes NaN or inf; the message names the steps and the term."""


@dataclass
class TrainState:
    """What the training loop reads and updates, built once per run by ``engine.train``."""

    cfg: Config
    rt: D.Runtime
    net: nn.Module  # StudentHead, wrapped in DDP when distributed: x → (logits, features)
    teacher: nn.Module | None  # frozen flow network, None for flow / rgb
    loss_fn: DualActionLoss  # CE, MARS or DS terms: raw_terms → weigh → sum
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    metrics_path: Path  # the run folder's metrics log (RunDir.metrics_path)
    step: int = 0  # optimizer steps taken so far (global, continues across epochs and resumes)

    @property
    def params(self) -> list[Tensor]:
        """The student's trainable parameters (what the loss balance measures gradients at)."""
        return [p for p in self.net.parameters() if p.requires_grad]


@dataclass
class IntervalMeter:
    """Sums of the logged values over a logging interval, kept on the device until :meth:`fetch`.

    ``add`` takes per-step values already weighted by the batch size. Besides the sums it tracks, per
    value, the first step at which it was not finite (inf when it always was).
    """

    sums: dict[str, Tensor] = field(default_factory=dict)
    first_bad: dict[str, Tensor] = field(default_factory=dict)
    samples: int = 0
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)
    # metrics records whose values are still on the device: (record, {section: {name: 0-dim tensor}})
    deferred: list[tuple[dict[str, Any], dict[str, dict[str, Tensor]]]] = field(default_factory=list)

    def add(self, values: Mapping[str, Tensor], samples: int, step: int) -> None:
        for key, value in values.items():
            value = value.detach().float()
            bad_at = torch.where(torch.isfinite(value), math.inf, float(step))  # () on the device
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.first_bad[key] = (
                torch.minimum(self.first_bad[key], bad_at) if key in self.first_bad else bad_at
            )
        self.samples += samples
        self.steps += 1

    def defer(self, record: dict[str, Any], values: Mapping[str, Mapping[str, Tensor]]) -> None:
        """Write ``record`` with ``values`` (device tensors) filled in at the interval's one transfer."""
        self.deferred.append((record, {k: dict(v) for k, v in values.items()}))

    def fetch(self) -> tuple[dict[str, float], dict[str, float], list[dict[str, Any]]]:
        """(sums, first non-finite step per value, deferred records) in one device-to-host transfer."""
        keys = list(self.sums)
        deferred = [t for _, values in self.deferred for section in values.values() for t in section.values()]
        tensors = [self.sums[k] for k in keys] + [self.first_bad[k] for k in keys]
        host = torch.stack(tensors + [t.float() for t in deferred]).tolist()
        sums = dict(zip(keys, host[: len(keys)], strict=True))
        first_bad = dict(zip(keys, host[len(keys) : 2 * len(keys)], strict=True))
        fetched = iter(host[2 * len(keys) :])
        records = [
            {
                **record,
                **{section: {name: next(fetched) for name in names} for section, names in values.items()},
            }
            for record, values in self.deferred
        ]
        return sums, first_bad, records


def check_finite(
    means: dict[str, float], first_bad: dict[str, float], epoch: int, steps: range, log_every: int
) -> None:
    """Stop on NaN/inf, naming the interval, the term that went bad first and the step it did."""
    bad = {k: s for k, s in first_bad.items() if math.isfinite(s)}
    if not bad:
        return
    terms = {k: s for k, s in bad.items() if k not in ("loss", "correct")} or bad  # the term, not the total
    term = min(terms, key=lambda k: terms[k])  # earliest; ties keep the loss's own order
    values = ", ".join(f"{k}={v:.4g}" for k, v in means.items())
    raise NonFiniteLossError(
        f"non-finite loss in epoch {epoch}, steps {steps.start}-{steps.stop - 1} (checked every "
        f"{log_every} steps): term {term!r} first not finite at step {int(terms[term])} (means: {values}); "
        f"lower optim.lr or distill.alpha"
    )


def train_one_epoch(state: TrainState, loader: Any, epoch: int) -> dict[str, float]:
    """Train on every batch of ``loader``; returns the epoch's mean losses, accuracy and last lr."""
    cfg, rt, optimizer = state.cfg, state.rt, state.optimizer
    state.net.train()
    layers = teacher_layers(cfg)
    student_key = cfg.input_modality
    totals: dict[str, float] = {}  # host sums over the epoch, updated once per interval
    seen = 0
    interval = IntervalMeter()
    bar = tqdm(
        loader,
        desc=f"{cfg.method} epoch {epoch + 1}/{cfg.optim.epochs}",
        leave=False,
        disable=not (cfg.progress and rt.is_main),
        mininterval=cfg.progress_interval,
    )

    def flush(last_step: int) -> None:
        nonlocal interval, seen
        sums, first_bad, deferred = interval.fetch()  # the interval's only host sync
        steps = range(last_step - interval.steps + 1, last_step + 1)
        means = {k: v / interval.samples for k, v in sums.items() if k != "correct"}
        check_finite(means, first_bad, epoch, steps, cfg.log_every)
        for key, value in sums.items():
            totals[key] = totals.get(key, 0.0) + value
        seen += interval.samples
        if rt.is_main:
            seconds = (time.perf_counter() - interval.started) / interval.steps
            record = {"kind": "step", "epoch": epoch, "first_step": steps.start, "step": steps.stop - 1}
            record.update(means, lr=optimizer.param_groups[0]["lr"], time=round(seconds, 4))
            for extra in deferred:  # the scales and loss-balance records measured in this interval
                append_jsonl(
                    state.metrics_path, balance_record(extra) if extra["kind"] == "balance" else extra
                )
            append_jsonl(state.metrics_path, record)
            bar.set_postfix(loss=f"{means['loss']:.3f}", refresh=False)
        interval = IntervalMeter()

    first_batch = True
    for batch in bar:
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
        t_feats = {k: v.float() for k, v in t_feats.items()} if t_feats is not None else {}
        loss_fn = state.loss_fn
        terms = loss_fn.raw_terms(logits.float(), y, s_feats, t_feats)  # before α, with graphs
        calibrating = loss_fn.needs_calibration  # distill.normalize step0: once, on the run's first batch
        loss, weighted = loss_fn.combine(terms)
        if calibrating:
            interval.defer({"kind": "scales", "step": state.step}, {"scales": dict(loss_fn.scales)})
        if first_batch and state.teacher is not None:
            balance = loss_balance(weighted, terms, state.params)
            if epoch == 0:  # the run's first batch: also each level of MAE and Gram
                balance |= level_balance(loss_fn, terms["ce"], s_feats, t_feats, state.params)
            interval.defer({"kind": "balance", "epoch": epoch, "step": state.step}, balance)
        first_batch = False
        optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            state.scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(state.net.parameters(), cfg.optim.grad_clip)
        state.scaler.step(optimizer)
        state.scaler.update()
        scheduler_step(cfg.optim, state.scheduler, per_batch=True)
        n = y.shape[0]
        logged = {"loss": loss, **terms}
        sums = {k: v.detach() * n for k, v in logged.items()}  # sums of per-sample means
        sums["correct"] = (logits.detach().argmax(1) == y).sum()
        interval.add(sums, n, state.step)
        if interval.steps == cfg.log_every:
            flush(state.step)
        state.step += 1
    if interval.steps:
        flush(state.step - 1)
    summed = D.all_sum([*totals.values(), float(seen)], rt)
    seen_all = max(summed[-1], 1.0)
    stats = {
        ("train_loss" if k == "loss" else "train_acc" if k == "correct" else f"train_{k}"): v / seen_all
        for k, v in zip(totals, summed, strict=False)
    }
    stats["lr"] = optimizer.param_groups[0]["lr"]
    return stats

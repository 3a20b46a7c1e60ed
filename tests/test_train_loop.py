"""The training step never waits for the device: one host transfer per logging interval, counted on a stub.

Every way a tensor reaches the host from Python (``.item()``, ``float()``, ``int()``, ``bool()``,
``.tolist()``, ``.cpu()``, ``.numpy()``) is wrapped with a counter while ``train_one_epoch`` runs a tiny
DS student with a frozen teacher over an in-memory loader.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dualaction_lib.config import load_config
from dualaction_lib.engine import distributed as D
from dualaction_lib.engine.loop import NonFiniteLossError, TrainState, train_one_epoch
from dualaction_lib.engine.modeling import StudentHead, teacher_layers
from dualaction_lib.engine.optim import build_optimizer, build_scheduler
from dualaction_lib.engine.train import build_loss
from dualaction_lib.io import read_jsonl
from dualaction_lib.models import build_model

HOST_TRANSFERS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")
STEPS, LOG_EVERY = 10, 4


def _state(tmp_path: Path, method: str = "ds") -> TrainState:
    cfg = load_config("smoke", method=method, log_every=LOG_EVERY, progress=False, **{"optim.epochs": 1})
    rt = D.Runtime(torch.device("cpu"))
    model = build_model("resnet10", 3, 4, widths=(4, 4, 4, 4))
    optimizer = build_optimizer(cfg.optim, model)
    return TrainState(
        cfg,
        rt,
        StudentHead(model, teacher_layers(cfg)),
        teacher=build_model("resnet10", 2, 4, widths=(4, 4, 4, 4)).eval().requires_grad_(False),
        loss_fn=build_loss(cfg),
        optimizer=optimizer,
        scheduler=build_scheduler(cfg.optim, optimizer, steps_per_epoch=STEPS),
        scaler=D.grad_scaler(rt),
        metrics_path=tmp_path / "metrics.jsonl",
    )


def _batches() -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        {
            "rgb": torch.randn(2, 3, 4, 32, 32, generator=g),  # (B, C, T, H, W)
            "flow": torch.randn(2, 2, 4, 32, 32, generator=g),
            "label": torch.tensor([0, 1]),
        }
        for _ in range(STEPS)
    ]


def test_one_host_transfer_per_logging_interval(tmp_path: Path, monkeypatch) -> None:
    state = _state(tmp_path)
    batches = _batches()
    current = {"step": -1}
    transfers: list[tuple[int, str]] = []  # (step being trained, method)

    def loader():
        for step, batch in enumerate(batches):
            current["step"] = step
            yield batch

    for name in HOST_TRANSFERS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            transfers.append((current["step"], _name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    stats = train_one_epoch(state, loader(), epoch=0)
    monkeypatch.undo()

    # intervals end at steps 3 and 7 (every 4 steps) and at 9 (the epoch's end): one transfer each
    assert transfers == [(3, "tolist"), (7, "tolist"), (9, "tolist")], transfers
    assert state.step == STEPS
    records = [r for r in read_jsonl(state.metrics_path) if r["kind"] == "step"]
    assert [(r["first_step"], r["step"]) for r in records] == [(0, 3), (4, 7), (8, 9)]
    assert all({"loss", "ce", "mae", "gram", "lr", "time"} <= set(r) for r in records)
    assert all(math.isfinite(r["loss"]) for r in records)
    # the epoch's means weigh every sample once: the mean of the records' means, weighted by their steps
    weights = [r["step"] - r["first_step"] + 1 for r in records]
    expected = sum(w * r["loss"] for w, r in zip(weights, records, strict=True)) / STEPS
    assert stats["train_loss"] == pytest.approx(expected) and 0.0 <= stats["train_acc"] <= 1.0


def test_a_nan_stops_at_the_end_of_its_interval_naming_step_and_term(tmp_path: Path) -> None:
    state = _state(tmp_path, method="ds_mae")
    raw_terms = state.loss_fn.raw_terms

    def nan_from_step_5(*args):
        terms = raw_terms(*args)
        return {**terms, "mae": terms["mae"] * math.nan} if state.step >= 5 else terms

    state.loss_fn.raw_terms = nan_from_step_5
    message = r"steps 4-7 \(checked every 4 steps\): term 'mae' first not finite at step 5"
    with pytest.raises(NonFiniteLossError, match=message):
        train_one_epoch(state, _batches(), epoch=0)
    assert state.step == 7, "the run stops at the end of the interval that saw the NaN"
    logged = [r["step"] for r in read_jsonl(state.metrics_path) if r["kind"] == "step"]
    assert logged == [3], "only the finite interval is logged"

"""Late fusion of two frozen runs from their cached per-video scores, in seconds.

    from dualaction_lib.engine import fuse
    out = fuse("runs/cpu/ds_seed0", "runs/cpu/flow_seed0", method="attention")
    # → the fusion folder next to run A (rundir.RunDir.fusion_of): its evaluation and fitted weights

"average" is the two-stream baseline (mean of the streams' logits, the seed's Mimic+RGB / Mimic+Flow
columns); "attention" trains AttentionFusion on the validation-split scores (videos neither stream trained
on) and is evaluated on the test split.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from dualaction_lib.choices import FusionMethod
from dualaction_lib.engine.evaluate import per_class_top1, topk
from dualaction_lib.errors import UserError
from dualaction_lib.rundir import RunDir

FUSION_METHODS: tuple[str, ...] = get_args(FusionMethod)


class FusionInputError(UserError, ValueError):
    """The runs' cached scores cannot make this fusion (e.g. no validation split to fit attention on)."""


def load_scores(run_dir: str | Path) -> dict[str, Any]:
    from dualaction_lib.models import load_checkpoint

    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise FileNotFoundError(f"{rd.path}: no such run directory (train the run first, or check the path)")
    fix = f"train or evaluate the run first: python -m dualaction_lib evaluate {rd.path}"
    return load_checkpoint(rd.scores_path(), what="scores file", fix=fix)


def align(a: dict, b: dict, split: str) -> tuple[Tensor, Tensor, Tensor, list[str]]:
    """Scores of both runs on the same videos, in run a's order: (V, K), (V, K), labels (V,), ids."""
    if split not in a or split not in b:
        raise FusionInputError(
            f"the runs' scores lack the {split!r} split; train with data.val_fraction > 0 (val) or "
            f"eval.train_scores=true (train)"
        )
    sa, sb = a[split], b[split]
    pos = {v: i for i, v in enumerate(sb["video_ids"])}
    missing = [v for v in sa["video_ids"] if v not in pos]
    if missing or len(pos) != len(sa["video_ids"]):
        raise ValueError(
            f"the two runs scored different {split} videos (e.g. {missing[:3]}); "
            f"were they trained on the same data and split?"
        )
    order = torch.tensor([pos[v] for v in sa["video_ids"]], dtype=torch.long)
    if not torch.equal(sa["labels"], sb["labels"][order]):
        raise ValueError(f"the two runs disagree on {split} labels")
    return sa["scores"].float(), sb["scores"].float()[order], sa["labels"], list(sa["video_ids"])


def fit_split(a: dict, b: dict, fit_on: str = "auto", runs: tuple[Path, Path] | None = None) -> str:
    """The split attention fusion is fitted on (see :func:`fuse`): "auto" is the validation split, and a
    run without validation scores is refused in one line (``runs`` names the two run directories)."""
    if fit_on not in ("auto", "val", "train"):
        raise ValueError(f"fit_on must be auto, val or train, got {fit_on!r}")
    split = "val" if fit_on == "auto" else fit_on
    names = runs or (Path("run A"), Path("run B"))
    lacking = [str(name) for name, scores in zip(names, (a, b), strict=True) if split not in scores]
    if lacking:
        how = (
            "train it with data.val_fraction > 0 (videos held out of training)"
            if split == "val"
            else "evaluate it with eval.train_scores=true"
        )
        kind = "validation" if split == "val" else split
        scores_file = RunDir(names[0]).scores_path().name
        raise FusionInputError(
            f"fuse --method attention: {' and '.join(lacking)} has no {kind} "
            f"scores to fit the fusion on ({scores_file} holds no {split!r} split); {how}, or fuse with "
            f"--method average"
        )
    return split


def train_attention(
    train_a: Tensor,
    train_b: Tensor,
    labels: Tensor,
    *,
    hidden: int = 64,
    steps: int = 300,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> torch.nn.Module:
    """Full-batch Adam on CE(fused scores) over cached scores of videos the streams did not train on."""
    from dualaction_lib.models import AttentionFusion

    torch.manual_seed(seed)
    stacked = torch.stack([train_a, train_b], dim=1)  # (V, 2, K)
    model = AttentionFusion(num_streams=2, num_classes=stacked.shape[2], hidden=hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        fused, _ = model(stacked)  # (V, K)
        loss = F.cross_entropy(fused, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def fuse(
    run_a: str | Path,
    run_b: str | Path,
    method: str = "attention",
    *,
    out_dir: str | Path | None = None,
    hidden: int = 64,
    steps: int = 300,
    lr: float = 1e-2,
    seed: int = 0,
    fit_on: str = "auto",
) -> Path:
    """Fuse two runs; writes the fusion's evaluation and weights next to run A (``RunDir.fusion_of``).

    Attention fusion is fitted on ``fit_on`` scores: "val" or "auto" (held-out training videos, which
    neither stream trained on; a run without them is refused, :class:`FusionInputError`) or, only when asked
    for, "train" (the streams' own training videos, which they have memorised: the weights then favour the
    stream that overfits most). The split is recorded in the evaluation as ``fit_on``.
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"method must be one of {FUSION_METHODS}, got {method!r}")
    t0 = time.time()
    run_a, run_b = Path(run_a), Path(run_b)
    a, b = load_scores(run_a), load_scores(run_b)
    if list(a["classes"]) != list(b["classes"]):
        raise ValueError(f"{run_a} and {run_b} have different class lists")
    test_a, test_b, labels, ids = align(a, b, "test")
    stacked = torch.stack([test_a, test_b], dim=1)  # (V, 2, K)
    state: dict[str, Any] = {}
    fitted = ""
    if method == "attention":
        fitted = fit_split(a, b, fit_on, (run_a, run_b))
        fit_a, fit_b, fit_labels, _ = align(a, b, fitted)
        model = train_attention(fit_a, fit_b, fit_labels, hidden=hidden, steps=steps, lr=lr, seed=seed)
        with torch.no_grad():
            fused, weights = model(stacked)  # (V, K), (V, 2)
        state = model.state_dict()
    else:
        fused = stacked.mean(dim=1)  # (V, K)
        weights = torch.full((len(ids), 2), 0.5)
    out = RunDir(out_dir) if out_dir is not None else RunDir.fusion_of(RunDir(run_a), RunDir(run_b), method)
    result = {
        "method": method,
        "streams": [str(run_a), str(run_b)],
        "video_top1": topk(fused, labels, 1),
        "video_top5": topk(fused, labels, 5),
        "per_class_top1": per_class_top1(fused, labels, a["classes"]),
        "average_top1": topk(stacked.mean(1), labels, 1),
        "stream_top1": [topk(test_a, labels, 1), topk(test_b, labels, 1)],
        "mean_weights": weights.mean(0).tolist(),
        "num_videos": len(ids),
        "fit_on": fitted,
        "protocol": "fusion",
        "seconds": round(time.time() - t0, 3),
    }
    payload = {
        "video_ids": ids,
        "labels": labels,
        "weights": weights,
        "scores": fused,
        "streams": [str(run_a), str(run_b)],
        "classes": list(a["classes"]),
        "method": method,
        "state_dict": state,
        "hidden": hidden,
    }
    out.write_fusion(lambda f: torch.save(payload, f), result, [str(run_a), str(run_b)])
    return out.path

"""Notebook 04's data: the stream pairs of a seed, both fusions of each (``engine.fuse``), the weights.

``viz.plots`` draws what these functions return.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from dualaction_lib.choices import FusionMethod
from dualaction_lib.data.synthetic import class_cues
from dualaction_lib.rundir import RunDir

# pair label → (stream A method, stream B method), main runs; a flow stream is the students' teacher
PAIRS = {
    "DS+Flow": ("ds", "flow"),
    "DS+RGB": ("ds", "rgb"),
    "MARS+Flow": ("mars", "flow"),
    "MARS+RGB": ("mars", "rgb"),
    "RGB+Flow": ("rgb", "flow"),
}
METHODS: tuple[str, ...] = get_args(FusionMethod)


def stream_pairs(
    preset_dir: str | os.PathLike, seed: int, teacher_seed: int | None = None
) -> dict[str, tuple[Path, Path]]:
    """The pairs whose two main runs are both complete (trained and scored), label → (run A, run B).

    The flow stream of student seed k is its own teacher, the flow run of seed ``t``, the students'
    recorded teacher seed (k mod ``distill.teacher_seeds``) unless ``teacher_seed`` is given.
    """
    from .runs import teacher_seed as teacher_of

    teacher_seed = teacher_of(preset_dir, seed) if teacher_seed is None else teacher_seed
    pairs = {}
    for label, methods in PAIRS.items():
        found = [RunDir.find(preset_dir, m, teacher_seed if m == "flow" else seed) for m in methods]
        if all(rd is not None and rd.is_complete() for rd in found):
            pairs[label] = (found[0].path, found[1].path)
    return pairs


def fuse_all(
    pairs: dict[str, tuple[Path, Path]], methods=METHODS, steps: int = 300
) -> dict[tuple[str, str], Path]:
    """Run ``engine.fuse`` for every pair and method (seconds: it works on cached scores).

    Attention fusion is fitted on the validation split's scores (``fit_on="auto"``), videos neither stream
    trained on; a run without them is refused in one line; the split is recorded in each fusion's evaluation.
    """
    from dualaction_lib.engine import fuse

    return {
        (label, m): Path(fuse(a, b, method=m, steps=steps))
        for label, (a, b) in pairs.items()
        for m in methods
    }


def fusion_summary(fused: dict[tuple[str, str], Path]) -> pd.DataFrame:
    """One row per pair: each stream's top-1, both fusions' top-1, the mean attention weight of stream A
    and the split attention was fitted on (``fit_on``)."""
    rows: dict[str, dict] = {}
    for (label, method), folder in fused.items():
        result = RunDir(folder).read_eval()
        row = rows.setdefault(label, {"pair": label})
        row["stream A"], row["stream B"] = result["stream_top1"]
        row[method] = result["video_top1"]
        if method == "attention":
            row["mean weight A"] = result["mean_weights"][0]
            row["fit_on"] = result.get("fit_on", "")
    return pd.DataFrame(list(rows.values()))


def fusion_view(folder: str | os.PathLike) -> dict:
    """Per-video arrays of one fusion on the test split.

    ``weights`` (V,) of stream A; ``scores_a`` / ``scores_b`` (V, K) raw scores; ``confidence_a`` /
    ``confidence_b`` (V,) top softmax probability; ``right_a`` / ``right_b`` (V,) bool; ``labels`` (V,);
    ``classes``; ``cues`` (mixed task: class → "appearance" / "motion", else None); ``streams`` (the two
    run names).
    """
    from dualaction_lib.engine.fuse import align, load_scores
    from dualaction_lib.models import load_checkpoint

    payload = load_checkpoint(RunDir(folder).fusion_path, what="fusion file", fix="run the fusion again")
    run_a, run_b = (Path(s) for s in payload["streams"])
    scores_a, scores_b, labels, _ = align(load_scores(run_a), load_scores(run_b), "test")
    prob_a, prob_b = scores_a.softmax(1).numpy(), scores_b.softmax(1).numpy()  # (V, K)
    labels = np.asarray(labels)
    return {
        "weights": payload["weights"][:, 0].float().numpy(),
        "scores_a": scores_a.numpy(),
        "scores_b": scores_b.numpy(),
        "confidence_a": prob_a.max(1),
        "confidence_b": prob_b.max(1),
        "right_a": prob_a.argmax(1) == labels,
        "right_b": prob_b.argmax(1) == labels,
        "labels": labels,
        "classes": list(payload["classes"]),
        "cues": class_cues(payload["classes"]),
        "streams": (run_a.name, run_b.name),
    }


def weight_statistics(view: dict) -> dict:
    """How the attention weight relates to correctness (mean weight of A when only A / only B is right)
    and to the class: the mean weight of A per class and, on the mixed task, per cue (appearance-only
    vs motion-only classes, ``data.synthetic.class_cues``)."""
    w, right_a, right_b = view["weights"], view["right_a"], view["right_b"]
    stats = {"mean_weight_a": float(w.mean()), "std_weight_a": float(w.std())}
    names = np.asarray(view["classes"])[view["labels"]]
    stats["weight_a_per_class"] = {
        c: float(w[names == c].mean()) for c in view["classes"] if (names == c).any()
    }
    cues = view.get("cues")
    for cue in ("appearance", "motion") if cues else ():
        mask = np.array([cues[n] == cue for n in names])
        stats[f"weight_a_{cue}_classes"] = float(w[mask].mean()) if mask.any() else None
    for name, mask in (("only_a_right", right_a & ~right_b), ("only_b_right", ~right_a & right_b)):
        stats[f"weight_a_when_{name}"] = float(w[mask].mean()) if mask.any() else None
        stats[f"count_{name}"] = int(mask.sum())
    return stats

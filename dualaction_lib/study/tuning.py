"""Each distilling method's own α, chosen on the validation split (docs/training.md, "Each method's own α").

A comparison of methods gives every method the same tuning budget for the knobs that belong to it: the same
α grid, seeds and training recipe, scored on held-out validation videos. One α shared by all methods would
suit one of them. ``bench/tune_alpha.py`` trains the runs; the functions here are its decisions:

- :func:`val_row`: one run's row, read from its evaluation's *validation* keys only (the test score is
  never looked at, so it cannot steer the choice);
- :func:`summarize`: per method and α, the mean ± 95 % CI over seeds (``dualaction_lib.stats``);
- :func:`choose`: per method the α of the best mean (a tie goes to the smaller α) and whether the best lies
  at an edge of that method's grid, in which case :func:`extension` is the next α beyond that edge;
- :func:`tune`: the whole loop (the grid, then one extension at a time where a method's best is at an edge);
- :func:`overrides_yaml` and :func:`read_choice`: the chosen α as the preset's ``method_overrides`` block,
  and back from ``bench/results/alpha_tuning.json``; :func:`preset_mismatches` compares a preset with it;
- :func:`sensitivity`: the record's points as a table (validation top-1 per method and α), for the figure.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from dualaction_lib.config import load_config
from dualaction_lib.stats import mean_ci

EXTENSION_FACTOR = 3.0  # one step beyond a grid's edge: the grid's own spacing (0.3, 1, 3, 10, 30)
VAL_KEYS = ("val_video_top1", "num_val_videos")  # the only evaluation keys the tuning reads


def val_row(method: str, alpha: float, seed: int, result: Mapping, train_acc: float) -> dict:
    """One run's row from its evaluation ``result``: only the validation keys are read (never a test key)."""
    if result.get("val_video_top1") is None:
        raise ValueError(
            f"{method} α={alpha:g} seed {seed}: its evaluation has no val_video_top1 (the preset needs "
            "data.val_fraction > 0: α is chosen on validation videos, never on the test split)"
        )
    return {
        "method": method,
        "alpha": float(alpha),
        "seed": int(seed),
        "val_top1": float(result["val_video_top1"]),
        "num_val_videos": int(result["num_val_videos"]),
        "train_acc": float(train_acc),
    }


def summarize(rows: Iterable[Mapping]) -> dict[str, list[dict]]:
    """Per method, one point per α (ascending): mean, 95 % CI half-width (None for one seed), n and the
    seeds' values."""
    values: dict[str, dict[float, list[float]]] = {}
    for row in rows:
        values.setdefault(row["method"], {}).setdefault(float(row["alpha"]), []).append(row["val_top1"])
    out = {}
    for method, by_alpha in values.items():
        out[method] = []
        for alpha in sorted(by_alpha):
            mean, ci, n = mean_ci(by_alpha[alpha])
            ci = None if math.isnan(ci) else ci  # one seed has no interval (JSON has no NaN)
            out[method].append({"alpha": alpha, "mean": mean, "ci": ci, "n": n, "values": by_alpha[alpha]})
    return out


def choose(points: Sequence[Mapping]) -> dict:
    """The α of the best mean validation top-1 among ``points`` (one method's, from :func:`summarize`);
    equal means (to 1e-9) go to the smaller α. ``edge`` is "low" or "high" when the best is the grid's
    smallest or largest α (the optimum may lie beyond it), else None."""
    if not points:
        raise ValueError("no α points to choose from")
    alphas = sorted(float(p["alpha"]) for p in points)
    best = max(points, key=lambda p: (round(p["mean"], 9), -float(p["alpha"])))
    alpha = float(best["alpha"])
    edge = "high" if alpha == alphas[-1] and len(alphas) > 1 else None
    edge = "low" if alpha == alphas[0] and len(alphas) > 1 else edge
    return {"alpha": alpha, "mean": best["mean"], "ci": best["ci"], "n": best["n"], "edge": edge}


def extension(grid: Sequence[float], edge: str) -> float:
    """The next α beyond ``edge`` of ``grid``: one factor-of-3 step (two significant digits)."""
    if edge not in ("low", "high"):
        raise ValueError(f"edge must be 'low' or 'high', got {edge!r}")
    step = EXTENSION_FACTOR if edge == "high" else 1 / EXTENSION_FACTOR
    return float(f"{(max(grid) if edge == 'high' else min(grid)) * step:.2g}")


Job = tuple[str, float, int]  # (method, α, seed)


def tune(
    train_jobs: Callable[[list[Job]], list[dict]],
    methods: Sequence[str],
    alphas: Sequence[float],
    seeds: Sequence[int],
    max_extensions: int,
) -> dict:
    """Every method on ``alphas`` × ``seeds``; then, while a method's best α is at an edge of its grid and
    it has had fewer than ``max_extensions`` extensions, that method alone gets the next α beyond the edge
    (the same seeds). ``train_jobs`` trains a list of jobs and returns their rows (:func:`val_row`).

    Returns rows, per-method grid (sorted), extensions (α added, in order), points and choice; a choice
    still at an edge after the last extension says so (``edge_after_extensions``)."""
    if max_extensions < 0:
        raise ValueError(f"max_extensions must be >= 0, got {max_extensions}")
    grids = {m: sorted(float(a) for a in alphas) for m in methods}
    extensions: dict[str, list[float]] = {m: [] for m in methods}
    rows = train_jobs([(m, a, s) for a in grids[methods[0]] for m in methods for s in seeds])
    while True:
        points = summarize(rows)
        choice = {m: choose(points[m]) for m in methods}
        jobs = []
        for m in methods:
            if choice[m]["edge"] and len(extensions[m]) < max_extensions:
                alpha = extension(grids[m], choice[m]["edge"])
                grids[m] = sorted([*grids[m], alpha])
                extensions[m].append(alpha)
                jobs += [(m, alpha, s) for s in seeds]
        if not jobs:
            break
        rows = rows + train_jobs(jobs)
    for m in methods:
        choice[m]["edge_after_extensions"] = choice[m].pop("edge")
    return {"rows": rows, "grid": grids, "extensions": extensions, "points": points, "choice": choice}


def overrides_yaml(choice: Mapping[str, float], source: str) -> str:
    """The preset's ``method_overrides`` entries that set each method's chosen α, with a comment naming
    where the choice comes from (``source``: the command and its JSON). Paste under ``method_overrides:``."""
    lines = [f"  # α per method, chosen on the validation split: {source}"]
    lines += [f"  {method}: {{distill: {{alpha: {alpha:g}}}}}" for method, alpha in choice.items()]
    return "\n".join(lines) + "\n"


def read_choice(path: str | os.PathLike) -> dict[str, float]:
    """Each method's chosen α from a tuning record (``bench/results/alpha_tuning.json``)."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(record.get("choice"), dict):
        raise ValueError(f"{path}: no 'choice' mapping of method to chosen α")
    return {method: float(c["alpha"]) for method, c in record["choice"].items()}


def preset_mismatches(preset: str | os.PathLike, choice: Mapping[str, float]) -> list[str]:
    """One line per method whose α in ``preset`` (after its ``method_overrides``) is not the chosen one."""
    out = []
    for method, alpha in choice.items():
        has = load_config(preset, method=method).distill.alpha
        if has != alpha:
            out.append(f"{preset}: {method} trains with α={has:g}, the tuning chose α={alpha:g}")
    return out


def sensitivity(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """A tuning record's validation points and what it says about them.

    Returns (points, about): points has one row per method and α (method, alpha, mean, ci, n, values,
    chosen) in the record's order; about holds the record's preset, seeds, num_val_videos and command.
    Without a record at ``path``, no points and ``about["missing"]`` says how to make one.
    """
    columns = ["method", "alpha", "mean", "ci", "n", "values", "chosen"]
    if not Path(path).is_file():
        missing = f"no tuning record at {path}: python bench/tune_alpha.py --preset <preset> writes one"
        return pd.DataFrame(columns=columns), {"missing": missing}
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(record.get("points"), dict) or not isinstance(record.get("choice"), dict):
        raise ValueError(f"{path}: not a tuning record (no 'points' and 'choice'; see bench/tune_alpha.py)")
    rows = [
        {**{k: point[k] for k in ("alpha", "mean", "ci", "n", "values")},
         "method": method, "chosen": float(point["alpha"]) == float(record["choice"][method]["alpha"])}
        for method, points in record["points"].items()
        for point in points
    ]  # fmt: skip
    points = pd.DataFrame(rows, columns=columns).astype({"ci": float})
    about = {k: record.get(k) for k in ("preset", "seeds", "num_val_videos", "command")}
    return points, about

"""Notebook 05's numbers: every run of a plan collected into the paper's tables (mean ± 95 % CI over seeds).

Runs are read back from ``<out_dir>/<preset>/``: single runs (``<method>_seed<k>``, with config.yaml and
eval.json), α-sweep runs (any other name, e.g. ``ds_alpha10_seed1``) and fusions
(``fusion_<a>+<b>_<average|attention>`` with eval.json naming the two streams). The tables are rendered
by :mod:`dualaction_lib.viz.tables`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import yaml

from dualaction_lib.stats import mean_ci

# (row label, what) — what: ("run", method) or ("fusion", method_a, method_b, fusion method)
TABLE1_ROWS = (
    ("RGB", ("run", "rgb")),
    ("Flow", ("run", "flow")),
    ("RGB+Flow", ("fusion", "rgb", "flow", "{fusion}")),
    ("MARS: Mimic", ("run", "mars")),
    ("MARS: Mimic+RGB", ("fusion", "mars", "rgb", "{fusion}")),
    ("MARS: Mimic+Flow", ("fusion", "mars", "flow", "{fusion}")),
    ("DS: Mimic", ("run", "ds")),
    ("DS: Mimic+RGB", ("fusion", "ds", "rgb", "{fusion}")),
    ("DS: Mimic+Flow", ("fusion", "ds", "flow", "{fusion}")),
)
TABLE2_ROWS = (
    ("MARS (CE + α·MSE)", ("run", "mars")),
    ("+MAE (CE + α·MAE)", ("run", "ds_mae")),
    ("+Gram (CE + α·Gram)", ("run", "ds_gram")),
    ("both: DS (CE + α·(MAE + Gram))", ("run", "ds")),
    ("DS + Flow, averaging", ("fusion", "ds", "flow", "average")),
    ("DS + Flow, attention fusion", ("fusion", "ds", "flow", "attention")),
)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def collect_runs(preset_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per trained run: run, method, seed, alpha, main (named <method>_seed<k>), accuracies."""
    rows = []
    for run in sorted(Path(preset_dir).glob("*/eval.json")):
        folder = run.parent
        if folder.name.startswith("fusion_") or not (folder / "config.yaml").exists():
            continue
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        result = _read(run)
        method, seed = config.get("method"), config.get("seed")
        rows.append(
            {
                "run": folder.name,
                "method": method,
                "seed": seed,
                "alpha": float(config.get("distill", {}).get("alpha", math.nan)),
                "main": folder.name == f"{method}_seed{seed}",
                "video_top1": result.get("video_top1"),
                "clip_top1": result.get("clip_top1"),
                "video_top5": result.get("video_top5"),
            }
        )
    return pd.DataFrame(
        rows, columns=["run", "method", "seed", "alpha", "main", "video_top1", "clip_top1", "video_top5"]
    )


def collect_fusions(preset_dir: str | os.PathLike, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per fusion: streams' runs and methods, the student's seed, fusion method, accuracies."""
    runs = collect_runs(preset_dir) if runs is None else runs
    by_name = runs.set_index("run") if not runs.empty else pd.DataFrame()
    rows = []
    for path in sorted(Path(preset_dir).glob("fusion_*/eval.json")):
        result = _read(path)
        names = [Path(s).name for s in result.get("streams", [])]
        if len(names) != 2 or any(n not in by_name.index for n in names):
            continue
        a, b = (by_name.loc[n] for n in names)
        rows.append(
            {
                "fusion": path.parent.name,
                "run_a": names[0],
                "run_b": names[1],
                "method_a": a["method"],
                "method_b": b["method"],
                "seed": a["seed"],
                "main": bool(a["main"] and b["main"]),
                "method": result.get("method"),
                "video_top1": result.get("video_top1"),
                "weight_a": (result.get("mean_weights") or [math.nan])[0],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "fusion",
            "run_a",
            "run_b",
            "method_a",
            "method_b",
            "seed",
            "main",
            "method",
            "video_top1",
            "weight_a",
        ],
    )


def _values(what: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str) -> pd.Series:
    if what[0] == "run":
        if runs.empty:
            return pd.Series(dtype=float)
        return runs[(runs.method == what[1]) & runs.main].set_index("seed")["video_top1"]
    _, a, b, method = what
    if fusions.empty:
        return pd.Series(dtype=float)
    keep = (
        (fusions.method_a == a) & (fusions.method_b == b) & (fusions.method == method.format(fusion=fusion))
    )
    return fusions[keep & fusions.main].set_index("seed")["video_top1"]


def build_table(rows: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "attention"):
    """DataFrame indexed by row label: mean, ci (95 % half-width), n, seeds (accuracies in [0, 1])."""
    records = []
    for label, what in rows:
        values = _values(what, runs, fusions, fusion)
        mean, ci, n = mean_ci(values.tolist())
        records.append(
            {
                "row": label,
                "mean": mean,
                "ci": ci,
                "n": n,
                "seeds": {int(k): float(v) for k, v in values.items()},
            }
        )
    return pd.DataFrame(records).set_index("row")


def table1(runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "attention") -> pd.DataFrame:
    """The seed's Table 1: Mimic / Mimic+RGB / Mimic+Flow for MARS and DS; RGB, Flow, RGB+Flow."""
    return build_table(TABLE1_ROWS, runs, fusions, fusion)


def table2(runs: pd.DataFrame, fusions: pd.DataFrame) -> pd.DataFrame:
    """The seed's Table 2: MARS → +MAE → +Gram → both → +Flow (averaging) → +attention fusion."""
    return build_table(TABLE2_ROWS, runs, fusions)


def alpha_sweep(runs: pd.DataFrame, method: str = "ds") -> pd.DataFrame:
    """Accuracy per α for ``method`` (main runs and sweep runs together): alpha, mean, ci, n, values."""
    subset = runs[runs.method == method] if not runs.empty else runs
    records = []
    for alpha, group in subset.groupby("alpha"):
        mean, ci, n = mean_ci(group.video_top1.tolist())
        records.append(
            {"alpha": float(alpha), "mean": mean, "ci": ci, "n": n, "values": group.video_top1.tolist()}
        )
    return pd.DataFrame(records, columns=["alpha", "mean", "ci", "n", "values"])

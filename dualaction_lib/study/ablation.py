"""Notebook 05's numbers: the runs of a plan (``study.collect``) as the paper's tables, with statistics.

Every cell is a mean ± 95 % CI over seeds (Student t, ``stats.mean_ci``); every comparison is a paired
difference over the seeds both sides share (``stats.paired_ci``): seed k of every student shares data
order, initialisation and flow teacher (k mod the number of teacher seeds), so pairing removes what the
runs of one seed have in common. Tables are :class:`dualaction_lib.viz.tables.Table` objects, rendered as
Markdown and LaTeX by ``viz.tables`` and drawn by ``viz.plots``.

- Table 1: Mimic / Mimic+RGB / Mimic+Flow for MARS and DS; RGB, Flow (the teacher seeds), RGB+Flow; the
  fused rows average, as the paper's.
- Table 2: MARS → +MAE → +Gram → both (DS) → DS+Flow averaging → attention, and paired differences;
  DS without the pooled level when the plan trained it.
- Table 3: RGB, MARS and DS from scratch vs pretrained, with paired differences.
- Table 4: MARS and DS with the paper's loss vs the step-0 normalization (beyond the paper).
- Table 5: MARS and DS at their own tuned α and at the paper's α = 50.
- The collapse check (final train accuracy vs chance + 20 points).

Table 6 (appearance vs motion classes) is ``study.cues``; the power of the paired design ``study.power``.
"""

from __future__ import annotations

from typing import get_args

import pandas as pd

from dualaction_lib.choices import Variant
from dualaction_lib.stats import mean_ci, paired_differences
from dualaction_lib.viz.tables import Table

from .collect import collect_fusions, collect_runs

__all__ = [
    "NOPOOL_ROW", "TABLE1_ROWS", "TABLE2_ROWS", "TABLE2_DIFFERENCES", "collect_runs", "collect_fusions",
    "table1", "table2", "table3", "table4", "table5", "collapse_check", "PAPER_ALPHA",
]  # fmt: skip

PAPER_ALPHA = 50.0  # the paper's distillation weight (Eq. 1 and 3)
CI_TEXT = "mean ± 95 % CI over seeds (Student t)"
PAIRED_TEXT = (
    "paired differences: mean ± 95 % CI (Student t) of the per-seed differences over the seeds both "
    "sides share, in percentage points"
)

# (row label, what) — what: ("run", method[, variant]) or ("fusion", method_a, method_b, fusion method)
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
_DS_FLOW_AVG, _DS_FLOW_ATT = TABLE2_ROWS[4][1], TABLE2_ROWS[5][1]
# Optional row, shown when the plan trained it: DS distilling layer1–layer4 only (distill.layers without
# "pool"; the Gram matrix of the pooled vector is rank one), and its paired difference to DS.
NOPOOL_ROW = ("DS without the pooled level", ("run", "ds", "nopool"))
NOPOOL_DIFFERENCE = ("DS − DS w/o pool", ("DS", ("run", "ds")), ("DS w/o pool", NOPOOL_ROW[1]))
# (label, (short name, what) of the minuend, (short name, what) of the subtrahend)
TABLE2_DIFFERENCES = (
    ("DS − MARS", ("DS", ("run", "ds")), ("MARS", ("run", "mars"))),
    ("DS − RGB", ("DS", ("run", "ds")), ("RGB", ("run", "rgb"))),
    ("MARS − RGB", ("MARS", ("run", "mars")), ("RGB", ("run", "rgb"))),
    ("+MAE − MARS", ("+MAE", ("run", "ds_mae")), ("MARS", ("run", "mars"))),
    ("+Gram − MARS", ("+Gram", ("run", "ds_gram")), ("MARS", ("run", "mars"))),
    ("DS+Flow avg. − DS", ("DS+Flow avg.", _DS_FLOW_AVG), ("DS", ("run", "ds"))),
    ("DS+Flow att. − DS+Flow avg.", ("DS+Flow att.", _DS_FLOW_ATT), ("DS+Flow avg.", _DS_FLOW_AVG)),
)
NAMES = {"rgb": "RGB", "flow": "Flow", "mars": "MARS", "ds": "DS", "ds_mae": "+MAE", "ds_gram": "+Gram"}


def _subset(what: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str) -> pd.DataFrame:
    """The runs (or fusions) of one table cell, one per seed."""
    if what[0] == "run":
        variant = what[2] if len(what) > 2 else "main"
        return runs if runs.empty else runs[(runs.method == what[1]) & (runs.variant == variant)]
    _, a, b, method = what
    if fusions.empty:
        return fusions
    keep = (
        (fusions.method_a == a) & (fusions.method_b == b) & (fusions.method == method.format(fusion=fusion))
    )
    return fusions[keep & fusions.main]


def _seed_values(subset: pd.DataFrame) -> dict[int, float]:
    known = subset.dropna(subset=["video_top1"]) if not subset.empty else subset
    return {int(s): float(v) for s, v in zip(known.get("seed", []), known.get("video_top1", []), strict=True)}


def _most(column: pd.Series) -> int | None:
    known = column.dropna()
    return int(known.max()) if len(known) else None


def value_cell(subset: pd.DataFrame) -> dict:
    """Mean ± CI of a cell's runs: mean, ci, n, seeds (seed → top-1), left_out, listed."""
    seeds = _seed_values(subset)
    mean, ci, n = mean_ci(seeds.values())
    return {
        "kind": "value", "mean": mean, "ci": ci, "n": n, "seeds": seeds,
        "left_out": int(subset.left_out.max()) if not subset.empty else 0,
        "listed": _most(subset.listed) if not subset.empty else None,
    }  # fmt: skip


def diff_cell(a: dict[int, float], b: dict[int, float], label: str, names: tuple[str, str]) -> dict:
    """Paired difference a − b over shared seeds: mean, ci, n pairs, seeds (seed → difference)."""
    seeds = paired_differences(a, b)
    mean, ci, n = mean_ci(seeds.values())
    return {"kind": "diff", "mean": mean, "ci": ci, "n": n, "seeds": seeds, "label": label,
            "a": names[0], "b": names[1]}  # fmt: skip


def build_table(rows: tuple, runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "attention"):
    """DataFrame indexed by row label: mean, ci (95 % half-width), n, seeds (accuracies in [0, 1]),
    left_out (most test videos any of the row's runs left out) and listed (test videos listed)."""
    records = []
    for label, what in rows:
        cell = value_cell(_subset(what, runs, fusions, fusion))
        records.append({"row": label, **{k: v for k, v in cell.items() if k != "kind"}})
    return pd.DataFrame(records).set_index("row")


def _n_text(counts) -> str:
    counts = sorted({int(n) for n in counts if n})
    if not counts:
        return "n = 0 (no runs yet)"
    return f"n = {counts[0]}" if len(counts) == 1 else f"n = {counts[0]}–{counts[-1]} (column 'seeds')"


def _fit_text(fusions: pd.DataFrame, method: str) -> str:
    """Which split the attention fusions were fitted on, as the caption says it (starts with a space)."""
    if method != "attention" or fusions.empty:
        return ""
    splits = set(fusions.loc[fusions.method == "attention", "fit_on"].dropna()) - {""}
    names = {"val": "the held-out validation split", "train": "the streams' own training videos"}
    if not splits:
        return " (fit split not recorded)"
    return " fitted on " + " and ".join(names.get(s, s) for s in sorted(splits))


def _teacher_seeds(runs: pd.DataFrame) -> int:
    flows = runs[(runs.method == "flow") & (runs.variant == "main")] if not runs.empty else runs
    return len(flows)


def _variance_text(runs: pd.DataFrame) -> str:
    """Which sources of variance the seeds' intervals cover, read from the main students' teacher seeds."""
    students = runs[(runs.method != "flow") & (runs.variant == "main")] if not runs.empty else runs
    seeds_per_teacher = students.groupby("teacher_seed").seed.nunique() if not students.empty else []
    fixed = "the pretraining run and the test split are fixed (one each)"
    if len(seeds_per_teacher) > 1 and max(seeds_per_teacher) == 1:
        return f"the interval covers student init, data order and the flow teacher (one per seed); {fixed}"
    if len(seeds_per_teacher) > 1:
        return (
            f"the interval covers student init and data order; up to {max(seeds_per_teacher)} seeds share a "
            f"flow teacher, which the interval treats as independent (it understates the teacher's "
            f"variance); {fixed}"
        )
    return f"the interval covers student init and data order; the flow teacher (one, shared), {fixed}"


def table1(runs: pd.DataFrame, fusions: pd.DataFrame, fusion: str = "average") -> Table:
    """The seed's Table 1: Mimic / Mimic+RGB / Mimic+Flow for MARS and DS; RGB, Flow, RGB+Flow.

    The fused rows average the two streams' scores by default, as the paper's columns do ("the averaging
    fusion method used in the traditional two-stream methods"); attention fusion is Table 2's last row.
    """
    rows = build_table(TABLE1_ROWS, runs, fusions, fusion)
    teachers = _teacher_seeds(runs)
    caption = (
        f"Video top-1 (%), {CI_TEXT}, {_n_text(rows.n)}; Flow: {teachers} teacher "
        f"seed{'s' if teachers != 1 else ''}; +Flow rows fuse student seed k with its own teacher (k mod "
        f"the number of teacher seeds); {fusion} fusion{_fit_text(fusions, fusion)}; {_variance_text(runs)}"
    )
    return Table("table1", f"Table 1: students that mimic the flow stream ({fusion} fusion)", caption, rows)


def table2(runs: pd.DataFrame, fusions: pd.DataFrame) -> Table:
    """The seed's Table 2 (MARS → +MAE → +Gram → both → +Flow averaging → +attention) with the paired
    differences DS − MARS, DS − RGB, MARS − RGB and each ablation step; with runs of the ``nopool``
    variant, also DS without the pooled level and DS − DS w/o pool."""
    nopool = not runs.empty and bool((runs.variant == "nopool").any())
    row_specs = TABLE2_ROWS + ((NOPOOL_ROW,) if nopool else ())
    rows = build_table(row_specs, runs, fusions)

    def values(what: tuple) -> dict[int, float]:
        return _seed_values(_subset(what, runs, fusions, "attention"))

    diffs = [
        {"row": label, **diff_cell(values(a[1]), values(b[1]), label, (a[0], b[0]))}
        for label, a, b in TABLE2_DIFFERENCES + ((NOPOOL_DIFFERENCE,) if nopool else ())
    ]
    differences = pd.DataFrame(diffs).set_index("row").drop(columns="kind")
    caption = (
        f"Video top-1 (%), {CI_TEXT}, {_n_text(rows.n)}; {PAIRED_TEXT} (column 'pairs'); fusion with "
        f"the student's own teacher seed, attention{_fit_text(fusions, 'attention')}; {_variance_text(runs)}"
    )
    title = "Table 2: ablation of the loss terms and of the fusion"
    return Table("table2", title, caption, rows, differences=differences)


def _condition_grid(
    runs: pd.DataFrame,
    methods: tuple[str, ...],
    conditions: tuple[tuple[str, pd.Series], tuple[str, pd.Series]],
    contrasts: tuple[tuple[str, str], ...],
) -> pd.DataFrame:
    """Rows: methods, then contrasts (method a − method b); columns: two conditions and their change.

    ``conditions``: (label, boolean mask over ``runs``) for the reference and the other condition.
    A method row holds each condition's mean ± CI and the paired change (other − reference); a contrast
    row the paired difference a − b within each condition and the change of that difference.
    """
    (ref, _), (other, _) = conditions
    change = f"{other} − {ref}"
    cell_of = {(m, c): value_cell(runs[mask & (runs.method == m)]) for m in methods for c, mask in conditions}
    values = {key: cell["seeds"] for key, cell in cell_of.items()}
    grid = {}
    for m in methods:
        cells = {c: cell_of[m, c] for c, _ in conditions}
        label = f"{NAMES[m]}: {change}"
        cells[change] = diff_cell(values[m, other], values[m, ref], label, (other, ref))
        grid[NAMES[m]] = cells
    for a, b in contrasts:
        name = f"{NAMES[a]} − {NAMES[b]}"
        cells = {
            c: diff_cell(values[a, c], values[b, c], f"{name} ({c})", (NAMES[a], NAMES[b]))
            for c in (ref, other)
        }
        within = {c: cells[c]["seeds"] for c in (ref, other)}
        cells[change] = diff_cell(within[other], within[ref], f"{name}: {change}", (other, ref))
        grid[name] = cells
    return pd.DataFrame.from_dict(grid, orient="index", columns=[ref, other, change])


def _mask(runs: pd.DataFrame, variant: str, **fields) -> pd.Series:
    if runs.empty:
        return pd.Series(dtype=bool)
    mask = runs.variant == variant
    for key, value in fields.items():
        mask &= runs[key] == value
    return mask


def table3(runs: pd.DataFrame) -> Table:
    """Init ablation: RGB, MARS, DS from scratch vs pretrained (the main runs), paired differences."""
    conditions = (
        ("scratch", _mask(runs, "scratch")),
        ("pretrained", _mask(runs, "main", init="pretrained")),
    )
    grid = _condition_grid(runs, ("rgb", "mars", "ds"), conditions, (("ds", "rgb"), ("mars", "rgb")))
    caption = (
        f"Video top-1 (%), {CI_TEXT}; (n) = seeds, or pairs for differences; {PAIRED_TEXT}. Scratch: "
        f"the student starts from random weights; pretrained: from the pretraining stage's RGB network "
        f"(the main runs); the flow teachers are the same in both; {_variance_text(runs)}"
    )
    title = "Table 3: starting from pretrained weights vs from scratch"
    return Table("table3", title, caption, grid, layout="grid", header="Method")


def table4(runs: pd.DataFrame) -> Table:
    """Normalization (beyond the paper): MARS and DS with the paper's loss vs step-0 normalized."""
    conditions = (("paper", _mask(runs, "main", normalize="none")), ("step0", _mask(runs, "norm")))
    grid = _condition_grid(runs, ("mars", "ds"), conditions, (("ds", "mars"),))
    caption = (
        f"Video top-1 (%), {CI_TEXT}; (n) = seeds, or pairs for differences; {PAIRED_TEXT}. Paper: "
        f"L = CE + α·L_distill as published; step0: the summed distillation term rescaled to equal CE on "
        f"the first batch, so MARS and DS start with the same total distillation weight. What it compares: "
        f"each method's paper form at its own tuned α against the step0 form at the α the plan gives both "
        f"(not tuned; α = 1 means the summed term equals CE at step 0); "
        f"{_variance_text(runs)}; {_alphas_text(runs, ('mars', 'ds'), conditions)}"
    )
    title = "Table 4: the paper's loss vs step-0 normalized terms (beyond the paper)"
    return Table("table4", title, caption, grid, layout="grid", header="Method")


def _alphas_text(runs: pd.DataFrame, methods: tuple[str, ...], conditions) -> str:
    """Which α each method ran with in each condition, e.g. ``α: paper MARS 50, DS 3; step0 MARS 1, DS 1``."""
    parts = []
    for label, mask in conditions:
        cells = []
        for method in methods:
            values = sorted(set(runs[mask & (runs.method == method)].alpha)) if not runs.empty else []
            if values:
                cells.append(f"{NAMES[method]} {'/'.join(f'{a:g}' for a in values)}")
        parts.append(f"{label} {', '.join(cells) or 'no runs'}")
    return "α: " + "; ".join(parts)


def _group_label(method: str, variant: str, alpha: float) -> str:
    name = NAMES.get(method, method)
    suffix = {"main": "", "norm": " (step0)", "scratch": " (scratch)", "nopool": " (no pool)"}
    suffix = suffix.get(variant, f" ({variant})")
    return f"{name} α={alpha:g}" if variant == "sweep" else name + suffix


def collapse_check(runs: pd.DataFrame, margin: float = 0.20) -> Table:
    """Per method and variant (and α for the sweep): final train accuracy over seeds vs chance + margin.

    A run "collapses" when its last epoch's train clip accuracy is at or below 1/num_classes + margin;
    ``below`` lists those runs.
    """
    columns = ["n", "threshold", "mean train acc.", "min train acc.", "below"]
    known = runs.dropna(subset=["train_acc"]) if not runs.empty else runs
    records = {}
    if not known.empty:
        order = list(get_args(Variant))
        known = known.assign(
            threshold=1.0 / known.num_classes + margin,
            label=[_group_label(r.method, r.variant, r.alpha) for r in known.itertuples()],
            key=[(order.index(r.variant), _method_order(r.method), r.alpha) for r in known.itertuples()],
        ).sort_values("key")
        for label, group in known.groupby("label", sort=False):
            records[label] = {
                "n": len(group),
                "threshold": float(group.threshold.max()),
                "mean train acc.": float(group.train_acc.mean()),
                "min train acc.": float(group.train_acc.min()),
                "below": group[group.train_acc <= group.threshold].run.tolist(),
            }
    rows = pd.DataFrame.from_dict(records, orient="index", columns=columns)
    classes = sorted({int(k) for k in known.num_classes.dropna()}) if not known.empty else []
    caption = (
        f"Train clip accuracy (%) of each run's last epoch: mean and minimum over a row's runs (n = seeds; "
        f"no confidence interval: a check of every run, not an estimate); threshold = chance "
        f"(1/{'/'.join(map(str, classes)) or 'classes'}) + {100 * margin:.0f} points; 'below' lists "
        f"runs at or under it (collapsed)"
    )
    return Table(
        "collapse_check", "Collapse check: final train accuracy against chance", caption, rows,
        layout="plain", percent=("threshold", "mean train acc.", "min train acc."), header="Runs",
    )  # fmt: skip


def _method_order(method: str) -> int:
    return list(NAMES).index(method) if method in NAMES else len(NAMES)


def table5(runs: pd.DataFrame, paper_alpha: float = PAPER_ALPHA) -> Table:
    """MARS and DS at their own tuned α (the main runs) and at the paper's α, with paired differences.

    The paper's point comes from the ``sweep`` runs at ``paper_alpha``, or from the main runs of a method
    whose tuned α is the paper's (then both columns hold the same runs).
    """
    main_at_paper = _mask(runs, "main", alpha=paper_alpha)
    tuned_to_paper = set(runs[main_at_paper].method) if not runs.empty else set()
    sweep_at_paper = _mask(runs, "sweep", alpha=paper_alpha)
    if not runs.empty:  # a method tuned to the paper's α: its main runs are the point, not extra sweep runs
        sweep_at_paper &= ~runs.method.isin(tuned_to_paper)
    at_paper = sweep_at_paper | main_at_paper
    paper = f"α = {paper_alpha:g} (paper)"
    conditions = (("tuned α", _mask(runs, "main")), (paper, at_paper))
    grid = _condition_grid(runs, ("mars", "ds"), conditions, (("ds", "mars"),))
    caption = (
        f"Video top-1 (%), {CI_TEXT}; (n) = seeds, or pairs for differences; {PAIRED_TEXT}. Tuned α: each "
        f"method's own α, chosen on the validation split (bench/tune_alpha.py); {paper}: the paper's "
        f"weight for both; {_variance_text(runs)}; {_alphas_text(runs, ('mars', 'ds'), conditions)}"
    )
    title = f"Table 5: MARS and DS at their own tuned α and at the paper's α = {paper_alpha:g}"
    return Table("table5", title, caption, grid, layout="grid", header="Method")

"""Table 6: what each stream and student gets right on the classes told apart by appearance only and by
motion only (the mixed task's cues, ``data.synthetic.class_cues``): does imitating flow cost the student
appearance? Cells and paired differences as in ``study.ablation``, read from each run's per-class top-1.
"""

from __future__ import annotations

import pandas as pd

from dualaction_lib.data.synthetic import class_cues
from dualaction_lib.viz.tables import Table

from .ablation import CI_TEXT, PAIRED_TEXT, _subset, _variance_text, diff_cell, value_cell

CUE_ROWS = (
    ("RGB", ("run", "rgb")),
    ("Flow", ("run", "flow")),
    ("RGB+Flow, averaging", ("fusion", "rgb", "flow", "average")),
    ("MARS", ("run", "mars")),
    ("+MAE", ("run", "ds_mae")),
    ("+Gram", ("run", "ds_gram")),
    ("DS", ("run", "ds")),
)
CUE_CONTRASTS = (("MARS − RGB", "MARS", "RGB"), ("DS − RGB", "DS", "RGB"), ("DS − MARS", "DS", "MARS"))
CUE_COLUMNS = {"appearance": "appearance-only classes", "motion": "motion-only classes"}


def _cue_top1(subset: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """``subset`` with video_top1 replaced by the mean per-class top-1 over ``classes`` (every class has the
    same number of test videos on the benchmark, so this is the top-1 over those classes' videos)."""
    if subset.empty:
        return subset

    def mean_over(per) -> float | None:
        if not isinstance(per, dict) or any(c not in per for c in classes):
            return None
        return sum(per[c] for c in classes) / len(classes)

    values = [mean_over(per) for per in subset.per_class]
    return subset.assign(video_top1=values)


def table6(runs: pd.DataFrame, fusions: pd.DataFrame) -> Table | None:
    """Top-1 on the classes told apart by appearance only and by motion only (the mixed task's cues,
    ``data.synthetic.class_cues``), per stream and student, with paired differences; None for a task
    without such classes."""
    known = [p for p in runs.per_class if isinstance(p, dict)] if not runs.empty else []
    cues = class_cues(list(known[0])) if known else None
    if cues is None:
        return None
    classes = {cue: [c for c, v in cues.items() if v == cue] for cue in CUE_COLUMNS}
    cells = {
        label: {
            CUE_COLUMNS[cue]: value_cell(_cue_top1(_subset(what, runs, fusions, "average"), classes[cue]))
            for cue in CUE_COLUMNS
        }
        for label, what in CUE_ROWS
    }
    for label, a, b in CUE_CONTRASTS:
        cells[label] = {
            column: diff_cell(
                cells[a][column]["seeds"], cells[b][column]["seeds"], f"{label} ({column})", (a, b)
            )
            for column in CUE_COLUMNS.values()
        }
    grid = pd.DataFrame.from_dict(cells, orient="index", columns=list(CUE_COLUMNS.values()))
    caption = (
        f"Video top-1 (%) on the {len(classes['appearance'])} classes told apart by appearance only (a warm "
        f"or a cool box: flow cannot see the colour) and the {len(classes['motion'])} told apart by motion "
        f"only (a ball or a bar and its direction), {CI_TEXT}; (n) = seeds, or pairs for differences; "
        f"{PAIRED_TEXT}; each method at its own tuned α; {_variance_text(runs)}"
    )
    title = "Table 6: appearance-only vs motion-only classes: does imitating flow cost appearance?"
    return Table("table6", title, caption, grid, layout="grid", header="Model")

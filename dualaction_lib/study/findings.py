"""Notebook 05's closing paragraph, written from the numbers: what each paired interval does and does not
show. Nothing here is a hard-coded conclusion; every sentence reads the tables it is given.
"""

from __future__ import annotations

import math

import pandas as pd

from dualaction_lib.viz.tables import Table, format_cell, format_diff


def difference_sentence(label: str, cell: dict | pd.Series, gap: str | None = None) -> str:
    """One comparison: ``DS − MARS = +1.2 ± 3.4 points (n = 5 paired seeds): the interval includes 0 …``.

    ``gap`` names a difference of differences (``DS − MARS: step0 − paper``): the sentence then says how
    the gap ``DS − MARS`` changes from condition b to condition a, not which condition "beats" the other.
    """
    n, mean, ci = int(cell["n"]), cell["mean"], cell["ci"]
    if n == 0 or pd.isna(mean):
        return f"**{label}**: not measured (no seed has both runs)."
    value = format_diff(mean, ci, n)
    if n == 1 or pd.isna(ci):
        return f"**{label}** = {value} points from a single seed: no interval, so no conclusion."
    a, b = cell.get("a", "the first"), cell.get("b", "the second")
    head = f"**{label}** = {value} points (n = {n} paired seeds): the 95 % interval"
    if gap is not None:
        if abs(mean) > ci:
            change = "larger" if mean > 0 else "smaller"
            return f"{head} excludes 0 — {gap} is {change} with {a} than with {b}."
        return f"{head} includes 0 — no change of {gap} between {b} and {a} is detectable at this n."
    if abs(mean) > ci:
        better, worse = (a, b) if mean > 0 else (b, a)
        return f"{head} excludes 0 — {better} beats {worse} on these seeds."
    return f"{head} includes 0 — no difference between {a} and {b} is detectable at this n."


def _grid_sentences(table: Table) -> list[str]:
    """A sentence per paired cell; a row that is itself a difference (``DS − MARS``) is a gap."""
    return [
        difference_sentence(cell.get("label", f"{row}: {column}"), cell, row if " − " in str(row) else None)
        for row, values in table.rows.iterrows()
        for column, cell in values.items()
        if isinstance(cell, dict) and cell.get("kind") == "diff"
    ]


def collapse_sentence(collapse: Table) -> str:
    rows = collapse.rows
    if rows.empty:
        return "**Collapse check**: no run has a recorded train accuracy."
    below = [run for runs in rows["below"] for run in runs]
    total = int(rows["n"].sum())
    if not below:
        low = rows["min train acc."].idxmin()
        return (
            f"**Collapse check**: all {total} runs end above chance + 20 points (lowest: {low}, "
            f"{100 * rows.loc[low, 'min train acc.']:.1f} %)."
        )
    return (
        f"**Collapse check**: {len(below)} of {total} runs end at or below chance + 20 points and "
        f"learned (almost) nothing: {', '.join(below)}."
    )


def sweep_sentence(sweep: pd.DataFrame) -> str:
    """The α with the highest mean and, if another, what the preset's α (``preset`` row) gives."""
    measured = sweep[sweep.n > 0] if not sweep.empty else sweep
    if measured.empty:
        return "**α sweep**: no runs."
    best = measured.loc[measured["mean"].idxmax()]
    text = (
        f"**α sweep**: the highest mean is at α = {best.alpha:g} "
        f"({format_cell(best['mean'], best.ci, best.n)} %, n = {int(best.n)})"
    )
    own = measured[measured.preset.astype(bool)] if "preset" in measured else measured.iloc[:0]
    if not own.empty and not math.isclose(own.iloc[0].alpha, best.alpha):
        own = own.iloc[0]
        cell = format_cell(own["mean"], own.ci, own.n)
        text += f"; the preset's α = {own.alpha:g} gives {cell} % (n = {int(own.n)})"
    return text + "; a test-set description, not a choice: α is never picked on the test split."


def summarize(table2: Table, table3: Table, table4: Table, collapse: Table, sweep: pd.DataFrame) -> str:
    """Markdown bullets, one group per table: Table 2's paired differences, Tables 3 and 4's changes,
    then the collapse check and the α sweep."""
    diffs = table2.differences if table2.differences is not None else pd.DataFrame()
    groups = [
        ("Table 2 (loss ablation and fusion)", [difference_sentence(k, row) for k, row in diffs.iterrows()]),
        ("Table 3 (pretrained vs scratch)", _grid_sentences(table3)),
        ("Table 4 (step-0 normalization)", _grid_sentences(table4)),
    ]
    lines = []
    for title, sentences in groups:
        lines.append(f"- {title}:")
        lines += [f"    - {sentence}" for sentence in sentences]
    lines += [f"- {collapse_sentence(collapse)}", f"- {sweep_sentence(sweep)}"]
    return "\n".join(lines) + "\n"

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


def _grid_sentences(table: Table, gaps: bool = True) -> list[str]:
    """A sentence per paired cell; with ``gaps``, a row that is itself a difference (``DS − MARS``) in a
    column of changes between two conditions is a gap (Tables 3–5); without, every cell is a difference."""
    return [
        difference_sentence(
            cell.get("label", f"{row}: {column}"),
            cell,
            row if gaps and " − " in str(row) and " − " in str(column) else None,
        )
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


def tuning_sentence(points: pd.DataFrame, paper_alpha: float = 50.0) -> str:
    """Each method's chosen α with its validation top-1, and the paper's α beside it (from the tuning
    record's points, ``study.tuning.sensitivity``)."""
    if points.empty:
        return "**α tuning**: no tuning record."
    parts = []
    for method, own in points.groupby("method", sort=False):
        chosen = own[own.chosen.astype(bool)]
        if chosen.empty:
            continue
        best = chosen.iloc[0]
        text = f"{method} α = {best.alpha:g} ({format_cell(best['mean'], best.ci, best.n)} %)"
        paper = own[own.alpha == paper_alpha]
        if not paper.empty and not math.isclose(best.alpha, paper_alpha):
            p = paper.iloc[0]
            text += f", at α = {paper_alpha:g} {format_cell(p['mean'], p.ci, p.n)} %"
        parts.append(text)
    return (
        "**α tuning** (validation top-1, mean ± 95 % CI over the tuning seeds; the test split never "
        f"chose anything): {'; '.join(parts)}."
    )


def power_sentence(power: Table, labels: tuple[str, ...] = ("DS − MARS", "DS − RGB")) -> str:
    """The half-width and the detectable difference of the comparisons that decide the verdict."""
    rows = power.rows
    parts = [
        f"{label} ± {100 * rows.loc[label, 'half-width']:.1f} points (n = {rows.loc[label, 'pairs']}; "
        f"detectable with 80 % power: {100 * rows.loc[label, 'detectable (80 % power)']:.1f})"
        for label in labels
        if label in rows.index and not pd.isna(rows.loc[label, "half-width"])
    ]
    return f"**Power**: {'; '.join(parts) or 'no paired interval yet'}."


def summarize(
    table2: Table, table3: Table, table4: Table, table5: Table, collapse: Table, power: Table,
    tuning: pd.DataFrame, table6: Table | None = None,
) -> str:  # fmt: skip
    """Markdown bullets, one group per table: Table 2's paired differences, Tables 3, 4 and 5's changes,
    Table 6's differences per class group (when given), then the collapse check, the power and the α
    tuning."""
    diffs = table2.differences if table2.differences is not None else pd.DataFrame()
    groups = [
        ("Table 2 (loss ablation and fusion)", [difference_sentence(k, row) for k, row in diffs.iterrows()]),
        ("Table 3 (pretrained vs scratch)", _grid_sentences(table3)),
        ("Table 4 (step-0 normalization)", _grid_sentences(table4)),
        ("Table 5 (tuned α vs the paper's α)", _grid_sentences(table5)),
    ]
    if table6 is not None:
        groups.append(
            ("Table 6 (appearance-only vs motion-only classes)", _grid_sentences(table6, gaps=False))
        )
    lines = []
    for title, sentences in groups:
        lines.append(f"- {title}:")
        lines += [f"    - {sentence}" for sentence in sentences]
    lines += [
        f"- {collapse_sentence(collapse)}",
        f"- {power_sentence(power)}",
        f"- {tuning_sentence(tuning)}",
    ]
    return "\n".join(lines) + "\n"

"""The paper's tables rendered as Markdown and LaTeX (the numbers come from ``study.ablation``).

A :class:`Table` has one of three layouts:

- ``results`` (Tables 1 and 2): one row per model, ``mean`` ± ``ci`` over ``n`` seeds, optionally followed
  by a block of paired differences (``differences``: ``mean``, ``ci``, ``n`` pairs);
- ``grid`` (Tables 3 and 4, the α sweep): rows × columns of *stat cells*, each a dict with ``kind``
  (``value``: mean ± CI of accuracies; ``diff``: a paired difference in points), ``mean``, ``ci``, ``n``,
  ``seeds`` and, for a difference, a ``label`` for plots and ``a`` / ``b`` (what is subtracted from what);
- ``plain`` (the collapse check): any columns; those in ``percent`` are fractions printed as percent.

Accuracies are fractions in [0, 1] everywhere and printed in percent; differences in percentage points.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass
class Table:
    """A table's numbers plus what its caption says about them (n, CI method, fusion fit split)."""

    name: str  # file stem under figures/: table1, table2, …
    title: str  # "Table 2: ablation of the loss terms and of the fusion"
    caption: str  # what the numbers are: metric, seeds, CI method
    rows: pd.DataFrame
    layout: str = "results"  # results | grid | plain
    differences: pd.DataFrame | None = None  # results layout: the paired-difference block
    percent: tuple[str, ...] = ()  # plain layout: columns printed as percent
    header: str = "Model"  # the first column's heading

    def to_dict(self) -> dict:
        """The numbers as plain Python (a notebook's results file)."""
        out = {"title": self.title, "caption": self.caption, "rows": self.rows.to_dict(orient="index")}
        if self.differences is not None:
            out["differences"] = self.differences.to_dict(orient="index")
        return out

    def bars(self) -> pd.DataFrame:
        """Accuracy rows to plot (index: label; mean, ci, n, seeds): results rows, or a grid's value cells
        (with their ``condition``: the column they come from)."""
        if self.layout == "results":
            return self.rows
        cells = [
            {"row": f"{row} · {column}", "condition": column, **cell}
            for row, values in self.rows.iterrows()
            for column, cell in values.items()
            if isinstance(cell, dict) and cell.get("kind") == "value"
        ]
        return _frame(cells)

    def contrasts(self) -> pd.DataFrame:
        """Paired differences to plot (index: label; mean, ci, n, seeds)."""
        if self.layout == "results":
            return self.differences if self.differences is not None else _frame([])
        cells = [
            {**cell, "row": cell.get("label", f"{row}: {column}")}
            for row, values in self.rows.iterrows()
            for column, cell in values.items()
            if isinstance(cell, dict) and cell.get("kind") == "diff"
        ]
        return _frame(cells)


def _frame(cells: list[dict]) -> pd.DataFrame:
    columns = ["row", "mean", "ci", "n", "seeds"]
    frame = pd.DataFrame(cells) if cells else pd.DataFrame(columns=columns)
    return frame.set_index("row")


def format_cell(mean: float, ci: float, n: int, pm: str = "±") -> str:
    """Percent with one decimal, ``± half-width`` when there is an interval; ``–`` when nothing ran."""
    if n == 0 or pd.isna(mean):
        return "–"
    text = f"{100 * mean:.1f}"
    return text if pd.isna(ci) else f"{text} {pm} {100 * ci:.1f}"


def format_diff(mean: float, ci: float, n: int, pm: str = "±") -> str:
    """A difference in percentage points with its sign (``+3.2 ± 4.1``); ``–`` without a pair."""
    if n == 0 or pd.isna(mean):
        return "–"
    text = f"{100 * mean:+.1f}".replace("-", "−")
    return text if pd.isna(ci) else f"{text} {pm} {100 * ci:.1f}"


def format_stat(cell: dict | float | None, pm: str = "±") -> str:
    """A grid cell: value or difference, followed by its n in parentheses."""
    if not isinstance(cell, dict):
        return "" if cell is None or (isinstance(cell, float) and math.isnan(cell)) else str(cell)
    fmt = format_diff if cell.get("kind") == "diff" else format_cell
    text = fmt(cell["mean"], cell["ci"], cell["n"], pm)
    return text if text == "–" else f"{text} ({cell['n']})"


def _left_out(row: pd.Series) -> int:
    value = row.get("left_out", 0)  # tables built before the column existed have none
    return 0 if pd.isna(value) else int(value)


def _is_left_out(cell) -> bool:
    return isinstance(cell, dict) and cell.get("kind") == "value" and bool(cell.get("left_out"))


def left_out_note(table: pd.DataFrame) -> str:
    """The footnote of a table whose runs left test videos out (empty when none did)."""
    counts = sorted({_left_out(r) for _, r in table.iterrows()} - {0})
    if not counts:
        return ""
    listed = table["listed"].dropna().max() if "listed" in table else None
    of = f" of {int(listed)}" if listed is not None and not pd.isna(listed) else ""
    many = f"{counts[0]}" if len(counts) == 1 else f"up to {counts[-1]}"
    return (
        f"{many}{of} listed test videos left out of the evaluation (skipped by prepare, missing or "
        f"damaged; each run's evaluation lists them)"
    )


def _plain_value(value, percent: bool) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else (f"{100 * value:.1f}" if percent else f"{value:.3g}")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "–"
    return str(value)


def _blocks(table: Table, pm: str, dagger: str) -> tuple[list[list[str]], str]:
    """The table as blocks of text rows (the first row of each block is its heading) and a footnote."""
    if table.layout == "results":
        rows = table.rows
        main = [[table.header, "Top-1 (%)", "seeds"]] + [
            [str(label), format_cell(r["mean"], r["ci"], r["n"], pm) + (dagger if _left_out(r) else ""),
             str(r["n"])]
            for label, r in rows.iterrows()
        ]  # fmt: skip
        blocks = [main]
        if table.differences is not None and len(table.differences):
            blocks.append(
                [["Paired difference (same seeds)", "Δ top-1 (points)", "pairs"]]
                + [
                    [str(label), format_diff(d["mean"], d["ci"], d["n"], pm), str(d["n"])]
                    for label, d in table.differences.iterrows()
                ]
            )
        return blocks, left_out_note(rows)
    if table.layout == "grid":
        head = [table.header, *map(str, table.rows.columns)]
        marked = [
            [str(label), *(format_stat(c, pm) + (dagger if _is_left_out(c) else "") for c in r.values)]
            for label, r in table.rows.iterrows()
        ]
        values = [c for _, r in table.rows.iterrows() for c in r.values if isinstance(c, dict)]
        counts = pd.DataFrame([{"left_out": c.get("left_out", 0), "listed": c.get("listed")} for c in values])
        return [[head, *marked]], left_out_note(counts) if len(counts) else ""
    head = [table.header, *map(str, table.rows.columns)]
    body = [
        [str(label), *(_plain_value(v, c in table.percent) for c, v in r.items())]
        for label, r in table.rows.iterrows()
    ]
    return [[head, *body]], ""


def _sentence(title: str) -> str:
    """The title as a sentence: a full stop unless it already ends with one ("… cost appearance?")."""
    return title if title.endswith((".", "?", "!")) else f"{title}."


def to_markdown(table: Table) -> str:
    blocks, note = _blocks(table, "±", " †")
    lines = [f"**{_sentence(table.title)}** {table.caption}"]
    for block in blocks:
        lines += ["", "| " + " | ".join(block[0]) + " |", "|---" + "|---:" * (len(block[0]) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in block[1:]]
    if note:
        lines += ["", f"† {note}."]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for plain, escaped in (
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("α", r"$\alpha$"),
        ("·", r"$\cdot$"),
        ("±", r"$\pm$"),
        ("→", r"$\to$"),
        ("−", r"$-$"),
        ("Δ", r"$\Delta$"),
        ("≥", r"$\geq$"),
        ("×", r"$\times$"),
        ("†", r"$^\dagger$"),
        ("≈", r"$\approx$"),
        ("√", r"$\surd$"),
        ("–", "--"),
    ):
        text = text.replace(plain, escaped)
    return text.replace("$$", "")  # "α·" → "$\alpha\cdot$", never TeX's display-math "$$"


def to_latex(table: Table) -> str:
    pm, dagger = "±", "†"
    blocks, note = _blocks(table, pm, dagger)
    width = len(blocks[0][0])
    lines = [
        r"\begin{table}[t]",
        r"  \centering",
        f"  \\caption{{{_latex_escape(_sentence(table.title))} {_latex_escape(table.caption)}}}",
        f"  \\label{{tab:{table.name}}}",
        f"  \\begin{{tabular}}{{l{'r' * (width - 1)}}}",
        r"    \toprule",
    ]
    for number, block in enumerate(blocks):
        if number == 0:
            head = " & ".join(_latex_escape(h) for h in block[0])
            lines += [f"    {head} \\\\", r"    \midrule"]
        else:
            head = " & ".join(f"\\emph{{{_latex_escape(h)}}}" for h in block[0])
            lines += [r"    \midrule", f"    {head} \\\\"]
        lines += [f"    {' & '.join(_latex_escape(c) for c in row)} \\\\" for row in block[1:]]
    lines.append(r"    \bottomrule")
    lines.append(r"  \end{tabular}")
    if note:
        lines.append(rf"  \par\smallskip{{\footnotesize $^\dagger$ {_latex_escape(note)}.}}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_table(table: Table, directory: str | os.PathLike) -> list[Path]:
    """``<directory>/<name>.md`` and ``.tex`` (atomic writes)."""
    from dualaction_lib.io import atomic_write_text

    directory = Path(directory)
    paths = [directory / f"{table.name}.md", directory / f"{table.name}.tex"]
    atomic_write_text(paths[0], to_markdown(table))
    atomic_write_text(paths[1], to_latex(table))
    return paths

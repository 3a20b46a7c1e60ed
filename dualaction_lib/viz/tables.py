"""The paper's tables rendered as Markdown and LaTeX (the numbers come from ``study.ablation``)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def format_cell(mean: float, ci: float, n: int, pm: str = "±") -> str:
    if n == 0 or pd.isna(mean):
        return "–"
    text = f"{100 * mean:.1f}"
    return text if pd.isna(ci) else f"{text} {pm} {100 * ci:.1f}"


def _left_out(row: pd.Series) -> int:
    value = row.get("left_out", 0)  # tables built before the column existed have none
    return 0 if pd.isna(value) else int(value)


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
        f"damaged; each run's eval.json lists them)"
    )


def to_markdown(table: pd.DataFrame, title: str) -> str:
    lines = [
        f"**{title}** (video top-1 %, mean ± 95 % CI over seeds)",
        "",
        "| Model | Top-1 (%) | seeds |",
        "|---|---:|---:|",
    ]
    for label, r in table.iterrows():
        mark = " †" if _left_out(r) else ""
        lines.append(f"| {label} | {format_cell(r['mean'], r['ci'], r['n'])}{mark} | {r['n']} |")
    note = left_out_note(table)
    if note:
        lines += ["", f"† {note}."]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for plain, escaped in (
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("α", r"$\alpha$"),
        ("·", r"$\cdot$"),
        ("±", r"$\pm$"),
        ("→", r"$\to$"),
    ):
        text = text.replace(plain, escaped)
    return text


def to_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    pm = r"$\pm$"
    dagger = r"$^\dagger$"
    body = [
        f"    {_latex_escape(str(row))} & {format_cell(r['mean'], r['ci'], r['n'], pm)}"
        f"{dagger if _left_out(r) else ''} & {r['n']} \\\\"
        for row, r in table.iterrows()
    ]
    note = left_out_note(table)
    footnote = [rf"  \par\smallskip{{\footnotesize {dagger} {_latex_escape(note)}.}}"] if note else []
    return (
        "\n".join(
            [
                r"\begin{table}[t]",
                r"  \centering",
                f"  \\caption{{{_latex_escape(caption)}}}",
                f"  \\label{{{label}}}",
                r"  \begin{tabular}{lrr}",
                r"    \toprule",
                r"    Model & Top-1 (\%) & seeds \\",
                r"    \midrule",
                *body,
                r"    \bottomrule",
                r"  \end{tabular}",
                *footnote,
                r"\end{table}",
            ]
        )
        + "\n"
    )


def write_table(table: pd.DataFrame, name: str, title: str, directory: str | os.PathLike) -> list[Path]:
    """``<directory>/<name>.md`` and ``.tex`` (atomic writes)."""
    from dualaction_lib.io import atomic_write_text

    directory = Path(directory)
    paths = [directory / f"{name}.md", directory / f"{name}.tex"]
    atomic_write_text(paths[0], to_markdown(table, title))
    atomic_write_text(paths[1], to_latex(table, title, f"tab:{name}"))
    return paths

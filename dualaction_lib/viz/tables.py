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


def to_markdown(table: pd.DataFrame, title: str) -> str:
    lines = [
        f"**{title}** (video top-1 %, mean ± 95 % CI over seeds)",
        "",
        "| Model | Top-1 (%) | seeds |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {label} | {format_cell(r['mean'], r['ci'], r['n'])} | {r['n']} |" for label, r in table.iterrows()
    ]
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
    body = [
        f"    {_latex_escape(str(row))} & {format_cell(r['mean'], r['ci'], r['n'], pm)} & {r['n']} \\\\"
        for row, r in table.iterrows()
    ]
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

"""Write notebooks/01…05 from the cell sources in ``notebooks/cells/`` — stored without outputs.

    .venv/bin/python notebooks/make_notebooks.py          # regenerate every notebook
    .venv/bin/python notebooks/make_notebooks.py --check  # exit 1 if a stored notebook is out of date

Each ``cells/<name>.py`` is a py:percent-style text: ``# %% [markdown]`` starts a markdown cell (its lines
lose the leading ``# ``), ``# %% parameters`` starts the papermill parameters cell, ``# %%`` a code cell.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
CELLS = HERE / "cells"
NAMES = (
    "01_flow_inspection",
    "02_gram_matrices",
    "03_distillation_training",
    "04_fusion_weights",
    "05_ablation_tables",
)
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def parse_cells(text: str) -> list[nbformat.NotebookNode]:
    cells, kind, lines = [], None, []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            cell = nbformat.v4.new_code_cell(body)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            marker = line[4:].strip()
            kind = {"[markdown]": "markdown", "parameters": "parameters", "": "code"}[marker]
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    return cells


def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse_cells((CELLS / f"{name}.py").read_text(encoding="utf-8"))
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{number:02d}"  # stable ids keep regenerated notebooks diff-free
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that stored notebooks are current")
    parser.add_argument("names", nargs="*", default=list(NAMES), help="notebooks to write (default: all)")
    args = parser.parse_args(argv)
    stale = []
    for name in args.names:
        path, text = HERE / f"{name}.ipynb", render(name)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date (run notebooks/make_notebooks.py): {', '.join(stale)}", file=sys.stderr)
    return int(bool(stale))


if __name__ == "__main__":
    sys.exit(main())

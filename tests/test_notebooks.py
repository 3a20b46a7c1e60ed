"""Stored notebooks: no outputs, a documented parameters cell, in sync with their generator."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = (
    "01_flow_inspection",
    "02_gram_matrices",
    "03_distillation_training",
    "04_fusion_weights",
    "05_ablation_tables",
)
REQUIRED = {"preset", "run_dir", "interactive"}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def _parameter_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    return code[0]


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: cell {cell.id} has outputs"
    assert "widgets" not in nb.metadata, f"{name}: stored widget state"


@pytest.mark.parametrize("name", NAMES)
def test_parameters_have_types_and_help(name: str) -> None:
    nb = _read(name)
    source = _parameter_cell(nb).source
    tree = ast.parse(source)
    assert all(isinstance(node, ast.AnnAssign) for node in tree.body), "one `name: type = value` per line"
    names = [node.target.id for node in tree.body]
    assert REQUIRED <= set(names), f"{name}: missing {REQUIRED - set(names)}"
    inspected = papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    assert list(inspected) == names, "papermill --help-notebook must list every parameter"
    for param in inspected.values():
        assert param["inferred_type_name"] not in ("None", ""), f"{name}.{param['name']}: no type"
        assert len(param["help"]) > 5, f"{name}.{param['name']}: no help text"
    assert inspected["interactive"]["inferred_type_name"] == "bool"
    assert inspected["interactive"]["default"] == "True"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_narrative(name: str) -> None:
    nb = _read(name)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {name[:2]}")
    markdown = sum(cell.cell_type == "markdown" for cell in nb.cells)
    assert markdown >= 3, "markdown explains each step"
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            assert len(cell.source.splitlines()) <= 15, (
                f"{name}: logic belongs in the library:\n{cell.source}"
            )
            assert "def " not in cell.source and "class " not in cell.source


def test_generator_is_in_sync() -> None:
    check = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "make_notebooks.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr

"""Stored notebooks: no outputs, a documented parameters cell, in sync with their paired py:percent files."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import papermill
import pytest
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

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
    body = [node for node in tree.body if not _is_typing_import(node)]
    assert all(isinstance(node, ast.AnnAssign) for node in body), "one `name: type = value` per line"
    names = [node.target.id for node in body]
    assert REQUIRED <= set(names), f"{name}: missing {REQUIRED - set(names)}"
    inspected = papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))
    assert list(inspected) == names, "papermill --help-notebook must list every parameter"
    for param in inspected.values():
        assert param["inferred_type_name"] not in ("None", ""), f"{name}.{param['name']}: no type"
        assert len(param["help"]) > 5, f"{name}.{param['name']}: no help text"
    assert inspected["interactive"]["inferred_type_name"] == "bool"
    assert inspected["interactive"]["default"] == "True"


def _is_typing_import(node: ast.stmt) -> bool:
    """``from typing import Optional``: papermill's help reads ``Optional[X]``, not ``X | None``."""
    return isinstance(node, ast.ImportFrom) and node.module == "typing"


@pytest.mark.parametrize("name", NAMES)
def test_no_sentinel_defaults(name: str) -> None:
    """ "The preset's value" is None, never a magic number or an empty string decoded elsewhere."""
    for param in papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb")).values():
        if "preset's value" in param["help"]:
            assert param["default"] == "None", param
            assert param["inferred_type_name"].startswith("Optional["), param
            assert "(None: the preset's value)" in param["help"], param
        assert not re.search(r"\b(negative|0|zero):", param["help"]), f"{name}.{param['name']}: a sentinel"


def test_papermill_help_documents_none_as_the_presets_value() -> None:
    """What `papermill --help-notebook` prints for notebook 03: the Optional parameters and their meaning."""
    notebook = NOTEBOOKS / "03_distillation_training.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "papermill", "--help-notebook", str(notebook)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    text = "\n".join(lines)
    for param in (
        "alpha: Optional[float] (default None)",
        "epochs: Optional[int] (default None)",
        "init: Optional[str] (default None)",
        "normalize: Optional[str] (default None)",
    ):
        assert param in text, text
    assert text.count("(None: the preset's value)") == 4, text


def test_none_parameters_are_decoded_by_the_library() -> None:
    from dualaction_lib.config import load_config
    from dualaction_lib.study.runs import run_config

    preset = load_config("smoke")
    cfg = run_config("smoke", "ds", 1, alpha=None, epochs=None, init=None, normalize=None)
    assert (cfg.distill.alpha, cfg.optim.epochs) == (preset.distill.alpha, preset.optim.epochs)
    assert (cfg.model.init, cfg.distill.normalize) == (preset.model.init, preset.distill.normalize)
    cfg = run_config("smoke", "ds", 1, alpha=0, epochs=3, init="scratch", normalize="step0")
    assert (cfg.distill.alpha, cfg.optim.epochs) == (0.0, 3)
    assert (cfg.model.init, cfg.distill.normalize) == ("scratch", "step0")


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


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str, dict]]:
    return [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in nb.cells]


def _out_of_sync(name: str, py_text: str) -> str:
    """Why the text of ``notebooks/<name>.py`` and the stored .ipynb differ; empty when their cells agree."""
    text, stored = jupytext.reads(py_text, fmt="py:percent"), _read(name)
    if text.metadata.get("kernelspec") != stored.metadata.get("kernelspec"):
        return f"{name}: kernelspec differs"
    pairs = zip(_cells(text), _cells(stored), strict=False)
    for number, (ours, theirs) in enumerate(pairs):
        if ours != theirs:
            return f"{name}: cell {number} differs (.py {ours!r} vs .ipynb {theirs!r})"
    if len(text.cells) != len(stored.cells):
        return f"{name}: {len(text.cells)} cells in the .py, {len(stored.cells)} in the .ipynb"
    return ""


def test_every_notebook_is_paired_by_the_jupytext_config() -> None:
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == list(NAMES)
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == list(NAMES)
    config_file = find_jupytext_configuration_file(str(NOTEBOOKS))
    assert Path(config_file) == NOTEBOOKS / "jupytext.toml"
    config = load_jupytext_configuration_file(config_file)
    for name in NAMES:
        assert config.default_formats(str(NOTEBOOKS / f"{name}.ipynb")) == "ipynb,py:percent"


@pytest.mark.parametrize("name", NAMES)
def test_pair_is_in_sync(name: str) -> None:
    problem = _out_of_sync(name, (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8"))
    assert not problem, f"{problem}; run `jupytext --sync notebooks/{name}.py` (the newer file wins)"


def test_sync_check_names_the_changed_cell() -> None:
    name = "03_distillation_training"
    text = (NOTEBOOKS / f"{name}.py").read_text(encoding="utf-8")
    assert '# %% tags=["parameters"]' in text, "the parameters cell is tagged in the py:percent file"
    edited = _out_of_sync(name, text.replace("seed: int = 0", "seed: int = 1"))
    assert edited.startswith(f"{name}: cell 1 differs (.py ('code', ") and "seed: int = 1" in edited
    untagged = _out_of_sync(name, text.replace('# %% tags=["parameters"]', "# %%"))
    assert untagged.startswith(f"{name}: cell 1 differs (.py ('code', ") and "'tags'" in untagged
    appended = _out_of_sync(name, text + "\n# %%\nprint(1)\n")
    cells = len(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells)
    assert appended == f"{name}: {cells + 1} cells in the .py, {cells} in the .ipynb"

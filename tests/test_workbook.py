"""The papermill batch runner on tiny throwaway notebooks: grids, skipping, failures, summary, exit code."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml

from dualaction_lib import workbook

PARAMS = 'x: int = 1  # the value under test\nout: str = "out"  # folder for the marker file'
BODY = (
    "from pathlib import Path\n"
    "assert x != 2, 'x=2 is the planted failure'\n"
    "Path(out).mkdir(parents=True, exist_ok=True)\n"
    "Path(out, f'x{x}.json').write_text(str(x * 10))"
)


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny"), params, nbformat.v4.new_code_cell(BODY)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _plan(tmp_path: Path, grid: list[int], extra_steps: list[dict] | None = None) -> Path:
    _notebook(tmp_path / "tiny.ipynb")
    plan = {
        "name": "tiny",
        "jobs": 2,
        "output_dir": "runs/{name}",
        "parameters": {"name": "t", "out": "runs/markers"},
        "steps": [
            {
                "name": "grid",
                "notebook": "tiny.ipynb",
                "grid": {"x": grid},
                "done": ["runs/markers/x{x}.json"],
            },
            *(extra_steps or []),
        ],
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_grid_expansion_names_and_parameters(tmp_path: Path) -> None:
    plan = {
        "parameters": {"preset": "cpu", "interactive": False},
        "steps": [
            {
                "name": "students",
                "notebook": "notebooks/03_distillation_training.ipynb",
                "grid": {"method": ["rgb", "ds"], "seed": [1, 2, 3]},
                "parameters": {"run_dir": "runs/{preset}/{method}_seed{seed}"},
                "done": ["runs/{preset}/{method}_seed{seed}/eval.json"],
            },
            {"name": "tables", "notebook": "notebooks/05_ablation_tables.ipynb", "needs": ["students"]},
        ],
    }
    jobs = workbook.expand_plan(plan, tmp_path)
    assert len(jobs) == 7
    assert jobs[0].output == tmp_path / "runs/cpu/notebooks/03_distillation_training_rgb_seed1.ipynb"
    assert jobs[4].parameters == {
        "preset": "cpu",
        "interactive": False,
        "method": "ds",
        "seed": 2,
        "run_dir": "runs/cpu/ds_seed2",
    }
    assert jobs[4].done == [tmp_path / "runs/cpu/ds_seed2/eval.json"]
    assert jobs[-1].output.name == "05_ablation_tables.ipynb" and jobs[-1].needs == ["students"]


def test_plan_validation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"steps": [{"name": "a", "notebook": "n.ipynb", "needs": ["b"]}]}))
    with pytest.raises(ValueError, match="needs unknown"):
        workbook.load_plan(bad)
    clash = {"steps": [{"name": "a", "notebook": "n.ipynb", "grid": {"x": [1, 2]}, "output": "same"}]}
    with pytest.raises(ValueError, match="same notebook"):
        workbook.expand_plan(clash, tmp_path)


@pytest.mark.slow
def test_failing_notebook_is_kept_reported_and_the_rest_complete(tmp_path: Path, capsys) -> None:
    tail = [{"name": "after", "notebook": "tiny.ipynb", "parameters": {"x": 5}, "needs": ["grid"]}]
    plan = _plan(tmp_path, [1, 2, 3], tail)
    code = workbook.main(["workbook", "--plan", str(plan), "--root", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 1
    markers = tmp_path / "runs/markers"
    assert sorted(p.name for p in markers.iterdir()) == ["x1.json", "x3.json"]
    assert json.loads((markers / "x3.json").read_text()) == 30
    failed = tmp_path / "runs/t/tiny_x2.ipynb"
    assert failed.exists(), "the partly executed failing notebook is kept"
    assert "planted failure" in failed.read_text()
    status = json.loads((tmp_path / "runs/t/tiny_x2.ipynb.status.json").read_text())
    assert status["status"] == "failed" and "AssertionError" in status["message"]
    table = printed[printed.index("step  ") :]
    assert "tiny_x2.ipynb" in table and "failed" in table and "AssertionError" in table
    assert table.count(" ok ") == 2 and "blocked" in table  # the dependent step is not run
    assert "2 ok, 1 failed, 1 blocked" in printed


@pytest.mark.slow
def test_complete_runs_are_skipped_and_failures_retried(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [1, 2])
    first = workbook.run_plan(plan, tmp_path, log=lambda *a, **k: None)
    assert [r.status for r in first] == ["ok", "failed"]
    (tmp_path / "runs/markers/x1.json").write_text("sentinel")
    second = workbook.run_plan(plan, tmp_path, log=lambda *a, **k: None)
    assert [r.status for r in second] == ["skipped", "failed"]
    assert (tmp_path / "runs/markers/x1.json").read_text() == "sentinel", "a complete run is not redone"
    (tmp_path / "runs/markers/x1.json").unlink()  # a missing 'done' file makes the run incomplete
    dry = workbook.run_plan(plan, tmp_path, dry_run=True, log=lambda *a, **k: None)
    assert [r.status for r in dry] == ["planned", "planned"]
    assert workbook.exit_code(dry) == 0


def test_dry_run_walks_every_step_of_a_chain(tmp_path: Path) -> None:
    chain = [
        {"name": "b", "notebook": "tiny.ipynb", "parameters": {"x": 7}, "output": "b", "needs": ["grid"]},
        {"name": "c", "notebook": "tiny.ipynb", "parameters": {"x": 8}, "output": "c", "needs": ["b"]},
    ]
    plan = _plan(tmp_path, [1], chain)
    dry = workbook.run_plan(plan, tmp_path, dry_run=True, log=lambda *a, **k: None)
    assert [(r.job.step, r.status) for r in dry] == [("grid", "planned"), ("b", "planned"), ("c", "planned")]


def test_summary_table_and_exit_code(tmp_path: Path) -> None:
    jobs = workbook.expand_plan(
        {"steps": [{"name": "s", "notebook": "a.ipynb", "grid": {"x": [1, 2]}}]}, tmp_path
    )
    results = [
        workbook.Result(jobs[0], "ok", 1.5),
        workbook.Result(jobs[1], "failed", 0.2, "ValueError: boom"),
    ]
    table = workbook.summary_table(results, tmp_path)
    assert "runs/{preset}" not in table and "a_x2.ipynb" in table and "ValueError: boom" in table
    assert table.splitlines()[-1] == "1 ok, 1 failed"
    assert workbook.exit_code(results) == 1 and workbook.exit_code(results[:1]) == 0

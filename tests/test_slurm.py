"""The SLURM executor through submitit's LocalExecutor: one job per training run, settings from the plan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import submitit
import yaml

from dualaction_lib import plan_runs, workbook
from dualaction_lib.rundir import RunDir
from dualaction_lib.workbook import slurm

ROOT = Path(__file__).resolve().parent.parent


def local_executor(task: slurm.Task) -> submitit.LocalExecutor:
    executor = submitit.LocalExecutor(folder=task.folder)
    executor.update_parameters(timeout_min=task.minutes)
    return executor


def test_time_limits_and_settings_per_preset() -> None:
    assert [slurm.time_minutes(t) for t in ("90", "01:30:00", "1-00:00:00", "00:00:30")] == [90, 90, 1440, 1]
    plan = {"slurm": {"gpus": 2, "time": "10:00:00", "presets": {"big": {"gpus": 4, "time": "2-00:00:00"}}}}
    settings = slurm.read_settings(plan)
    assert (settings.gpus, settings.minutes) == (2, 600)
    big = settings.for_preset("big")
    assert (big.gpus, big.minutes, big.partition) == (4, 2880, "")
    assert slurm.read_settings({}).gpus == 1, "defaults without a slurm section"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"gpu": 1}, r"p.yaml: slurm: unknown key\(s\) \['gpu'\]"),
        ({"gpus": 0}, r"p.yaml: slurm.gpus must be an integer >= 1, got 0"),
        ({"time": "soon"}, r"p.yaml: slurm.time: 'soon' is not a time limit"),
        ({"presets": {"x": {"folder": "a"}}}, r"slurm.presets.x may set only partition, gpus, time"),
    ],
)
def test_bad_slurm_sections_are_one_line_plan_errors(section: dict, message: str) -> None:
    with pytest.raises(workbook.PlanError, match=message):
        slurm.read_settings({"slurm": section}, "p.yaml")


def test_several_gpus_start_the_run_with_torchrun() -> None:
    assert slurm.launch_command(["-m", "x"], 1) == [sys.executable, "-m", "x"]
    assert slurm.launch_command(["-m", "x"], 4) == [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4", "-m", "x",
    ]  # fmt: skip


def test_a_failing_cluster_job_is_one_line(tmp_path: Path) -> None:
    script = "import sys; print('error: data/x: no such folder', file=sys.stderr); sys.exit(1)"
    task = slurm.Task("bad", ["-c", script], 1, 5, tmp_path, tmp_path / "jobs")
    ok, message = slurm.run_task(task, local_executor)
    assert not ok and "\n" not in message
    assert message.startswith("cluster job ") and "failed: error: data/x: no such folder (log: " in message


def _plan(tmp_path: Path) -> Path:
    plan = {
        "name": "tiny",
        "parameters": {"preset": "smoke", "out_dir": str(tmp_path / "runs"), "interactive": False},
        "slurm": {"partition": "gpu", "gpus": 1, "time": "00:20:00", "folder": "{out_dir}/slurm"},
        "steps": [
            {
                "name": "students",
                "notebook": "notebooks/03_distillation_training.ipynb",
                "parameters": {"init": "scratch", "epochs": 1, "name": "rgb_tiny_seed{seed}"},
                "grid": {"method": ["rgb"], "seed": [1]},
            }
        ],
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def test_a_training_job_becomes_one_cluster_job_that_trains_its_run(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    jobs = workbook.expand_plan(workbook.load_plan(plan), ROOT)
    settings = slurm.read_settings(workbook.load_plan(plan))
    task = plan_runs.training_task(jobs[0], settings, ROOT)
    assert (task.gpus, task.minutes, task.partition) == (1, 20, "gpu")
    assert task.folder == tmp_path / "runs" / "slurm" / jobs[0].output.stem
    assert task.argv == [
        "-m", "dualaction_lib", "train", "--preset", "smoke", "--method", "rgb", "--seed", "1",
        "--out_dir", str(tmp_path / "runs"), "--no-progress", "--variant", "main", "--name", "rgb_tiny_seed1",
        "--optim.epochs", "1", "--model.init", "scratch",
    ]  # fmt: skip
    send = plan_runs.Planner(local_executor).remote(plan, ROOT, {})
    assert send(jobs[0]) is None, "the cluster job trained the run"
    run = tmp_path / "runs" / "smoke" / "rgb_tiny_seed1"
    assert (run / "eval.json").is_file() and (run / "checkpoint.pt").is_file()
    assert list((tmp_path / "runs" / "slurm" / jobs[0].output.stem).glob("*_log.out")), "submitit's log"
    assert RunDir.of(plan_runs.job_config(jobs[0])).path == run


def test_the_runner_fails_a_job_whose_cluster_job_failed_without_running_its_notebook(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    sent = []

    def remote(job: workbook.Job) -> str | None:
        sent.append(job.step)
        return "cluster job 7 failed: error: out of memory"

    results = workbook.run_plan(plan, ROOT, remote=remote, log=lambda *a, **k: None)
    assert sent == ["students"] and [r.status for r in results] == ["failed"]
    assert results[0].message == "cluster job 7 failed: error: out of memory"
    assert not results[0].job.output.exists(), "the notebook did not run"
    status = yaml.safe_load(results[0].job.status_path.read_text(encoding="utf-8"))
    assert status["status"] == "failed" and status["message"] == results[0].message

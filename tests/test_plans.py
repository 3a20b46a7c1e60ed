"""The workbook plans (configs/plans/*.yaml) as written: what they train, in which order, with what data.

Two notebooks run at once and a run directory admits one trainer, so a plan must never let two jobs
train the same run: no run is named by two jobs, and every run a job starts from (the pretraining run
of its modality, its flow teacher) is trained by a step it waits for.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from dualaction_lib import figures_job, workbook
from dualaction_lib.config import load_config
from dualaction_lib.rundir import RunDir
from dualaction_lib.study import runs

ROOT = Path(__file__).resolve().parent.parent
PLANS = ("cpu", "smoke")
TRAINS = "03_distillation_training"
NAMES = ("rgb", "mars", "ds")


def _jobs(plan: str) -> list[workbook.Job]:
    return workbook.expand_plan(workbook.load_plan(ROOT / "configs" / "plans" / f"{plan}.yaml"), ROOT)


def _config(job: workbook.Job):
    """The Config notebook 03 trains for this job (the notebook's own ``runs.run_config`` call)."""
    p = job.parameters
    chosen = {k: p.get(k) for k in ("alpha", "epochs", "init", "normalize", "layers")}
    return runs.run_config(
        p["preset"],
        p["method"],
        p["seed"],
        **chosen,
        variant=p["variant"],
        name=p.get("name", ""),
        out_dir=p["out_dir"],
    )


def _waits_for(jobs: list[workbook.Job], step: str) -> set[str]:
    """Every step ``step`` waits for, directly or through other steps."""
    needs = {job.step: set(job.needs) for job in jobs}
    seen, todo = set(), list(needs[step])
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo += needs[current]
    return seen


@pytest.mark.parametrize("plan", [*PLANS, "paper_ucf101_16f"])
def test_no_two_jobs_train_the_same_run_at_once(plan: str) -> None:
    jobs = _jobs(plan)
    training = [(job, _config(job)) for job in jobs if job.notebook.stem == TRAINS]
    trained = {}
    for job, cfg in training:
        assert RunDir.of(cfg).path not in trained, (
            f"{RunDir.of(cfg).path} is trained by {trained.get(RunDir.of(cfg).path)} and {job.step}"
        )
        trained[RunDir.of(cfg).path] = job.step
        assert job.done[0] == ROOT / RunDir.of(cfg).path / "eval.json", (
            f"{job.output.name}: done names another run"
        )
    for job, cfg in training:
        before = _waits_for(jobs, job.step)
        if cfg.model.init == "pretrained" and cfg.model.pretrained == "auto":
            modality = "flow" if cfg.method == "flow" else "rgb"
            source = Path(cfg.out_dir) / cfg.model.source_preset / f"{modality}_seed{cfg.model.source_seed}"
            assert trained.get(source) in before, f"{job.output.name} starts from {source} before it exists"
        if cfg.is_distill:
            teacher = Path(cfg.out_dir) / cfg.run_group / f"flow_seed{cfg.teacher_seed}"
            assert trained.get(teacher) in before, (
                f"{job.output.name} distills from {teacher} before it exists"
            )


@pytest.mark.parametrize("plan", PLANS)
def test_every_teacher_seed_and_every_experiment_is_planned(plan: str) -> None:
    jobs = _jobs(plan)
    preset = load_config(jobs[0].parameters["preset"])
    by_step: dict[str, list[workbook.Job]] = {}
    for job in jobs:
        by_step.setdefault(job.step, []).append(job)
    teacher_seeds = sorted(job.parameters["seed"] for job in by_step["teacher"])
    assert teacher_seeds == list(range(preset.distill.teacher_seeds))
    assert {job.parameters["method"] for job in by_step["pretrain"]} == {"rgb", "flow"}
    student_seeds = {job.parameters["seed"] for job in by_step["students"]}
    assert 0 not in student_seeds, "seed 0 belongs to the teachers and the pretraining runs"
    experiments = {  # step → (methods, fewest seeds)
        "students": ({"rgb", "mars", "ds", "ds_mae", "ds_gram"}, 5 if plan == "cpu" else 1),
        "normalized": ({"mars", "ds"}, 5 if plan == "cpu" else 1),
        "scratch": ({"rgb", "mars", "ds"}, 3 if plan == "cpu" else 1),
    }
    for step, (methods, fewest) in experiments.items():
        assert {job.parameters["method"] for job in by_step[step]} == methods, step
        seeds = {job.parameters["seed"] for job in by_step[step]}
        assert len(by_step[step]) == len(seeds) * len(methods) and len(seeds) >= fewest, step
        assert seeds <= student_seeds, step
    main_jobs = by_step["students"] + by_step.get("more_seeds", [])
    main_seeds = {m: {j.parameters["seed"] for j in main_jobs if j.parameters["method"] == m} for m in NAMES}
    all_seeds = student_seeds | main_seeds["ds"]
    if plan == "cpu":  # the verdict's rows (DS − MARS, DS − RGB) have more seeds: docs/results.md, power
        assert main_seeds["rgb"] == main_seeds["mars"] == main_seeds["ds"] == set(range(1, 13))
        assert preset.distill.teacher_seeds == 12, "one teacher per student seed"
    assert {job.parameters["seed"] for job in by_step["fusion"]} == all_seeds
    assert by_step["gram_matrices"][0].parameters["seed"] in student_seeds
    tables = by_step["tables"][0]
    optional = {"nopool", "more_seeds"} if plan == "cpu" else set()  # the cpu plan trains them
    assert set(tables.needs) == {"students", "normalized", "scratch", "paper_alpha", "fusion"} | optional
    if plan == "cpu":
        nopool = by_step["nopool"]
        assert {job.parameters["seed"] for job in nopool} <= student_seeds and len(nopool) >= 3
        assert all("pool" not in _config(job).distill.layers for job in nopool)


@pytest.mark.parametrize("plan", PLANS)
def test_paper_alpha_trains_what_the_tuned_runs_do_not(plan: str) -> None:
    """Table 5's α = 50 point: sweep runs at 50 for each method tuned to another α (≥ 3 seeds on cpu);
    a method tuned to 50 takes the point from its main runs, so the plan must not train it again."""
    jobs = [job for job in _jobs(plan) if job.step == "paper_alpha"]
    assert {float(job.parameters["alpha"]) for job in jobs} == {50.0}
    for job in jobs:
        cfg = _config(job)
        assert cfg.variant == "sweep" and cfg.distill.alpha == 50.0
        tuned = load_config(job.parameters["preset"], method=job.parameters["method"]).distill.alpha
        assert tuned != 50.0, f"{job.parameters['method']} is tuned to 50: its main runs are the point"
    if plan == "cpu":
        methods = {job.parameters["method"] for job in jobs}
        tuned_to_50 = {m for m in ("mars", "ds") if load_config("cpu", method=m).distill.alpha == 50.0}
        assert methods | tuned_to_50 == {"mars", "ds"}
        assert all(len([j for j in jobs if j.parameters["method"] == m]) >= 3 for m in methods), "≥ 3 seeds"


def test_data_is_prepared_for_every_preset_the_plan_uses() -> None:
    assert figures_job.plan_presets(_jobs("cpu")) == ["cpu_source", "cpu"]
    assert figures_job.plan_presets(_jobs("smoke")) == ["smoke_source", "smoke"]


def test_figures_no_step_rewrote_are_reported_only_when_every_step_ran(tmp_path: Path) -> None:
    old, kept, notes = tmp_path / "05_alpha_sweep.png", tmp_path / "table1.md", tmp_path / "notes.txt"
    for path in (old, kept, notes):
        path.write_text("x")
    os.utime(old, (100.0, 100.0))
    os.utime(notes, (100.0, 100.0))
    os.utime(kept, (300.0, 300.0))
    assert figures_job.stale_outputs(tmp_path, 200.0, ["ok", "ok"]) == [old]  # notes.txt is not an output
    assert figures_job.stale_outputs(tmp_path, 200.0, ["ok", "skipped"]) == [], "skipped: older but current"
    assert figures_job.stale_outputs(tmp_path, 200.0, ["ok", "failed"]) == []
    assert figures_job.list_outputs(tmp_path, 200.0) == [kept]


def test_figures_counts_and_checks_the_plans_figure_folder_not_a_steps_subfolder(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: t\nparameters: {figures_dir: figs}\nsteps:\n"
        "  - {name: pretrain, notebook: nb.ipynb, parameters: {figures_dir: figs/pretraining}}\n"
        "  - {name: tables, notebook: nb.ipynb, output: tables}\n"
    )
    stale = tmp_path / "figs" / "05_alpha_sweep.png"
    stale.parent.mkdir()
    stale.write_text("old")
    os.utime(stale, (100.0, 100.0))

    def fake_run_plan(path, root, **kwargs):  # each step writes one figure
        (root / "figs" / "pretraining").mkdir(exist_ok=True)
        (root / "figs" / "pretraining" / "curves.png").write_text("new")
        (root / "figs" / "table1.md").write_text("new")
        return [workbook.Result(job, "ok") for job in workbook.expand_plan(workbook.load_plan(path), root)]

    monkeypatch.setattr(workbook, "run_plan", fake_run_plan)
    monkeypatch.setattr(workbook, "summary_table", lambda results, root: "")
    args = argparse.Namespace(
        root=str(tmp_path), set=None, plan=str(plan), skip_prepare=True, only=None, force=False,
        kernel="python3", timeout=None, jobs=None, progress=False,
    )  # fmt: skip
    assert figures_job.run(args) == 0
    out = capsys.readouterr().out
    assert f"2 figure/table files written to {tmp_path / 'figs'}\n" in out
    assert "1 files in" in out and out.rstrip().splitlines()[-2].endswith(": 05_alpha_sweep.png")

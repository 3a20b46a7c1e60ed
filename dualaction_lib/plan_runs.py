"""What a plan's jobs train: the GPU-hours estimate printed before a plan starts, and the SLURM task of
each training run (``python -m dualaction_lib workbook --executor slurm``).

The runner (:mod:`dualaction_lib.workbook`) does not know its jobs; this module does. A job *trains* when
it runs the training notebook (``03_distillation_training``): its parameters become the Config that
notebook trains (``study.runs.run_config``).

- Estimate: every training job not complete yet; runs of one shape (network, loss, clip, crop, batch,
  AMP) share one timed step on the current device (``engine.estimate.time_train_step``), multiplied by
  each run's steps (``engine.estimate.steps_per_run``). Evaluation and data loading are not counted.
- SLURM: the run is trained in a cluster job by ``python -m dualaction_lib train`` with the job's
  settings (``torchrun`` for several GPUs), then its notebook runs on the runner's machine, finds the run
  complete and draws it. The plan's ``slurm:`` section gives partition, GPUs and time limit, per preset.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dualaction_lib import workbook
from dualaction_lib.io import project_root
from dualaction_lib.workbook import slurm
from dualaction_lib.workbook.execute import select_steps

TRAINING_NOTEBOOK = "03_distillation_training"
CHOICES = {  # notebook parameter → config key (None values keep the preset's)
    "alpha": "distill.alpha",
    "epochs": "optim.epochs",
    "init": "model.init",
    "normalize": "distill.normalize",
    "layers": "distill.layers",
}


def job_config(job: workbook.Job) -> Any:
    """The Config the training notebook trains for ``job``; None for a job that trains nothing."""
    from dualaction_lib.study.runs import run_config

    if job.notebook.stem != TRAINING_NOTEBOOK:
        return None
    p = job.parameters
    chosen = {k: p.get(k) for k in CHOICES}
    return run_config(
        p["preset"],
        p["method"],
        p["seed"],
        **chosen,
        variant=p.get("variant", "main"),
        name=p.get("name", ""),
        out_dir=p.get("out_dir", "runs"),
    )


def train_argv(job: workbook.Job) -> list[str]:
    """``-m dualaction_lib train …`` with the job's settings (what its notebook would train)."""
    p = job.parameters
    argv = ["-m", "dualaction_lib", "train", "--preset", str(p["preset"]), "--method", str(p["method"])]
    argv += ["--seed", str(p["seed"]), "--out_dir", str(p.get("out_dir", "runs")), "--no-progress"]
    argv += ["--variant", str(p.get("variant", "main"))]
    if p.get("name"):
        argv += ["--name", str(p["name"])]
    for key, dotted in CHOICES.items():
        value = p.get(key)
        if value is not None:
            argv += [
                f"--{dotted}",
                "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else str(value),
            ]
    return argv


# ----------------------------------------------------------------------------------------------- estimate
@dataclass
class StepEstimate:
    step: str
    runs: int
    seconds_per_step: float  # the slowest run shape of the step
    steps: int  # optimizer steps summed over the step's runs
    hours: float
    device: str


def _shape(cfg: Any) -> tuple:
    """What a step's duration depends on: network, loss terms, input size, batch, device, AMP."""
    d, m = cfg.data, cfg.model
    teacher = (cfg.distill.teacher_arch, tuple(cfg.distill.teacher_widths or ())) if cfg.is_distill else ()
    layers = tuple(cfg.distill.layers) if cfg.is_distill else ()
    return (cfg.method, m.arch, tuple(m.widths or ()), teacher, layers, d.clip_len, d.crop_size,
            cfg.optim.batch_size, cfg.device, cfg.amp, m.finetune_from)  # fmt: skip


def estimate_jobs(
    jobs: list[workbook.Job], time_step: Callable[[Any], Any] | None = None
) -> list[StepEstimate]:
    """One StepEstimate per plan step with training jobs still to run (plan order).

    ``time_step(cfg)`` returns an object with ``seconds`` and ``device`` (default
    :func:`dualaction_lib.engine.estimate.time_train_step`); it is called once per run shape.
    """
    from dualaction_lib.engine.estimate import steps_per_run, time_train_step

    time_step = time_step or time_train_step
    timings: dict[tuple, Any] = {}
    rows: dict[str, StepEstimate] = {}
    for job in jobs:
        cfg = job_config(job)
        if cfg is None or workbook.is_complete(job):
            continue
        key = _shape(cfg)
        if key not in timings:
            timings[key] = time_step(cfg)
        timing, steps = timings[key], steps_per_run(cfg)
        row = rows.setdefault(job.step, StepEstimate(job.step, 0, 0.0, 0, 0.0, timing.device))
        row.runs += 1
        row.seconds_per_step = max(row.seconds_per_step, timing.seconds)
        row.steps += steps
        row.hours += timing.seconds * steps / 3600
    return list(rows.values())


def estimate_text(rows: list[StepEstimate]) -> str:
    """The estimate as a plain-text table with its total, naming the device the steps were timed on."""
    if not rows:
        return "GPU-hours estimate: no training run left to do"
    devices = ", ".join(sorted({r.device for r in rows}))
    table = [("step", "runs", "s/step", "steps", "hours")]
    table += [
        (r.step, str(r.runs), f"{r.seconds_per_step:.3g}", f"{r.steps:,}", f"{r.hours:.2f}") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        for row in table
    ]
    total = sum(r.hours for r in rows)
    head = f"GPU-hours estimate (one timed training step per run shape on {devices}; evaluation not counted):"
    tail = f"total: {sum(r.runs for r in rows)} runs, {total:.2f} device-hours on {devices}"
    return "\n".join([head, *lines, tail])


# ----------------------------------------------------------------------------------------------- runner
def _jobs(plan_path: str | os.PathLike, root: Any, overrides: dict, only: list[str] | None = None) -> list:
    root = Path(root).resolve() if root else project_root()
    plan = workbook.load_plan(plan_path)
    return select_steps(workbook.expand_plan(plan, root, overrides), only)


def training_task(job: workbook.Job, settings: slurm.SlurmSettings, root: Path) -> slurm.Task | None:
    """The cluster job that trains ``job``'s run (None for a job that trains nothing)."""
    if job.notebook.stem != TRAINING_NOTEBOOK:
        return None
    one = settings.for_preset(str(job.parameters["preset"]))
    folder = root / slurm_folder(settings, job)
    return slurm.Task(
        name=job.output.stem, argv=train_argv(job), gpus=one.gpus, minutes=one.minutes, cwd=root,
        folder=folder, partition=one.partition, cpus_per_gpu=one.cpus_per_gpu,
    )  # fmt: skip


def slurm_folder(settings: slurm.SlurmSettings, job: workbook.Job) -> Path:
    return Path(settings.folder.format(**job.parameters)) / job.output.stem


class Planner:
    """The hooks the ``workbook`` command takes: the estimate and the SLURM executor.

    ``make_executor`` builds the submitit executor of one task (default: SLURM; tests pass
    ``submitit.LocalExecutor``).
    """

    def __init__(self, make_executor: Callable[[slurm.Task], Any] = slurm.slurm_executor):
        self.make_executor = make_executor

    def estimate(self, plan_path: Any, root: Any, overrides: dict, only: list[str] | None = None) -> str:
        return estimate_text(estimate_jobs(_jobs(plan_path, root, overrides, only)))

    def remote(self, plan_path: Any, root: Any, overrides: dict) -> Callable[[workbook.Job], str | None]:
        root = Path(root).resolve() if root else project_root()
        settings = slurm.read_settings(workbook.load_plan(plan_path), str(plan_path))

        def send(job: workbook.Job) -> str | None:
            task = training_task(job, settings, root)
            if task is None:
                return None
            ok, message = slurm.run_task(task, self.make_executor)
            return None if ok else message

        return send


def register(subparsers: argparse._SubParsersAction) -> None:
    """The ``workbook`` sub-command with its estimate and SLURM executor."""
    workbook.register(subparsers).set_defaults(planner=Planner())

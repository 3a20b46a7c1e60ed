"""Sending a plan's training runs to a SLURM cluster through submitit: one cluster job per run.

With ``--executor slurm`` the runner hands every job that trains a run (what a job trains is the
caller's to say: a ``remote`` function gives its :class:`Task`) to SLURM and waits for it; the job's
notebook then runs on the runner's machine, finds the run complete and draws its figures. Jobs that train
nothing run locally, as with the default ``--executor local``. A plan's ``slurm:`` section sets the
cluster job's resources, per plan and per preset::

    slurm:
      partition: gpu           # '' = the cluster's default
      gpus: 1                  # GPUs of one run (one node); > 1 starts the run with torchrun
      time: "24:00:00"         # time limit of one run, HH:MM:SS or minutes
      cpus_per_gpu: 8          # data-loading workers
      folder: "{out_dir}/slurm"   # submitit's scripts and logs, one folder per job
      presets: {paper_ucf101_64f: {gpus: 4, time: "72:00:00"}}   # per-preset overrides

Several runs are in the cluster's queue at once when the runner has several workers (``--jobs``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dualaction_lib.workbook.plan import PlanError

__all__ = ["SlurmSettings", "Task", "launch_command", "read_settings", "run_task", "slurm_executor"]


@dataclass(frozen=True)
class SlurmSettings:
    partition: str = ""
    gpus: int = 1
    time: str = "24:00:00"
    cpus_per_gpu: int = 8
    folder: str = "{out_dir}/slurm"
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def minutes(self) -> int:
        """The time limit in minutes (``HH:MM:SS``, ``D-HH:MM:SS`` or a number of minutes)."""
        return time_minutes(self.time)

    def for_preset(self, preset: str) -> SlurmSettings:
        """These settings with the preset's overrides (``presets: {<preset>: {gpus: …, time: …}}``)."""
        return replace(self, **self.presets.get(preset, {}))


def time_minutes(value: str | int) -> int:
    text = str(value).strip()
    days, _, rest = text.rpartition("-") if "-" in text else ("0", "", text)
    parts = rest.split(":")
    if not text or len(parts) > 3 or not all(p.isdigit() for p in [*parts, days]):
        raise ValueError(f"{value!r} is not a time limit (HH:MM:SS, D-HH:MM:SS or minutes)")
    if len(parts) == 1:
        return int(days) * 1440 + int(parts[0])
    hours, minutes, seconds = ([0] * (3 - len(parts)) + [int(p) for p in parts])[-3:]
    return int(days) * 1440 + hours * 60 + minutes + (1 if seconds else 0)


def read_settings(plan: dict[str, Any], where: str = "plan") -> SlurmSettings:
    """The plan's ``slurm:`` section (defaults when absent); a wrong key or value is a PlanError."""
    section = plan.get("slurm", {}) or {}
    known = {f.name for f in fields(SlurmSettings)}
    if not isinstance(section, dict):
        raise PlanError(f"{where}: 'slurm' must be a mapping with keys {sorted(known)}")
    unknown = sorted(set(section) - known)
    if unknown:
        raise PlanError(f"{where}: slurm: unknown key(s) {unknown}; known keys: {sorted(known)}")
    settings = SlurmSettings(**section)
    for name, override in {"": {}, **settings.presets}.items():
        label = f"slurm.presets.{name}" if name else "slurm"
        if not isinstance(override, dict) or set(override) - (known - {"presets", "folder"}):
            raise PlanError(f"{where}: {label} may set only partition, gpus, time and cpus_per_gpu")
        one = settings.for_preset(name) if name else settings
        if not isinstance(one.gpus, int) or one.gpus < 1:
            raise PlanError(f"{where}: {label}.gpus must be an integer >= 1, got {one.gpus!r}")
        try:
            time_minutes(one.time)
        except ValueError as err:
            raise PlanError(f"{where}: {label}.time: {err}") from None
    return settings


@dataclass
class Task:
    """One cluster job: a command (argv without the interpreter) with its resources."""

    name: str
    argv: list[str]  # e.g. ["-m", "dualaction_lib", "train", "--preset", "cpu", …]
    gpus: int
    minutes: int
    cwd: Path
    folder: Path  # submitit's folder for this job (scripts, stdout, stderr)
    partition: str = ""
    cpus_per_gpu: int = 8


def launch_command(argv: list[str], gpus: int) -> list[str]:
    """The interpreter for one GPU, ``torchrun`` (one process per GPU, one node) for several."""
    if gpus > 1:
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={gpus}",
            *argv,
        ]
    return [sys.executable, *argv]


def slurm_executor(task: Task) -> Any:
    """A submitit executor that sends ``task`` to SLURM with its partition, GPUs and time limit."""
    import submitit

    executor = submitit.AutoExecutor(folder=task.folder, cluster="slurm")
    extra = {"slurm_partition": task.partition} if task.partition else {}
    executor.update_parameters(
        name=task.name, timeout_min=task.minutes, gpus_per_node=task.gpus, tasks_per_node=1, nodes=1,
        cpus_per_task=task.cpus_per_gpu * task.gpus, **extra,
    )  # fmt: skip
    return executor


def run_task(task: Task, make_executor: Callable[[Task], Any] = slurm_executor) -> tuple[bool, str]:
    """Submit ``task``, wait for it; ``(True, job id)`` or ``(False, one line: why it failed)``."""
    import submitit
    from submitit.helpers import CommandFunction

    executor = make_executor(task)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(task.cwd), os.environ.get("PYTHONPATH")])),
    }
    job = executor.submit(
        CommandFunction(launch_command(task.argv, task.gpus), cwd=task.cwd, env=env, verbose=False)
    )
    try:
        job.result()
    except (submitit.core.utils.FailedJobError, submitit.core.utils.UncompletedJobError) as err:
        return False, f"cluster job {job.job_id} failed: {failure_line(str(err))} (log: {job.paths.stderr})"
    return True, str(job.job_id)


def failure_line(text: str) -> str:
    """The command's own last stderr line from submitit's failure text (the CLI's one-line error)."""
    marker = "FailedJobError: "
    if marker in text:
        text = text.rsplit(marker, 1)[1].split("\n----------------------", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"

"""Executing a plan's jobs with papermill, several at once, in dependency order; the summary table.

A step starts as soon as every step it ``needs`` has finished (with one worker: in plan order), so
independent steps overlap when ``jobs`` > 1. A job is *complete* (and skipped) when its executed notebook
exists, its sidecar ``<output>.status.json`` says ``ok`` for the same parameters, and every ``done`` file
exists. A failing notebook is kept (papermill writes the partly executed copy), the runner moves on, prints
a summary table and returns non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dualaction_lib.errors import Terminated
from dualaction_lib.io import atomic_write_json, project_root
from dualaction_lib.threads import children_share_cores
from dualaction_lib.workbook.guard import RunnerGuard
from dualaction_lib.workbook.plan import Job, PlanError, expand_plan, is_complete, load_plan

KERNEL = "python3"


@dataclass
class Result:
    job: Job
    status: str  # ok | skipped | failed | blocked | planned | stopped (by a signal to the runner)
    seconds: float = 0.0
    message: str = ""


@contextmanager
def kernel_environment(root: Path, progress: bool | None = None) -> Iterator[None]:
    """Environment the kernels inherit: throttled tqdm (none with ``progress=False``), importable
    library, no forced Agg backend."""
    saved = dict(os.environ)
    os.environ.setdefault("TQDM_MININTERVAL", "30")
    if progress is False:
        os.environ["TQDM_DISABLE"] = "1"
    os.environ["DUALACTION_ROOT"] = str(root)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), saved.get("PYTHONPATH")]))
    if os.environ.get("MPLBACKEND", "").lower() == "agg":  # it would silently drop every figure
        del os.environ["MPLBACKEND"]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def notebook_error(path: Path) -> str:
    """``ename: evalue (cell [n])`` of the first error output in an executed notebook, or ''."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return ""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                where = f" (cell [{cell.get('execution_count')}])" if cell.get("execution_count") else ""
                return f"{output.get('ename')}: {output.get('evalue')}".splitlines()[0] + where
    return ""


def execute_job(
    job: Job, root: Path, kernel: str = KERNEL, timeout: int | None = None, guard: RunnerGuard | None = None
) -> Result:
    """Run one notebook with papermill in a child process; a failure is returned, never raised.

    A child process keeps a crashing kernel or a hung notebook away from the runner and lets several
    notebooks run at once. It runs in a process group of its own, tracked by ``guard``
    (:mod:`dualaction_lib.workbook.guard`). Its log goes to ``<output>.log``; papermill keeps the partly
    executed notebook.
    """
    if guard is not None and guard.stopping:
        return Result(job, "stopped", message="not started: the runner is stopping")
    job.output.parent.mkdir(parents=True, exist_ok=True)
    job.status_path.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "papermill", str(job.notebook), str(job.output),
        "-k", kernel, "--cwd", str(root), "-y", yaml.safe_dump(job.parameters),
        "--no-progress-bar", "--log-level", "WARNING",
    ]  # fmt: skip
    if timeout:
        command += ["--execution-timeout", str(timeout)]
    log_path = job.output.with_name(job.output.name + ".log")
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        if guard is None:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        else:
            proc = guard.launch(command, job.output, log, dict(os.environ))
            if proc is None:
                return Result(job, "stopped", message="not started: the runner is stopping")
        try:
            code = proc.wait()
        finally:
            if guard is not None:
                guard.finished(proc)
    seconds = time.perf_counter() - start
    message = ""
    if guard is not None and guard.stopping:
        status = "stopped"
        message = f"stopped by {signal.Signals(guard.stop_signal).name} (exit {code}); rerun to resume"
        atomic_write_json(job.status_path, _status(job, status, seconds, message))
        return Result(job, status, seconds, message)
    if code != 0:
        message = notebook_error(job.output) or _last_line(log_path) or f"papermill exited with {code}"
    else:
        missing = [str(p) for p in job.done if not p.exists()]
        message = f"notebook ran but did not write {missing}" if missing else ""
    status = "failed" if message else "ok"
    atomic_write_json(job.status_path, _status(job, status, seconds, message))
    return Result(job, status, seconds, message)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _status(job: Job, status: str, seconds: float, message: str) -> dict[str, Any]:
    return {"status": status, "seconds": round(seconds, 2), "message": message, "parameters": job.parameters}


class _Schedule:
    """Which steps may start: a step starts once every step it ``needs`` has finished (plan order)."""

    def __init__(self, steps: dict[str, list[str]]):
        self.needs = {step: set(needs) & set(steps) for step, needs in steps.items()}
        self.started: set[str] = set()
        self.finished: set[str] = set()
        self.failed: set[str] = set()

    def ready(self) -> list[str]:
        ready = [s for s in self.needs if s not in self.started and self.needs[s] <= self.finished]
        self.started.update(ready)
        return ready

    def blocked(self, step: str) -> bool:
        return bool(self.needs[step] & self.failed)

    def record(self, result: Result, step_jobs: list[Job], results: dict[int, Result]) -> None:
        if all(id(job) in results for job in step_jobs):
            self.finished.add(result.job.step)
            if any(results[id(job)].status in ("failed", "blocked") for job in step_jobs):
                self.failed.add(result.job.step)


def run_plan(
    plan_path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    dry_run: bool = False,
    kernel: str = KERNEL,
    timeout: int | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    remote: Callable[[Job], str | None] | None = None,
    log=print,
) -> list[Result]:
    """Execute a plan; one Result per job, in plan order.

    Up to ``jobs`` notebooks (default: the plan's ``jobs``, else 1) run at once; a step's jobs start when
    every step it ``needs`` has finished, so independent steps overlap. With one worker, plan order.
    The notebook folders are locked while it runs (:mod:`dualaction_lib.workbook.guard`). SIGINT / SIGTERM
    stop the running notebooks; then it raises KeyboardInterrupt / Terminated carrying ``results``.
    ``remote(job)`` (e.g. the SLURM executor, :mod:`dualaction_lib.workbook.slurm`) runs first for every
    job started: it does the job's heavy part elsewhere and returns None, or a one-line reason it failed
    (the job then fails without running its notebook).
    """
    root = Path(root).resolve() if root is not None else project_root()
    plan = load_plan(plan_path)
    workers = max(1, int(jobs or plan.get("jobs", 1)))
    todo = select_steps(expand_plan(plan, root, overrides), only)
    check_notebooks(todo, plan_path)
    tags = {id(job): f"[{n}/{len(todo)}] {job.output.name}" for n, job in enumerate(todo, start=1)}
    steps = {job.step: job.needs for job in todo}  # plan order; needs on steps not selected are met
    state = _Schedule(steps)
    results: dict[int, Result] = {}

    def finish(result: Result) -> None:
        results[id(result.job)] = result
        log(
            f"{tags[id(result.job)]} {result.status} {result.seconds:.1f}s {result.message}".rstrip(),
            flush=True,
        )
        state.record(result, [j for j in todo if j.step == result.job.step], results)

    guard = RunnerGuard({job.output.parent for job in todo}, log) if not dry_run else None

    def run(job: Job) -> Result:
        if guard is None or not guard.stopping:
            log(f"{tags[id(job)]} running ...", flush=True)
        if remote is not None:
            start = time.perf_counter()
            failure = remote(job)
            if failure:
                seconds = time.perf_counter() - start
                job.output.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_json(job.status_path, _status(job, "failed", seconds, failure))
                return Result(job, "failed", seconds, failure)
        return execute_job(job, root, kernel, timeout, guard)

    with (
        kernel_environment(root, progress),
        children_share_cores(sharing=workers > 1),  # kernels running at once share the cores
        guard or nullcontext(),
        ThreadPoolExecutor(workers) as pool,
    ):
        futures: dict[Future, Job] = {}
        while True:
            ready = [] if guard is not None and guard.stopping else state.ready()
            for step in ready:
                for job in (j for j in todo if j.step == step):
                    if state.blocked(step):
                        finish(Result(job, "blocked", message=f"needs failed step(s) {sorted(job.needs)}"))
                    elif not force and is_complete(job):
                        finish(Result(job, "skipped", message="complete"))
                    elif dry_run:
                        finish(Result(job, "planned"))
                    else:
                        futures[pool.submit(run, job)] = job
            if not futures:
                if ready:
                    continue  # skipped/planned/blocked steps may have unlocked others
                break
            done, _ = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            if guard is not None:
                guard.poll()
            for future in done:
                del futures[future]
                finish(future.result())
    if guard is not None and guard.stopping:
        raise _stopped(guard.stop_signal, [results.get(id(job), Result(job, "stopped")) for job in todo])
    return [results[id(job)] for job in todo]


def _stopped(signum: int, results: list[Result]) -> KeyboardInterrupt:
    """Ctrl-C / SIGTERM to the runner, after its notebooks stopped: carries the results for the summary."""
    cut = sum(r.status == "stopped" for r in results)
    text = f"{cut} notebook(s) stopped or not started; rerun the plan to resume them"
    stop = (
        Terminated(f"stopped by SIGTERM: {text}")
        if signum == signal.SIGTERM
        else KeyboardInterrupt(f"interrupted (Ctrl-C): {text}")
    )
    stop.results = results  # type: ignore[attr-defined]
    return stop


def select_steps(jobs: list[Job], only: list[str] | None) -> list[Job]:
    """The jobs of the steps named in ``only`` (all when None); an unknown name is a PlanError."""
    if not only:
        return jobs
    names = list(dict.fromkeys(job.step for job in jobs))
    unknown = [name for name in only if name not in names]
    if unknown:
        raise PlanError(f"--only: unknown step(s) {unknown}; the plan's steps are {names}")
    return [job for job in jobs if job.step in only]


def check_notebooks(jobs: list[Job], plan_path: str | os.PathLike) -> None:
    for job in jobs:
        if not job.notebook.is_file():
            raise PlanError(f"{plan_path}: step {job.step!r}: notebook {job.notebook} does not exist")


def summary_table(results: list[Result], root: str | os.PathLike | None = None) -> str:
    """A plain-text table: step, executed notebook, status, seconds, message."""
    root = Path(root).resolve() if root is not None else project_root()
    rows = [("step", "notebook", "status", "seconds", "message")]
    for r in results:
        out = r.job.output
        shown = out.relative_to(root) if out.is_relative_to(root) else out
        rows.append((r.job.step, str(shown), r.status, f"{r.seconds:.1f}", r.message[:100]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    statuses = ("ok", "skipped", "failed", "blocked", "stopped", "planned")
    counts = {s: sum(r.status == s for r in results) for s in statuses}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no jobs")
    return "\n".join(lines)


def exit_code(results: list[Result]) -> int:
    return int(any(r.status in ("failed", "blocked", "stopped") for r in results))

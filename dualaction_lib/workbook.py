"""Papermill batch runner: execute a plan of parametrised notebooks, headless.

A plan (``configs/plans/*.yaml``) lists steps; each step is one notebook plus parameters, and an optional
``grid`` whose cartesian product expands into one executed notebook per combination::

    name: cpu
    jobs: 1                                    # notebooks run at once (CLI --jobs overrides)
    output_dir: runs/{preset}/notebooks        # executed copies go here
    parameters: {preset: cpu, interactive: false}
    steps:
      - name: students
        notebook: notebooks/03_distillation_training.ipynb
        grid: {method: [rgb, mars, ds], seed: [1, 2, 3]}
        output: "03_distillation_training_{method}_seed{seed}"   # default: stem + grid values
        done: ["runs/{preset}/{method}_seed{seed}/eval.json"]      # extra files a complete run leaves
        needs: [teacher]                       # start after that step; blocked if one of its jobs failed

A step starts as soon as every step it ``needs`` has finished (with one worker: in plan order), so
independent steps overlap when ``jobs`` > 1. Strings in parameters, ``output`` and ``done`` are formatted
with the job's parameters. A job is *complete* (and skipped) when its executed notebook exists, its
sidecar ``<output>.status.json`` says ``ok`` for the same parameters, and every ``done`` file exists. A
failing notebook is kept (papermill writes the partly executed copy), the runner moves on, prints a
summary table and returns non-zero.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dualaction_lib.io import atomic_write_json

KERNEL = "python3"
STATUS_SUFFIX = ".status.json"


def project_root() -> Path:
    """The repository root: ``$DUALACTION_ROOT``, else the folder above this package."""
    env = os.environ.get("DUALACTION_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


@dataclass
class Job:
    """One notebook execution: a step's notebook with one set of parameters."""

    step: str
    notebook: Path
    output: Path
    parameters: dict[str, Any]
    done: list[Path] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)

    @property
    def status_path(self) -> Path:
        return self.output.with_name(self.output.name + STATUS_SUFFIX)


@dataclass
class Result:
    job: Job
    status: str  # ok | skipped | failed | blocked | planned
    seconds: float = 0.0
    message: str = ""


def _fill(value: Any, params: dict[str, Any]) -> Any:
    """Format ``{name}`` placeholders in strings (recursively in lists and dicts)."""
    if isinstance(value, str):
        try:
            return value.format(**params)
        except KeyError as err:
            raise ValueError(f"{value!r} uses {{{err.args[0]}}}, which is not a parameter") from err
    if isinstance(value, list):
        return [_fill(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, params) for k, v in value.items()}
    return value


def _default_output(stem: str, grid_values: dict[str, Any]) -> str:
    parts = [str(v) if k == "method" else f"{k}{v}" for k, v in grid_values.items()]
    return "_".join([stem, *parts])


def _grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid entry {key!r} must be a non-empty list, got {values!r}")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def load_plan(path: str | os.PathLike) -> dict[str, Any]:
    plan = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(plan.get("steps"), list) or not plan["steps"]:
        raise ValueError(f"{path}: a plan needs a non-empty 'steps' list")
    names = [step.get("name") for step in plan["steps"]]
    if None in names or len(set(names)) != len(names):
        raise ValueError(f"{path}: every step needs a unique 'name', got {names}")
    for step in plan["steps"]:
        unknown = set(step.get("needs", [])) - set(names[: names.index(step["name"])])
        if unknown:
            raise ValueError(f"{path}: step {step['name']!r} needs unknown or later steps {sorted(unknown)}")
    return plan


def expand_plan(
    plan: dict[str, Any], root: str | os.PathLike | None = None, overrides: dict[str, Any] | None = None
) -> list[Job]:
    """Expand every step's grid into jobs, in plan order; relative paths are taken from ``root``.

    ``overrides`` replace plan-level parameters (and any step's value of the same name) in every job.
    """
    root = Path(root) if root is not None else project_root()
    overrides = dict(overrides or {})
    common = {**plan.get("parameters", {}), **overrides}
    jobs = []
    for step in plan["steps"]:
        notebook = root / step["notebook"]
        for values in _grid(step.get("grid", {})):
            raw = {**common, **step.get("parameters", {}), **values, **overrides}
            params = _fill(raw, raw)
            default_dir = "runs/{preset}/notebooks" if "preset" in params else "runs/notebooks"
            out_dir = root / _fill(plan.get("output_dir", default_dir), params)
            name = _fill(step.get("output", _default_output(notebook.stem, values)), params)
            jobs.append(
                Job(
                    step=step["name"],
                    notebook=notebook,
                    output=out_dir / (name if name.endswith(".ipynb") else name + ".ipynb"),
                    parameters=params,
                    done=[root / p for p in _fill(step.get("done", []), params)],
                    needs=list(step.get("needs", [])),
                )
            )
    outputs = [job.output for job in jobs]
    duplicates = {str(o) for o in outputs if outputs.count(o) > 1}
    if duplicates:
        raise ValueError(f"two jobs write the same notebook: {sorted(duplicates)}; set 'output' templates")
    return jobs


def is_complete(job: Job) -> bool:
    if not (job.output.exists() and job.status_path.exists()):
        return False
    status = yaml.safe_load(job.status_path.read_text(encoding="utf-8")) or {}
    same = status.get("status") == "ok" and status.get("parameters") == job.parameters
    return same and all(path.exists() for path in job.done)


@contextmanager
def kernel_environment(root: Path) -> Iterator[None]:
    """Environment the kernels inherit: throttled tqdm, importable library, no forced Agg backend."""
    saved = dict(os.environ)
    os.environ.setdefault("TQDM_MININTERVAL", "30")
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


def execute_job(job: Job, root: Path, kernel: str = KERNEL, timeout: int | None = None) -> Result:
    """Run one notebook with papermill in a child process; a failure is returned, never raised.

    A child process keeps a crashing kernel or a hung notebook away from the runner and lets several
    notebooks run at once. Its log goes to ``<output>.log``; papermill keeps the partly executed notebook.
    """
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
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - start
    message = ""
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
    log=print,
) -> list[Result]:
    """Execute a plan; one Result per job, in plan order.

    Up to ``jobs`` notebooks (default: the plan's ``jobs``, else 1) run at once; a step's jobs start when
    every step it ``needs`` has finished, so independent steps overlap. With one worker, plan order.
    """
    root = Path(root).resolve() if root is not None else project_root()
    plan = load_plan(plan_path)
    workers = max(1, int(jobs or plan.get("jobs", 1)))
    todo = expand_plan(plan, root, overrides)
    if only:
        todo = [job for job in todo if job.step in only]
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

    def run(job: Job) -> Result:
        log(f"{tags[id(job)]} running ...", flush=True)
        return execute_job(job, root, kernel, timeout)

    with kernel_environment(root), ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future, Job] = {}
        while True:
            ready = state.ready()
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
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                del futures[future]
                finish(future.result())
    return [results[id(job)] for job in todo]


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
    counts = {
        s: sum(r.status == s for r in results) for s in ("ok", "skipped", "failed", "blocked", "planned")
    }
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no jobs")
    return "\n".join(lines)


def exit_code(results: list[Result]) -> int:
    return int(any(r.status in ("failed", "blocked") for r in results))


def _run_workbook(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    results = run_plan(
        args.plan, args.root, only=args.only, overrides=parse_sets(args.set), force=args.force,
        dry_run=args.dry_run, kernel=args.kernel, timeout=args.timeout, jobs=args.jobs,
    )  # fmt: skip
    print(summary_table(results, args.root))
    print(f"wall time {time.perf_counter() - start:.0f}s")
    return exit_code(results)


def _run_figures(args: argparse.Namespace) -> int:
    from dualaction_lib import figures_job  # imports the data and engine packages only when needed

    return figures_job.run(args)


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["out_dir=/tmp/x", "seed=2"]`` → ``{"out_dir": "/tmp/x", "seed": 2}`` (values parsed as YAML)."""
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects name=value, got {item!r}")
        result[key.strip()] = yaml.safe_load(value)
    return result


def _add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", required=True, help="plan YAML, e.g. configs/plans/cpu.yaml")
    parser.add_argument("--root", default=None, help="project root for relative paths (default: repo)")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps")
    parser.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="override a plan parameter (repeatable)"
    )
    parser.add_argument("--force", action="store_true", help="rerun jobs that are already complete")
    parser.add_argument("--kernel", default=KERNEL, help="Jupyter kernel name (default: python3)")
    parser.add_argument("--jobs", type=int, default=None, help="notebooks run at once (default: plan's, 1)")
    parser.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``workbook`` and ``figures`` sub-commands to the CLI."""
    wb = subparsers.add_parser("workbook", help="execute a plan of notebooks with papermill")
    _add_plan_arguments(wb)
    wb.add_argument("--dry-run", action="store_true", help="list the jobs without running them")
    wb.set_defaults(func=_run_workbook)

    fig = subparsers.add_parser("figures", help="benchmark → frames/flow → plan → figures/ (make figures)")
    _add_plan_arguments(fig)
    fig.add_argument("--skip-prepare", action="store_true", help="data/ is ready; only run the plan")
    fig.set_defaults(func=_run_figures, dry_run=False)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point with only ``workbook`` and ``figures`` (the full CLI is ``__main__``)."""
    parser = argparse.ArgumentParser(prog="python -m dualaction_lib.workbook")
    register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    return int(arguments.func(arguments) or 0)


if __name__ == "__main__":
    sys.exit(main())

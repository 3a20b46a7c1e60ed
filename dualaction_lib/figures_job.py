"""``make figures``: benchmark → frames + flow → the plan's notebooks → every figure and table in figures/.

    python -m dualaction_lib figures --plan configs/plans/cpu.yaml

Data preparation runs once, up front, for every preset the plan uses (its jobs' ``preset`` and the
pretraining stages they start from, e.g. cpu and cpu_source): generate the synthetic benchmark, extract
frames and TV-L1 flow (resumable), so notebooks running in parallel never race to create it. Then the
plan runs like ``workbook --plan``; complete runs are skipped, so an interrupted job resumes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dualaction_lib import workbook
from dualaction_lib.io import project_root


def prepare_data(preset: str, root: Path, progress: bool | None = None) -> float:
    """Generate and extract the preset's data if missing; returns seconds spent."""
    import os

    from dualaction_lib.config import load_config
    from dualaction_lib.engine import data as edata

    start = time.perf_counter()
    cwd = Path.cwd()
    os.chdir(root)  # presets use paths relative to the project root
    try:
        overrides = {} if progress is None else {"progress": progress}
        edata.ensure_prepared(load_config(preset, **overrides))
    finally:
        os.chdir(cwd)
    return time.perf_counter() - start


def plan_presets(jobs: list, default: str = "cpu") -> list[str]:
    """Every preset whose data the plan's jobs read: each job's ``preset`` and, for presets that start
    from a pretraining stage (``model.init: pretrained``, ``model.pretrained: auto``), its
    ``model.source_preset``, recursively; sources first, in plan order otherwise."""
    from dualaction_lib.config import load_config

    ordered: list[str] = []

    def visit(preset: str) -> None:
        if preset in ordered:
            return
        model = load_config(preset).model
        if model.init == "pretrained" and model.pretrained == "auto" and model.source_preset:
            visit(model.source_preset)
        ordered.append(preset)

    for job in jobs:
        visit(str(job.parameters.get("preset", default)))
    return ordered


OUTPUT_SUFFIXES = {".png", ".pdf", ".md", ".tex"}


def _outputs(figures_dir: Path) -> list[tuple[Path, float]]:
    """Every figure and table file under ``figures_dir`` with its modification time."""
    return sorted((p, p.stat().st_mtime) for p in figures_dir.rglob("*") if p.suffix in OUTPUT_SUFFIXES)


def list_outputs(figures_dir: Path, since: float) -> list[Path]:
    """Figures and tables written (or rewritten) since ``since`` (a time.time() value)."""
    return [p for p, mtime in _outputs(figures_dir) if mtime >= since]


def stale_outputs(figures_dir: Path, since: float, statuses: list[str]) -> list[Path]:
    """Figures and tables a run in which every step ran did not rewrite: no step of the plan makes them.

    Empty when a step was skipped as complete (its files are older but current) or did not finish.
    """
    if not statuses or any(s != "ok" for s in statuses):
        return []
    return [p for p, mtime in _outputs(figures_dir) if mtime < since]


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve() if args.root else project_root()
    overrides = workbook.parse_sets(args.set)
    plan = workbook.load_plan(args.plan)
    params = {**plan.get("parameters", {}), **overrides}
    started, wall = time.time(), time.perf_counter()
    if not args.skip_prepare:
        for preset in plan_presets(workbook.expand_plan(plan, root, overrides), params.get("preset", "cpu")):
            print(f"[figures] preparing data for preset {preset!r} ...", flush=True)
            seconds = prepare_data(preset, root, getattr(args, "progress", None))
            print(f"[figures] data of {preset!r} ready ({seconds:.0f}s)", flush=True)
    results = workbook.run_plan(
        args.plan, root, only=args.only, overrides=overrides, force=args.force,
        kernel=args.kernel, timeout=args.timeout, jobs=args.jobs, progress=getattr(args, "progress", None),
    )  # fmt: skip
    print(workbook.summary_table(results, root))
    figures_dir = root / params.get("figures_dir", "figures")  # the plan's, not a step's subfolder
    written = list_outputs(figures_dir, started)
    print(f"[figures] {len(written)} figure/table files written to {figures_dir}")
    stale = stale_outputs(figures_dir, started, [r.status for r in results])
    if stale:
        names = ", ".join(str(p.relative_to(figures_dir)) for p in stale)
        print(
            f"[figures] {len(stale)} files in {figures_dir} were not rewritten although every step ran: "
            f"no step of the plan makes them any more (delete them before committing): {names}"
        )
    print(f"[figures] wall time {(time.perf_counter() - wall) / 60:.1f} min")
    workbook.check_results(results)  # a failed notebook: one line on stderr, exit 1
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``figures`` sub-command (the runner's options plus --skip-prepare) to the CLI."""
    fig = subparsers.add_parser("figures", help="benchmark → frames/flow → plan → figures/ (make figures)")
    workbook.add_plan_arguments(fig)
    fig.add_argument("--skip-prepare", action="store_true", help="data/ is ready; only run the plan")
    fig.set_defaults(func=run, dry_run=False)

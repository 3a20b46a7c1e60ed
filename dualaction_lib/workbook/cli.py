"""``python -m dualaction_lib workbook --plan configs/plans/cpu.yaml``: the runner's command line.

Other jobs built on the runner (e.g. ``figures``) add their own sub-commands with
:func:`add_plan_arguments`; the runner does not know them.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import yaml

from dualaction_lib.errors import (
    ArgumentParser,
    UsageError,
    UserError,
    add_common_options,
    debug_requested,
    normalize_progress,
    run_command,
)
from dualaction_lib.workbook.execute import KERNEL, Result, exit_code, run_plan, summary_table


def _run_workbook(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    planner = getattr(args, "planner", None)  # knows which jobs train what; None: a bare runner
    overrides = parse_sets(args.set)
    wants = {"--estimate-only": args.estimate_only, "--executor slurm": args.executor == "slurm"}
    missing = [flag for flag, wanted in wants.items() if wanted and planner is None]
    if missing:
        raise UsageError(
            f"{missing[0]}: use `python -m dualaction_lib workbook`, which knows what jobs train"
        )
    if planner is not None and not args.no_estimate:
        print(planner.estimate(args.plan, args.root, overrides, args.only), flush=True)
        if args.estimate_only:
            return 0
    remote = planner.remote(args.plan, args.root, overrides) if args.executor == "slurm" else None
    try:
        results = run_plan(
            args.plan, args.root, only=args.only, overrides=overrides, force=args.force,
            dry_run=args.dry_run, kernel=args.kernel, timeout=args.timeout, jobs=args.jobs,
            progress=getattr(args, "progress", None), remote=remote,
        )  # fmt: skip
    except KeyboardInterrupt as stop:  # Ctrl-C / SIGTERM: the table of what ran, then the one-line error
        if hasattr(stop, "results"):
            print(summary_table(stop.results, args.root))
        raise
    print(summary_table(results, args.root))
    print(f"wall time {time.perf_counter() - start:.0f}s")
    check_results(results)
    return 0


def check_results(results: list[Result]) -> None:
    """A UserError (one line, exit 1) naming the failed notebooks, when any failed or was blocked."""
    if exit_code(results):
        bad = [r for r in results if r.status in ("failed", "blocked", "stopped")]
        names = ", ".join(r.job.output.name for r in bad[:3]) + (", …" if len(bad) > 3 else "")
        raise UserError(
            f"{len(bad)} of {len(results)} notebook(s) failed or were blocked ({names}); see the table "
            f"above and each notebook's .log"
        )


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["out_dir=/tmp/x", "seed=2"]`` → ``{"out_dir": "/tmp/x", "seed": 2}`` (values parsed as YAML)."""
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set: expected NAME=VALUE, got {item!r}")
        try:
            result[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            problem = getattr(err, "problem", None) or type(err).__name__
            raise UsageError(
                f"--set {key.strip()}: {value!r} is not a valid YAML value ({problem})"
            ) from None
    return result


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every plan-running command takes (--plan, --root, --only, --set, …)."""
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


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``workbook`` sub-command to the CLI; returns its parser (a caller may set a ``planner``)."""
    wb = subparsers.add_parser("workbook", help="execute a plan of notebooks with papermill")
    add_plan_arguments(wb)
    wb.add_argument("--dry-run", action="store_true", help="list the jobs without running them")
    wb.add_argument(
        "--executor", choices=("local", "slurm"), default="local",
        help="where training runs: local (default) or one SLURM job per run (the plan's slurm: section)",
    )  # fmt: skip
    estimate = wb.add_mutually_exclusive_group()
    estimate.add_argument("--estimate-only", action="store_true", help="print the GPU-hours estimate, stop")
    estimate.add_argument("--no-estimate", action="store_true", help="start without the GPU-hours estimate")
    wb.set_defaults(func=_run_workbook, planner=None)
    return wb


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point with only ``workbook`` (the full CLI is ``python -m dualaction_lib``);
    failures are reported as there: one line on stderr and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def command() -> int:
        parser = ArgumentParser(prog="python -m dualaction_lib.workbook")
        add_common_options(parser)
        subparsers = parser.add_subparsers(dest="command", required=True)
        register(subparsers)
        add_common_options(subparsers.choices["workbook"], top=False)
        arguments = parser.parse_args(normalize_progress(argv))
        return int(arguments.func(arguments) or 0)

    return run_command(command, debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())

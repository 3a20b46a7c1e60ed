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

from dualaction_lib.workbook.execute import KERNEL, exit_code, run_plan, summary_table


def _run_workbook(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    results = run_plan(
        args.plan, args.root, only=args.only, overrides=parse_sets(args.set), force=args.force,
        dry_run=args.dry_run, kernel=args.kernel, timeout=args.timeout, jobs=args.jobs,
    )  # fmt: skip
    print(summary_table(results, args.root))
    print(f"wall time {time.perf_counter() - start:.0f}s")
    return exit_code(results)


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["out_dir=/tmp/x", "seed=2"]`` → ``{"out_dir": "/tmp/x", "seed": 2}`` (values parsed as YAML)."""
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects name=value, got {item!r}")
        result[key.strip()] = yaml.safe_load(value)
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``workbook`` sub-command to the CLI."""
    wb = subparsers.add_parser("workbook", help="execute a plan of notebooks with papermill")
    add_plan_arguments(wb)
    wb.add_argument("--dry-run", action="store_true", help="list the jobs without running them")
    wb.set_defaults(func=_run_workbook)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point with only ``workbook`` (the full CLI is ``python -m dualaction_lib``)."""
    parser = argparse.ArgumentParser(prog="python -m dualaction_lib.workbook")
    register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(argv)
    return int(arguments.func(arguments) or 0)


if __name__ == "__main__":
    sys.exit(main())

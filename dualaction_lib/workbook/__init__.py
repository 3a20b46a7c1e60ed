"""Papermill batch runner: execute a plan of parametrised notebooks, headless.

``plan`` reads a plan and expands it into jobs, ``execute`` runs them (several at once, in dependency
order) and prints the summary, ``cli`` is the ``workbook`` sub-command. See ``plan`` for the plan format.

    from dualaction_lib import workbook
    results = workbook.run_plan("configs/plans/smoke.yaml", overrides={"out_dir": "/tmp/runs"})
"""

from dualaction_lib.workbook.cli import add_plan_arguments, check_results, main, parse_sets, register
from dualaction_lib.workbook.execute import (
    KERNEL,
    Result,
    execute_job,
    exit_code,
    kernel_environment,
    notebook_error,
    run_plan,
    summary_table,
)
from dualaction_lib.workbook.guard import RunnerGuard
from dualaction_lib.workbook.plan import STATUS_SUFFIX, Job, PlanError, expand_plan, is_complete, load_plan

__all__ = [
    "KERNEL",
    "STATUS_SUFFIX",
    "Job",
    "PlanError",
    "Result",
    "RunnerGuard",
    "add_plan_arguments",
    "check_results",
    "execute_job",
    "exit_code",
    "expand_plan",
    "is_complete",
    "kernel_environment",
    "load_plan",
    "main",
    "notebook_error",
    "parse_sets",
    "register",
    "run_plan",
    "summary_table",
]

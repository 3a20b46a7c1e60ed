"""Plans: the YAML list of notebook steps, expanded into one Job per grid combination.

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

Strings in parameters, ``output`` and ``done`` are formatted with the job's parameters.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dualaction_lib.errors import UsageError
from dualaction_lib.io import project_root, read_yaml

STATUS_SUFFIX = ".status.json"


class PlanError(UsageError, ValueError):
    """A plan that cannot be read or run as written; the message names the plan file or step (exit 2)."""


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


def _fill(value: Any, params: dict[str, Any]) -> Any:
    """Format ``{name}`` placeholders in strings (recursively in lists and dicts)."""
    if isinstance(value, str):
        try:
            return value.format(**params)
        except KeyError as err:
            raise PlanError(f"{value!r} uses {{{err.args[0]}}}, which is not a parameter") from None
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
            raise PlanError(f"grid entry {key!r} must be a non-empty list, got {values!r}")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def load_plan(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a plan: a non-empty ``steps`` list, unique names, ``needs`` on earlier steps only.

    Every problem is a :class:`PlanError` naming the file (and line, for a YAML syntax error).
    """
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"{path}: no such plan file (plans live in configs/plans/)")
    plan = read_yaml(path, PlanError, "fix the plan") or {}
    if not isinstance(plan, dict) or not isinstance(plan.get("steps"), list) or not plan["steps"]:
        raise PlanError(f"{path}: a plan needs a non-empty 'steps' list")
    for number, step in enumerate(plan["steps"], start=1):
        if not isinstance(step, dict) or not isinstance(step.get("notebook"), str):
            raise PlanError(f"{path}: step {number} must be a mapping with a 'name' and a 'notebook' path")
        for key, kind in (("parameters", dict), ("grid", dict), ("needs", list), ("done", list)):
            if not isinstance(step.get(key, kind()), kind):
                name = step.get("name", number)
                raise PlanError(f"{path}: step {name!r}: {key!r} must be a {kind.__name__}")
    if not isinstance(plan.get("parameters", {}), dict):
        raise PlanError(f"{path}: 'parameters' must be a mapping")
    names = [step.get("name") for step in plan["steps"]]
    if None in names or len(set(names)) != len(names):
        raise PlanError(f"{path}: every step needs a unique 'name', got {names}")
    for step in plan["steps"]:
        unknown = set(step.get("needs", [])) - set(names[: names.index(step["name"])])
        if unknown:
            raise PlanError(f"{path}: step {step['name']!r} needs unknown or later steps {sorted(unknown)}")
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
        raise PlanError(f"two jobs write the same notebook: {sorted(duplicates)}; set 'output' templates")
    return jobs


def is_complete(job: Job) -> bool:
    """Its notebook exists, its status file says ok for the same parameters, and every done file exists."""
    if not (job.output.exists() and job.status_path.exists()):
        return False
    status = yaml.safe_load(job.status_path.read_text(encoding="utf-8")) or {}
    same = status.get("status") == "ok" and status.get("parameters") == job.parameters
    return same and all(path.exists() for path in job.done)

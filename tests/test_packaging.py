"""The conda file and pyproject.toml declare the same dependencies; CI's entry point runs `make test`."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r): r.replace(" ", "") for r in project["dependencies"]}

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pip = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}

    assert conda_pip == runtime, "environment.yml and pyproject.toml disagree on the runtime dependencies"
    assert any(r.startswith("-e .[dev]") for r in pip_section), "environment.yml must install the project"


def test_python_floor_agrees() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert conda_python.removeprefix("python") == project["requires-python"]


def test_required_runtime_packages_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    needed = {
        "torch", "torchvision", "opencv-contrib-python-headless", "numpy", "pillow", "matplotlib", "seaborn",
        "pandas", "pyyaml", "tqdm", "papermill", "ipykernel", "ipywidgets", "jupyterlab",
    }  # fmt: skip
    assert needed <= declared, f"missing runtime dependencies: {sorted(needed - declared)}"
    dev = {_name(r) for r in project["optional-dependencies"]["dev"]}
    assert {"pytest", "pytest-timeout", "ruff", "nbformat", "scikit-video"} <= dev


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:", makefile, re.M) and re.search(r"^figures:", makefile, re.M)

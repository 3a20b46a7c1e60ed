"""Small helpers every notebook calls in its setup cell: project-root cwd and result files."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from dualaction_lib.io import atomic_write_json, project_root


def setup() -> Path:
    """Work from the project root (as the CLI and the batch runner do); returns it."""
    root = project_root()
    os.chdir(root)
    return root


def results_path(out_dir: str, preset: str, name: str, run_dir: str = "") -> Path:
    """``<run_dir>/<name>.json`` if run_dir is given, else ``<out_dir>/<preset>/results/<name>.json``."""
    folder = Path(run_dir) if run_dir else Path(out_dir) / preset / "results"
    return folder / f"{name}.json"


def save_results(path: str | os.PathLike, values: dict[str, Any]) -> Path:
    """Write a notebook's numbers as JSON (read back by the tests and by notebook 05)."""
    atomic_write_json(path, _plain(values))
    return Path(path)


def _plain(value: Any) -> Any:
    """numpy/torch scalars and arrays → JSON types; NaN → None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value

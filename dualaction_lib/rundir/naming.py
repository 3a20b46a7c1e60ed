"""The one naming rule of run folders (docs/architecture.md, "Runs").

A run of method ``m`` and seed ``k`` lives in ``<out_dir>/<group>/<name>`` with ``<name>``:

- ``main``    ``m_seed<k>``          the preset's recipe (Tables 1 and 2);
- ``norm``    ``m_norm_seed<k>``     ``distill.normalize`` step0 (Table 4);
- ``scratch`` ``m_scratch_seed<k>``  ``model.init: scratch`` (Table 3);
- ``nopool``  ``m_nopool_seed<k>``   ``distill.layers`` without the pooled level (Table 2's optional row);
- ``sweep``   ``m_alpha<α>_seed<k>`` one point of the α sweep;
- ``other``   ``m_other_seed<k>``    anything else (used by no table).

The name only finds a folder; what a run *is* is its ``run.json`` (:mod:`dualaction_lib.rundir.folder`).
A fusion of runs ``a`` and ``b`` lives next to ``a`` in ``fusion_<a>+<b>_<method>``.
"""

from __future__ import annotations

from typing import get_args

from dualaction_lib.choices import Variant

VARIANTS: tuple[str, ...] = get_args(Variant)


def run_name(method: str, seed: int, variant: str = "main", alpha: float | None = None) -> str:
    """The folder name of a run (see the module docstring); ``alpha`` is needed by the sweep only."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if variant == "main":
        return f"{method}_seed{seed}"
    if variant == "sweep":
        if alpha is None:
            raise ValueError("a sweep run's name needs its alpha")
        return f"{method}_alpha{float(alpha):g}_seed{seed}"
    return f"{method}_{variant}_seed{seed}"


def fusion_name(run_a: str, run_b: str, method: str) -> str:
    """The folder name of the fusion of runs ``run_a`` and ``run_b`` with ``method``."""
    return f"fusion_{run_a}+{run_b}_{method}"

"""MARS's feature-mimicking loss on the pooled pre-classifier feature (Eq. 1, docs/architecture.md)."""

from __future__ import annotations

from torch import Tensor

from dualaction_lib.losses._common import as_pair, no_autocast

__all__ = ["mars_mse"]


def mars_mse(student: Tensor, teacher: Tensor) -> Tensor:
    """Eq. 1: ``mean((fs − ft)²)`` on pooled features (B, C); the teacher is detached."""
    fs, ft = as_pair(student, teacher)
    with no_autocast(fs.device.type):
        return (fs - ft).pow(2).mean()

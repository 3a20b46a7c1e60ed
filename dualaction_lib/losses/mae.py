"""Multi-level mean absolute error between student and teacher features (Eq. 2, docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from dualaction_lib.losses._common import as_pair, check_levels, no_autocast

__all__ = ["multilevel_mae", "multilevel_mae_per_level"]


def multilevel_mae_per_level(students: Sequence[Tensor], teachers: Sequence[Tensor]) -> list[Tensor]:
    """Level i's part of Eq. 2, ``mean(|fs_i − ft_i|) / (n−1)``; the parts sum to :func:`multilevel_mae`."""
    levels = check_levels(students, teachers)
    out = []
    for fs, ft in zip(students, teachers, strict=True):
        fs, ft = as_pair(fs, ft)
        with no_autocast(fs.device.type):
            out.append((fs - ft).abs().mean() / levels)
    return out


def multilevel_mae(students: Sequence[Tensor], teachers: Sequence[Tensor]) -> Tensor:
    """Eq. 2: ``(1/(n−1)) Σ_i mean(|fs_i − ft_i|)`` over the n−1 feature levels; teachers are detached."""
    return torch.stack(multilevel_mae_per_level(students, teachers)).sum()

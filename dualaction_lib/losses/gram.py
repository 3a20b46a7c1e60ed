"""Gram matrices and the multi-level Gram loss (docs/architecture.md, "Losses", Eq. 3)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from dualaction_lib.losses._common import as_pair, check_levels, no_autocast

__all__ = ["gram_loss", "gram_loss_per_level", "gram_matrix"]


def gram_matrix(f: Tensor) -> Tensor:
    """``G = F Fᵀ`` with ``F = f`` reshaped to (B, C, T·H·W); (B, C, T, H, W) or (B, C) → (B, C, C).

    No normalization. Computed in float32 even under autocast (entries sum T·H·W products).
    """
    if f.dim() < 2:
        raise ValueError(f"expected (B, C, …) features, got shape {tuple(f.shape)}")
    with no_autocast(f.device.type):
        flat = f.float().reshape(f.shape[0], f.shape[1], -1)  # (B, C, N), N = T·H·W (1 if pooled)
        return torch.bmm(flat, flat.transpose(1, 2))  # (B, C, C)


def gram_loss_per_level(students: Sequence[Tensor], teachers: Sequence[Tensor]) -> list[Tensor]:
    """Each level's share of Eq. 3, ``mean_b Σ_{c,c'} |G(fs_i) − G(ft_i)| / ((n−1)·C_i·T_i·H_i·W_i)``.

    The list sums to :func:`gram_loss`. Pooled (B, C) features count as T = H = W = 1.
    """
    levels = check_levels(students, teachers)
    out = []
    for fs, ft in zip(students, teachers, strict=True):
        fs, ft = as_pair(fs, ft)
        size = fs[0].numel()  # C·T·H·W
        with no_autocast(fs.device.type):
            diff = (gram_matrix(fs) - gram_matrix(ft)).abs().sum(dim=(1, 2))  # (B,)
            out.append(diff.mean() / (levels * size))
    return out


def gram_loss(students: Sequence[Tensor], teachers: Sequence[Tensor]) -> Tensor:
    """Eq. 3: ``Σ_i mean_b( Σ_{c,c'} |G(fs_i) − G(ft_i)| ) / ((n−1)·C_i·T_i·H_i·W_i)``.

    Pooled (B, C) features count as T = H = W = 1. Teacher features are detached.
    """
    return torch.stack(gram_loss_per_level(students, teachers)).sum()

"""Helpers shared by the distillation losses: float32 math and teacher detaching."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def as_pair(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Float32 student (keeps its graph) and detached float32 teacher; shapes must agree."""
    if student.shape != teacher.shape:
        raise ValueError(f"student {tuple(student.shape)} and teacher {tuple(teacher.shape)} differ")
    return student.float(), teacher.detach().float()


def check_levels(students: Sequence[Tensor], teachers: Sequence[Tensor]) -> int:
    """Number of levels n−1 (must be ≥ 1 and equal on both sides)."""
    if len(students) != len(teachers) or len(students) == 0:
        raise ValueError(f"need the same non-zero number of levels, got {len(students)} and {len(teachers)}")
    return len(students)


def no_autocast(device_type: str) -> torch.autocast:
    """Context that disables autocast, so losses are computed in float32 (Gram values can be large)."""
    return torch.autocast(device_type=device_type, enabled=False)

"""Late fusion of frozen streams' class scores: averaging baseline and attention fusion.

Where it sits in the data flow: docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["AttentionFusion", "average_fusion", "stack_scores"]


def stack_scores(scores: Sequence[Tensor] | Tensor) -> Tensor:
    """List of S tensors (B, K) or a tensor (B, S, K) → (B, S, K)."""
    if isinstance(scores, Tensor):
        if scores.dim() != 3:
            raise ValueError(f"stacked scores must be (B, S, K), got {tuple(scores.shape)}")
        return scores
    if len(scores) == 0:
        raise ValueError("need at least one stream")
    return torch.stack(list(scores), dim=1)


def average_fusion(scores: Sequence[Tensor] | Tensor) -> Tensor:
    """Baseline two-stream fusion: mean of the streams' scores, (B, S, K) or S × (B, K) → (B, K)."""
    return stack_scores(scores).mean(dim=1)


class AttentionFusion(nn.Module):
    """Per-sample attention over streams.

    ``w = softmax(Linear(ReLU(Linear(concat_s scores_s))))`` over the S streams and
    ``fused = Σ_s w_s · scores_s``.
    ``forward`` returns ``(fused (B, K), weights (B, S))``.
    """

    def __init__(self, num_streams: int = 2, num_classes: int = 101, hidden: int = 128) -> None:
        super().__init__()
        self.num_streams = num_streams
        self.num_classes = num_classes
        self.net = nn.Sequential(
            nn.Linear(num_streams * num_classes, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_streams),
        )

    def forward(self, scores: Sequence[Tensor] | Tensor) -> tuple[Tensor, Tensor]:
        stacked = stack_scores(scores)  # (B, S, K)
        b, s, k = stacked.shape
        if (s, k) != (self.num_streams, self.num_classes):
            expected = f"{self.num_streams} streams × {self.num_classes} classes"
            raise ValueError(f"expected {expected}, got {s} × {k}")
        weights = self.net(stacked.reshape(b, s * k)).softmax(dim=1)  # (B, S)
        fused = (weights.unsqueeze(-1) * stacked).sum(dim=1)  # (B, K)
        return fused, weights

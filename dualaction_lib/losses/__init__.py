"""Distillation losses, one per file: Eq. 1 MSE, Eq. 2 MAE, Eq. 3 Gram, Eq. 4 total.

The equations: docs/architecture.md, "Losses".
"""

from dualaction_lib.losses.dual_action import DEFAULT_LAYERS, DualActionLoss, parts_to_floats
from dualaction_lib.losses.gram import GramLoss, gram_loss, gram_matrix
from dualaction_lib.losses.mae import MultiLevelMAE, multilevel_mae
from dualaction_lib.losses.mse import MarsMSE, mars_mse

__all__ = [
    "DEFAULT_LAYERS",
    "DualActionLoss",
    "GramLoss",
    "MarsMSE",
    "MultiLevelMAE",
    "gram_loss",
    "gram_matrix",
    "mars_mse",
    "multilevel_mae",
    "parts_to_floats",
]

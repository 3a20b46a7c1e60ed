"""Distillation losses, one per file: Eq. 1 MSE, Eq. 2 MAE, Eq. 3 Gram, Eq. 4 total.

The equations: docs/architecture.md, "Losses".
"""

from dualaction_lib.losses.dual_action import DEFAULT_LAYERS, DualActionLoss, parts_to_floats
from dualaction_lib.losses.gram import gram_loss, gram_loss_per_level, gram_matrix
from dualaction_lib.losses.mae import multilevel_mae, multilevel_mae_per_level
from dualaction_lib.losses.mse import mars_mse

__all__ = [
    "DEFAULT_LAYERS",
    "DualActionLoss",
    "gram_loss",
    "gram_loss_per_level",
    "gram_matrix",
    "mars_mse",
    "multilevel_mae",
    "multilevel_mae_per_level",
    "parts_to_floats",
]

"""The named features of every network, in forward order: one definition for models, losses, config, figures.

``stem`` … ``layer4`` are stage outputs ``(B, C, T, H, W)``; ``pool`` is the pooled pre-classifier feature
``(B, C)``. ``ResNet3D.forward_intermediates(x, names)`` returns them by these names and the distillation
losses compare them by these names.
"""

from __future__ import annotations

from typing import Literal, get_args

FeatureName = Literal["stem", "layer1", "layer2", "layer3", "layer4", "pool"]

FEATURE_NAMES: tuple[str, ...] = get_args(FeatureName)
STAGE_NAMES: tuple[str, ...] = FEATURE_NAMES[:-1]  # the 5-D stage outputs, one per feature_info entry
DISTILL_LAYERS: tuple[str, ...] = FEATURE_NAMES[1:]  # levels DS compares by default (Eqs. 2-3)

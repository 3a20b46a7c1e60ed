"""3D CNN backbones with MARS/Hara key names, checkpoint loading and late fusion.

Contract: docs/architecture.md, "Models".
"""

from dualaction_lib.models.checkpoints import (
    CheckpointError,
    LoadReport,
    load_checkpoint,
    load_weights,
    map_torchvision_keys,
    save_checkpoint,
)
from dualaction_lib.models.fusion import AttentionFusion, average_fusion
from dualaction_lib.models.resnet3d import (
    ARCHS,
    FEATURE_NAMES,
    ResNet3D,
    build_model,
    count_parameters,
    feature_shapes,
)

__all__ = [
    "ARCHS",
    "FEATURE_NAMES",
    "AttentionFusion",
    "CheckpointError",
    "LoadReport",
    "ResNet3D",
    "average_fusion",
    "build_model",
    "count_parameters",
    "feature_shapes",
    "load_checkpoint",
    "load_weights",
    "map_torchvision_keys",
    "save_checkpoint",
]

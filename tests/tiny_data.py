"""The tiny benchmark the data tests extract: 2 motion classes, 2 training + 1 test video each, 8 frames."""

from __future__ import annotations

from dualaction_lib.data.synthetic import SyntheticSpec

TINY = SyntheticSpec(
    num_classes=2, videos_per_class_train=2, videos_per_class_test=1, num_frames=8, frame_size=(32, 32)
)
IDS = [
    "TranslateLeft/v_TranslateLeft_g01_c01",
    "TranslateLeft/v_TranslateLeft_g08_c01",
    "TranslateLeft/v_TranslateLeft_g09_c01",
    "TranslateRight/v_TranslateRight_g01_c01",
    "TranslateRight/v_TranslateRight_g08_c01",
    "TranslateRight/v_TranslateRight_g09_c01",
]

"""Data: split layouts, extraction (frames + TV-L1 flow), clips, transforms, datasets, synthetic benchmark.

>>> from dualaction_lib.data import ClipOptions, VideoDataset, load_index, usable_videos
>>> entries, classes = load_index("ucf101", "data/synthetic/frames/splits", 1)
>>> records, check = usable_videos("data/synthetic/frames", entries, "rgb+flow")
>>> train_ds = VideoDataset(records, "rgb+flow", "train", ClipOptions(clip_len=16))

Names are imported lazily, so extraction workers (``data.extract``) never import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DataCheckError": "check",
    "DataWarning": "check",
    "VideoRecord": "check",
    "check_videos": "check",
    "usable_videos": "check",
    "ClipOptions": "datasets",
    "FrameReadError": "folders",
    "VideoDataset": "datasets",
    "average_clip_scores": "datasets",
    "collate_videos": "datasets",
    "read_jpeg": "datasets",
    "FrameNaming": "layouts",
    "VideoEntry": "layouts",
    "detect_naming": "layouts",
    "load_index": "layouts",
    "ExtractSettings": "extract",
    "PrepareReport": "extract",
    "prepare": "extract",
    "SyntheticSpec": "synthetic",
    "make_synthetic": "synthetic",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)

"""Embedded benchmark: procedural videos in the UCF-101 layout, three tasks (``SyntheticSpec.task``).

- ``"motion"`` (``motion.py``, the source set that plays Kinetics): 8 classes defined by the global motion
  of the whole view only (translate, rotate, zoom); appearance is independent of the class.
- ``"objects"`` (``objects.py``, the target set, UCF-101 in miniature): 12 classes defined jointly by what
  moves (Ball, Bar, Box) and how (Left, Right, Up, Down), among static distractors; a single frame shows
  which kinds are present but not which one moves, the motion shows both.
- ``"mixed"`` (``objects.py`` with ``palette.py``, the target set where both streams matter): 12 classes,
  10 told apart by motion only (a ball or bar moving in one of four directions, a box moving up or down)
  and 2 by appearance only (a warm or a cool box, at the same luminance, moving left), which grayscale
  flow cannot see.

Output: ``<out>/videos/<Class>/v_<Class>_g<GG>_c<CC>.avi`` (MJPG) and
``<out>/splits/{classInd,trainlist01,testlist01}.txt`` with CRLF line ends like the real files; test
videos use groups 01-07 and training videos groups 08-25 as in UCF-101 split 1. ``spec.json`` is written
last and marks a complete set. Deterministic from ``spec.seed``: each video has its own random stream,
keyed by (seed, class index, video index).
"""

from __future__ import annotations

from .objects import ObjectsScene, draw_scene, plan_scene
from .spec import (
    CLASSES,
    MIXED_CLASSES,
    OBJECT_CLASSES,
    SpecError,
    SyntheticSpec,
    class_cues,
    read_spec,
    video_names,
)
from .writer import make_synthetic, render_video, write_splits, write_video

__all__ = [
    "CLASSES",
    "MIXED_CLASSES",
    "OBJECT_CLASSES",
    "ObjectsScene",
    "SpecError",
    "SyntheticSpec",
    "class_cues",
    "draw_scene",
    "make_synthetic",
    "plan_scene",
    "read_spec",
    "render_video",
    "video_names",
    "write_splits",
    "write_video",
]

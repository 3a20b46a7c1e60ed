"""What a synthetic set is: its task, classes, sizes and seed (``SyntheticSpec``), and its file names."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import get_args

from dualaction_lib.choices import SyntheticTask as Task

CLASSES = (  # task "motion": the whole view moves
    "TranslateLeft",
    "TranslateRight",
    "TranslateUp",
    "TranslateDown",
    "RotateCW",
    "RotateCCW",
    "ZoomIn",
    "ZoomOut",
)
KINDS = ("Ball", "Bar", "Box")  # task "objects": what moves ...
DIRECTIONS = ("Left", "Right", "Up", "Down")  # ... and how
OBJECT_CLASSES = tuple(f"{kind}Move{how}" for kind in KINDS for how in DIRECTIONS)  # what-major
# task "mixed": 10 classes told apart by motion only (a washed-out ball or bar in four directions,
# a washed-out box up or down) and 2 told apart by appearance only (a warm or a cool box moving left:
# same motion distribution, same luminance). One appearance pair, not two: flow's ceiling is 11/12.
FAMILIES = ("Warm", "Cool")
MIXED_CLASSES = (
    *(f"{kind}Move{how}" for kind in ("Ball", "Bar") for how in DIRECTIONS),
    *(f"BoxMove{how}" for how in ("Up", "Down")),
    *(f"{family}BoxMoveLeft" for family in FAMILIES),
)
TASK_CLASSES = {"motion": CLASSES, "objects": OBJECT_CLASSES, "mixed": MIXED_CLASSES}


def class_cues(classes) -> dict[str, str] | None:
    """For the mixed task's classes, what tells each class apart: ``"appearance"`` (a warm or a cool box)
    or ``"motion"`` (a ball or a bar and its direction); None for any other set of classes."""
    if set(classes) != set(MIXED_CLASSES):
        return None
    return {c: "appearance" if c.startswith(FAMILIES) else "motion" for c in classes}


DEFAULT_SPEED = {"motion": (0.75, 2.0), "objects": (1.0, 2.0), "mixed": (1.0, 2.0)}
# Fields only some tasks read; the other tasks refuse a value other than the default.
TASK_ONLY = {
    "max_objects": ("motion",),
    "num_distractors": ("objects", "mixed"),
    "min_contrast": ("objects", "mixed"),
}
MAX_CONTRAST = 75.0  # a colour this far from any background's mean luminance always exists

_TEST_GROUPS, _TRAIN_GROUPS = range(1, 8), range(8, 26)


class SpecError(ValueError):
    """A bad ``SyntheticSpec`` value; ``field`` names it, ``reason`` says what is wrong with it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.field, self.reason = name, reason


@dataclass(frozen=True)
class SyntheticSpec:
    """One synthetic set. ``None`` fields take the task's default (resolved here, so equal specs compare
    equal and ``spec.json`` records the values). A stored spec without ``task`` is a motion set."""

    task: Task = "motion"
    num_classes: int | None = None  # the first num_classes of the task's classes; None: all (8, 12, 12)
    videos_per_class_train: int = 15
    videos_per_class_test: int = 6
    num_frames: int = 20
    frame_size: tuple[int, int] = (64, 64)  # (H, W)
    fps: float = 25.0
    # px/frame; motion: at half the short side for rotate/zoom
    speed: tuple[float, float] | None = None  # None: motion (0.75, 2), objects and mixed (1, 2)
    noise: float = 2.0  # per-frame Gaussian pixel noise (std, 0-255 scale)
    seed: int = 0
    max_objects: int = 4  # motion only: 1..max_objects shapes per view of the scene
    num_distractors: tuple[int, int] = (1, 2)  # objects, mixed: static distractor objects, lo..hi
    min_contrast: float = 40.0  # objects, mixed: |object - background mean| luminance, 0-255 scale
    classes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if self.task not in get_args(Task):
            raise SpecError("task", f"must be one of {list(get_args(Task))}, got {self.task!r}")
        names = TASK_CLASSES[self.task]
        defaults = {f.name: f.default for f in fields(self) if f.init}
        for name, tasks in TASK_ONLY.items():
            if self.task not in tasks and _plain(getattr(self, name)) != _plain(defaults[name]):
                only = " or ".join(repr(t) for t in tasks)
                raise SpecError(name, f"applies to task {only} only (this spec's task is {self.task!r})")
        num_classes = len(names) if self.num_classes is None else self.num_classes
        speed = DEFAULT_SPEED[self.task] if self.speed is None else self.speed
        _set(self, "frame_size", _pair("frame_size", self.frame_size, int))
        _set(self, "speed", _pair("speed", speed, float))
        _set(self, "num_distractors", _pair("num_distractors", self.num_distractors, int))
        _set(self, "num_classes", num_classes)
        _check(self)
        _set(self, "classes", names[: self.num_classes])

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("classes")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _set(spec: SyntheticSpec, name: str, value) -> None:
    object.__setattr__(spec, name, value)


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _pair(name: str, value, kind) -> tuple:
    try:
        pair = tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise SpecError(name, f"must be a pair of numbers, got {value!r}") from None
    if len(pair) != 2:
        raise SpecError(name, f"must be a pair of numbers, got {value!r}")
    return pair


def _check(spec: SyntheticSpec) -> None:
    limit = len(TASK_CLASSES[spec.task])
    lo, hi = spec.speed
    checks = (
        ("num_classes", 2 <= spec.num_classes <= limit, f"must be in 2..{limit} for task {spec.task!r}"),
        ("videos_per_class_train", spec.videos_per_class_train >= 1, "must be >= 1"),
        ("videos_per_class_test", spec.videos_per_class_test >= 0, "must be >= 0"),
        ("num_frames", spec.num_frames >= 2, "must be >= 2"),
        ("frame_size", min(spec.frame_size) >= 16, "must be at least 16x16"),
        ("fps", spec.fps > 0, "must be > 0"),
        ("speed", 0 < lo <= hi, "must be a range 0 < lo <= hi"),
        ("noise", spec.noise >= 0, "must be >= 0"),
        ("max_objects", spec.max_objects >= 1, "must be >= 1"),
        ("num_distractors", 0 <= spec.num_distractors[0] <= spec.num_distractors[1], "must be 0 <= lo <= hi"),
        ("min_contrast", 0 <= spec.min_contrast <= MAX_CONTRAST, f"must be in 0..{MAX_CONTRAST:g}"),
    )
    for name, ok, reason in checks:
        if not ok:
            raise SpecError(name, f"{reason}, got {getattr(spec, name)!r}")


def video_names(spec: SyntheticSpec) -> list[tuple[str, str, int]]:
    """(class name, file stem, index within class); training videos first, then test videos.

    Test videos use groups 01-07 and training videos groups 08-25, as UCF-101 split 1; the clip number
    counts the passes over the groups (``g08_c01`` … ``g25_c01``, ``g08_c02`` …).
    """
    names = []
    for cls in spec.classes:
        for i in range(spec.videos_per_class_train):
            group, clip = _TRAIN_GROUPS[i % len(_TRAIN_GROUPS)], 1 + i // len(_TRAIN_GROUPS)
            names.append((cls, f"v_{cls}_g{group:02d}_c{clip:02d}", i))
        for i in range(spec.videos_per_class_test):
            group, clip = _TEST_GROUPS[i % len(_TEST_GROUPS)], 1 + i // len(_TEST_GROUPS)
            names.append((cls, f"v_{cls}_g{group:02d}_c{clip:02d}", spec.videos_per_class_train + i))
    return names


def read_spec(out_dir) -> SyntheticSpec | None:
    """The spec of a complete synthetic set in ``out_dir``, or None if there is none."""
    path = Path(out_dir) / "spec.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return SyntheticSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

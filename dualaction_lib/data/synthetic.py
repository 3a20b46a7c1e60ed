"""Embedded benchmark: procedural videos whose class is defined by motion only.

Each video is a view of a random periodic scene (smooth coloured noise background + 1..``max_objects``
textured shapes). The class sets how the view moves: translate left/right/up/down, rotate cw/ccw (on
screen, y pointing down), zoom in/out. Everything about appearance -- texture scale, colours, shapes,
object count, speed within ``spec.speed``, position, orientation -- is drawn from the same distribution
for every class, and the *middle* frame's state (view centre, angle, scale) is drawn independently of
the class, so that frame carries no class information by construction; other frames differ from it only
by the class's motion. The scene is periodic (``BORDER_WRAP``), so no edge ever enters the view.

Output: the UCF-101 layout, ``<out>/videos/<Class>/v_<Class>_g<GG>_c<CC>.avi`` (MJPG) and
``<out>/splits/{classInd,trainlist01,testlist01}.txt`` with CRLF line ends like the real files; test
videos use groups 01-07 and training videos groups 08-25 as in UCF-101 split 1. ``spec.json`` is written
last and marks a complete set. Deterministic from ``spec.seed``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dualaction_lib.io import atomic_write_json, atomic_write_text

CLASSES = (
    "TranslateLeft",
    "TranslateRight",
    "TranslateUp",
    "TranslateDown",
    "RotateCW",
    "RotateCCW",
    "ZoomIn",
    "ZoomOut",
)
_TEST_GROUPS, _TRAIN_GROUPS = range(1, 8), range(8, 26)


@dataclass(frozen=True)
class SyntheticSpec:
    num_classes: int = 8  # the first num_classes of CLASSES
    videos_per_class_train: int = 15
    videos_per_class_test: int = 6
    num_frames: int = 20
    frame_size: tuple[int, int] = (64, 64)  # (H, W)
    fps: float = 25.0
    speed: tuple[float, float] = (0.75, 2.0)  # px/frame (at half the short side for rotate/zoom)
    max_objects: int = 4
    noise: float = 2.0  # per-frame Gaussian pixel noise (std, 0-255 scale)
    seed: int = 0
    classes: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if not 2 <= self.num_classes <= len(CLASSES):
            raise ValueError(f"num_classes must be in 2..{len(CLASSES)}, got {self.num_classes}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be >= 2, got {self.num_frames}")
        if min(self.frame_size) < 16:
            raise ValueError(f"frame_size must be at least 16x16, got {self.frame_size}")
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be a range 0 < lo <= hi, got {self.speed}")
        object.__setattr__(self, "frame_size", tuple(int(v) for v in self.frame_size))
        object.__setattr__(self, "speed", tuple(float(v) for v in self.speed))
        object.__setattr__(self, "classes", CLASSES[: self.num_classes])

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("classes")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def video_names(spec: SyntheticSpec) -> list[tuple[str, str, int]]:
    """(class name, file stem, index within class); training videos first, then test videos."""
    names = []
    for cls in spec.classes:
        for i in range(spec.videos_per_class_train):
            group, clip = _TRAIN_GROUPS[i % len(_TRAIN_GROUPS)], 1 + i // len(_TRAIN_GROUPS)
            names.append((cls, f"v_{cls}_g{group:02d}_c{clip:02d}", i))
        for i in range(spec.videos_per_class_test):
            group, clip = _TEST_GROUPS[i % len(_TEST_GROUPS)], 1 + i // len(_TEST_GROUPS)
            names.append((cls, f"v_{cls}_g{group:02d}_c{clip:02d}", spec.videos_per_class_train + i))
    return names


# --------------------------------------------------------------------------- scene


def _periodic_noise(rng: np.random.Generator, size: int, period: float) -> np.ndarray:
    """Smooth noise on a torus (FFT low-pass of white noise), (size, size) float in [0, 1]."""
    freq = np.fft.fftfreq(size)
    radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
    spectrum = np.fft.fft2(rng.standard_normal((size, size))) * np.exp(-radius2 * (period**2) * 2.0)
    noise = np.fft.ifft2(spectrum).real
    noise -= noise.min()
    return noise / max(float(noise.max()), 1e-8)


def _draw_shape(
    canvas: np.ndarray, rng: np.random.Generator, colour: np.ndarray, size: int, texture: np.ndarray
) -> None:
    """One filled random shape, drawn at the 9 periodic copies of its position (the scene is a torus)."""
    kind = rng.integers(4)
    radius = rng.uniform(0.05, 0.12) * size
    cx, cy = rng.uniform(0, size, 2)
    angle = rng.uniform(0, np.pi)
    aspect = rng.uniform(0.4, 0.9)
    layer = np.zeros(canvas.shape[:2], np.uint8)
    for dy in (-size, 0, size):
        for dx in (-size, 0, size):
            x, y = cx + dx, cy + dy
            if kind == 0:
                cv2.circle(layer, (int(x), int(y)), int(radius), 255, -1, cv2.LINE_AA)
            elif kind == 1:
                axes = (int(radius), int(radius * aspect))
                cv2.ellipse(layer, (int(x), int(y)), axes, np.degrees(angle), 0, 360, 255, -1, cv2.LINE_AA)
            else:
                sides = 3 if kind == 2 else 4
                t = angle + np.arange(sides) * 2 * np.pi / sides
                pts = np.stack([x + radius * np.cos(t), y + radius * np.sin(t)], 1).astype(np.int32)
                cv2.fillPoly(layer, [pts], 255, cv2.LINE_AA)
    alpha = (layer.astype(np.float32) / 255.0)[..., None]
    shift = rng.integers(0, size, 2)
    shade = 0.6 + 0.4 * np.roll(texture, tuple(shift), axis=(0, 1))[..., None]
    canvas[:] = canvas * (1 - alpha) + alpha * colour * shade


def make_scene(rng: np.random.Generator, size: int, max_objects: int) -> np.ndarray:
    """A random periodic scene, (size, size, 3) float32 BGR in [0, 255]."""
    period = size * rng.uniform(0.04, 0.15)
    contrast = rng.uniform(1.5, 3.0)
    mix = np.clip((_periodic_noise(rng, size, period)[..., None] - 0.5) * contrast + 0.5, 0, 1)
    low, high = rng.uniform(0, 255, (2, 3))
    detail = _periodic_noise(rng, size, period / 3)[..., None]
    canvas = (low * (1 - mix) + high * mix) * (0.75 + 0.5 * detail)
    texture = _periodic_noise(rng, size, rng.uniform(2.0, 6.0))  # objects' shading, shifted per object
    for _ in range(rng.integers(1, max_objects + 1) * 4):  # the scene is 2x2 views
        _draw_shape(canvas, rng, rng.uniform(0, 255, 3), size, texture)
    return np.clip(canvas, 0, 255).astype(np.float32)


def _motion(cls: str, speed: float, radius: float) -> tuple[np.ndarray, float, float]:
    """(content velocity px/frame, angular velocity rad/frame, log-zoom rate per frame) of a class."""
    velocity = {
        "TranslateLeft": (-speed, 0.0),
        "TranslateRight": (speed, 0.0),
        "TranslateUp": (0.0, -speed),
        "TranslateDown": (0.0, speed),
    }.get(cls, (0.0, 0.0))
    omega = {"RotateCW": speed / radius, "RotateCCW": -speed / radius}.get(cls, 0.0)
    zoom = {"ZoomIn": speed / radius, "ZoomOut": -speed / radius}.get(cls, 0.0)
    return np.asarray(velocity), omega, zoom


def render_video(spec: SyntheticSpec, cls: str, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 BGR of one video of class ``cls``."""
    height, width = spec.frame_size
    size = 2 * max(height, width)
    scene = make_scene(rng, size, spec.max_objects)
    speed = rng.uniform(*spec.speed)
    # State at the middle frame: independent of the class.
    centre = rng.uniform(0, size, 2)
    theta_mid = rng.uniform(0, 2 * np.pi)
    log_scale_mid = rng.uniform(np.log(0.8), np.log(1.6))
    velocity, omega, zoom = _motion(cls, speed, min(height, width) / 2)
    mid = (spec.num_frames - 1) / 2
    ss = 2  # supersampling factor against aliasing
    origin = np.array([(width * ss - 1) / 2, (height * ss - 1) / 2])
    frames = np.empty((spec.num_frames, height, width, 3), np.uint8)
    for t in range(spec.num_frames):
        theta = theta_mid + omega * (t - mid)
        scale = np.exp(log_scale_mid + zoom * (t - mid))
        rot_inv = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])  # R(-theta)
        # Content point q appears at p = o + s R(theta) (q - c_t); translation moves c_t.
        c_t = centre - rot_inv @ velocity * (t - mid) / scale
        a = rot_inv / (scale * ss)
        matrix = np.hstack([a, (c_t - a @ origin)[:, None]])
        big = cv2.warpAffine(
            scene,
            matrix,
            (width * ss, height * ss),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_WRAP,
        )
        frame = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
        frame += rng.normal(0, spec.noise, frame.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Write (T, H, W, 3) uint8 BGR frames as an MJPG .avi, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # unique: shards may race
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot open a video writer for {tmp}")
    try:
        for frame in frames:
            writer.write(np.ascontiguousarray(frame))
    finally:
        writer.release()
    os.replace(tmp, path)


def write_splits(splits_dir: Path, spec: SyntheticSpec) -> None:
    """UCF-101 split files (CRLF line ends, 1-based labels, labels only in the train list)."""
    class_ind = "".join(f"{i} {name}\r\n" for i, name in enumerate(spec.classes, start=1))
    train, test = [], []
    for cls, stem, index in video_names(spec):
        label = spec.classes.index(cls) + 1
        if index < spec.videos_per_class_train:
            train.append((label, f"{cls}/{stem}.avi {label}\r\n"))
        else:
            test.append((label, f"{cls}/{stem}.avi\r\n"))
    atomic_write_text(splits_dir / "classInd.txt", class_ind)
    # Sorted by label, then name, like the real lists.
    atomic_write_text(splits_dir / "trainlist01.txt", "".join(line for _, line in sorted(train)))
    atomic_write_text(splits_dir / "testlist01.txt", "".join(line for _, line in sorted(test)))


def read_spec(out_dir) -> SyntheticSpec | None:
    """The spec of a complete synthetic set in ``out_dir``, or None if there is none."""
    path = Path(out_dir) / "spec.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return SyntheticSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def make_synthetic(out_dir, spec: SyntheticSpec | None = None, progress: bool = False) -> Path:
    """Write the benchmark to ``out_dir`` (UCF-101 layout) and return ``out_dir``.

    A complete set with the same spec is kept as is; a different spec in ``out_dir`` is an error.
    """
    from tqdm.auto import tqdm

    out_dir, spec = Path(out_dir), spec or SyntheticSpec()
    existing = read_spec(out_dir)
    if existing is not None:
        if existing != spec:
            raise ValueError(
                f"{out_dir} already holds a synthetic set with a different spec ({existing}); "
                f"use another folder or delete it"
            )
        return out_dir
    root = np.random.SeedSequence(spec.seed)
    names = video_names(spec)
    for cls, stem, index in tqdm(names, desc="synthetic", disable=not progress, mininterval=2.0):
        # Per-video stream keyed by (seed, class, index): appearance draws do not depend on the class.
        seq = np.random.SeedSequence([root.entropy, spec.classes.index(cls), index])
        frames = render_video(spec, cls, np.random.default_rng(seq))
        write_video(out_dir / "videos" / cls / f"{stem}.avi", frames, spec.fps)
    write_splits(out_dir / "splits", spec)
    atomic_write_json(out_dir / "spec.json", spec.to_dict())
    return out_dir

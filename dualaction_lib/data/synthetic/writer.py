"""Render either task's videos and write a set in the UCF-101 layout (videos, split files, ``spec.json``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from dualaction_lib.io import atomic_write_json, atomic_write_text

from .motion import render_motion
from .objects import render_objects
from .spec import SyntheticSpec, read_spec, video_names


def render_video(spec: SyntheticSpec, cls: str, rng: np.random.Generator) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 BGR of one video of class ``cls`` of ``spec.task``."""
    if cls not in spec.classes:
        raise ValueError(f"{cls!r} is not a class of this spec ({list(spec.classes)})")
    return (render_motion if spec.task == "motion" else render_objects)(spec, cls, rng)


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

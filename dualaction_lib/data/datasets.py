"""``VideoDataset``: RGB, flow or aligned RGB+flow clips of checked video folders.

Sample (train): ``{"rgb": (3, T, S, S), "flow": (2, T, S, S), "label": int, "index": int}`` float32, only
the requested modalities. Test: clip tensors get a leading clip axis ``(K, C, T, S, S)`` -- every
non-overlapping T-clip at the centre crop ("mars") or ``num_clips * crops`` views ("multiclip", clip-major).
Test samples have different K: batch them with :func:`collate_videos` (concatenates clips and adds
``"num_clips"``) and average with :func:`average_clip_scores`, or use ``batch_size=1``.

A dataset reads the :class:`~dualaction_lib.data.check.VideoRecord` of videos the data check found usable
(:func:`dualaction_lib.data.check.usable_videos`); it does not scan folders or judge them itself.

Randomness comes from torch's global generator, which DataLoader seeds per worker (base seed + worker id),
so workers draw different crops and runs are reproducible under ``torch.manual_seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dualaction_lib.choices import Modality, Protocol

from . import clips, transforms
from .check import VideoRecord
from .folders import FrameReadError

MODALITIES: tuple[str, ...] = get_args(Modality)
MODES = ("train", "test")

__all__ = ["ClipOptions", "VideoDataset", "VideoRecord", "average_clip_scores", "collate_videos"]


def read_jpeg(path: Path, color: bool) -> np.ndarray:
    """Decode one JPEG: (H, W, 3) RGB or (H, W) gray uint8. Truncated files are errors, not grey bands.

    cv2.imread would silently return a partly grey image for a truncated JPEG, so the bytes are read
    first, checked for the end-of-image marker, then decoded with cv2.imdecode (None -> error).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FrameReadError(f"missing frame file {path}") from None
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FrameReadError(f"truncated JPEG (no end-of-image marker): {path}")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FrameReadError(f"cannot decode JPEG {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if color else image


@dataclass(frozen=True)
class ClipOptions:
    """How clips are cut, cropped and normalized (the engine fills it from ``data`` and ``eval``).

    resize: how crops are resized to crop_size, "linear" (OpenCV) or "pil_bilinear" (PIL's antialiased
        bilinear, as MARS); see :mod:`dualaction_lib.data.transforms`.
    short_side: test-time short side before cropping (default crop_size = MARS's protocol); training
        crops are ``scale * short side`` of the stored frames, resized to crop_size.
    cache: keep every decoded JPEG in memory (per process) so later epochs skip decoding. For small data
        sets read in the main process (num_workers 0): the cpu preset's 480 videos take ~55 MB.
    """

    clip_len: int = 16
    crop_size: int = 112
    short_side: int | None = None
    protocol: str = "mars"
    num_clips: int = 10
    crops: int = 3
    norm: str = "mars"
    scales: tuple[float, ...] = transforms.MARS_SCALES
    flip: bool = True
    resize: str = "linear"
    cache: bool = False

    def __post_init__(self) -> None:
        _check_choice("protocol", self.protocol, get_args(Protocol))
        _check_choice("norm", self.norm, transforms.NORMS)
        _check_choice("resize", self.resize, transforms.RESIZES)
        object.__setattr__(self, "scales", tuple(self.scales))
        if self.crop_size > self.test_short_side:
            raise ValueError(f"crop_size {self.crop_size} exceeds short_side {self.test_short_side}")

    @property
    def test_short_side(self) -> int:
        return self.short_side or self.crop_size


def train_positions(record: VideoRecord, modality: str) -> int:
    """Clip positions a training clip starts from: the N-1 flow-aligned ones whenever the folder has flow.

    RGB alone could use all N frames, but then an RGB student would draw other clips than a distilled
    student (rgb+flow) of the same seed; on the N-1 positions both draw the same clips and crops.
    """
    if modality == "rgb" and not 0 < record.num_flows == record.num_frames - 1:
        return clips.num_positions(record.num_frames, None, "rgb")  # frames only: no flow to align with
    return clips.num_positions(record.num_frames, record.num_flows, "rgb+flow")


class VideoDataset(Dataset):
    def __init__(
        self,
        records: list[VideoRecord],
        modality: str = "rgb",
        mode: str = "train",
        options: ClipOptions | None = None,
    ) -> None:
        """Clips of checked ``records`` (:func:`dualaction_lib.data.check.usable_videos`)."""
        _check_choice("modality", modality, MODALITIES)
        _check_choice("mode", mode, MODES)
        self.records, self.modality, self.mode = list(records), modality, mode
        self.options = options or ClipOptions()
        self._decoded: dict[Path, np.ndarray] | None = {} if self.options.cache else None

    @property
    def video_ids(self) -> list[str]:
        return [r.video_id for r in self.records]

    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    # ----------------------------------------------------------------- loading

    def _load(self, record: VideoRecord, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Uint8 clips for the given positions (any shape), each file decoded once: (..., H, W, C)."""
        unique = np.unique(positions)
        where = np.searchsorted(unique, positions)
        out = {}
        if "rgb" in self.modality:
            stack = np.stack([self._read(record.folder / record.naming.rgb(p), True) for p in unique])
            out["rgb"] = stack[where]
        if "flow" in self.modality:
            axes = [
                np.stack([self._read(record.folder / record.naming.flow(p, a), False) for p in unique])
                for a in (0, 1)
            ]
            out["flow"] = np.stack(axes, axis=-1)[where]
        shapes = {k: v.shape[-3:-1] for k, v in out.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f"{record.folder}: RGB and flow frames differ in size {shapes}")
        return out

    def _read(self, path: Path, color: bool) -> np.ndarray:
        """One decoded JPEG, from the in-memory cache when ``cache`` is on (the arrays are never written)."""
        if self._decoded is None:
            return read_jpeg(path, color)
        image = self._decoded.get(path)
        if image is None:
            image = self._decoded[path] = read_jpeg(path, color)
        return image

    def _rng(self) -> np.random.Generator:
        # torch's generator is seeded per DataLoader worker; numpy's global one is not.
        return np.random.default_rng(torch.randint(0, 2**62, (2,)).tolist())

    def __getitem__(self, index: int) -> dict:
        record, o = self.records[index], self.options
        sample: dict = {"label": record.label, "index": index}
        if self.mode == "train":
            rng = self._rng()
            n = train_positions(record, self.modality)
            data = self._load(record, clips.train_clip(n, o.clip_len, rng))  # (T, H, W, C)
            height, width = next(iter(data.values())).shape[1:3]
            box = transforms.sample_train_box(height, width, o.scales, rng, o.flip)
            for key, clip in data.items():
                sample[key] = torch.from_numpy(self._finish(key, clip, box))
            return sample
        n = clips.num_positions(record.num_frames, record.num_flows, self.modality)
        if o.protocol == "mars":
            positions, crops = clips.mars_test_clips(n, o.clip_len), 1
        else:
            positions, crops = clips.multiclip_test_clips(n, o.clip_len, o.num_clips), o.crops
        views: dict[str, list[np.ndarray]] = {}
        for row in positions:  # clip by clip: peak memory is one clip of full-size frames
            data = self._load(record, row)  # (T, H, W, C)
            height, width = next(iter(data.values())).shape[1:3]
            boxes = transforms.test_boxes(height, width, o.crop_size, o.test_short_side, crops)
            for key, clip in data.items():
                views.setdefault(key, []).extend(self._finish(key, clip, box) for box in boxes)
        for key, stack in views.items():
            sample[key] = torch.from_numpy(np.stack(stack))  # (K * crops, C, T, S, S), clip-major
        return sample

    def _finish(self, key: str, clip: np.ndarray, box: transforms.CropBox) -> np.ndarray:
        """(T, H, W, C) uint8 -> (C, T, S, S) float32: crop, resize, flip, normalize."""
        o = self.options
        patch = transforms.crop_resize(clip, box, o.crop_size, flow=key == "flow", resize=o.resize)
        if key == "flow":
            return transforms.normalize_flow(patch, o.norm)
        return transforms.normalize_rgb(patch, o.norm)


def _check_choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


def collate_videos(batch: list[dict]) -> dict:
    """Batch train samples (stack) or test samples (concatenate clips; adds ``num_clips`` (B,))."""
    out: dict = {
        "label": torch.tensor([s["label"] for s in batch]),
        "index": torch.tensor([s["index"] for s in batch]),
    }
    for key in ("rgb", "flow"):
        if key not in batch[0]:
            continue
        tensors = [s[key] for s in batch]
        if tensors[0].dim() == 4:  # (C, T, H, W)
            out[key] = torch.stack(tensors)
        else:  # (K, C, T, H, W)
            out[key] = torch.cat(tensors)
            out["num_clips"] = torch.tensor([t.shape[0] for t in tensors])
    return out


def average_clip_scores(scores: torch.Tensor, num_clips: torch.Tensor) -> torch.Tensor:
    """(sum K, C) clip scores -> (B, C) per-video means (MARS averages raw logits)."""
    return torch.stack([chunk.mean(0) for chunk in torch.split(scores, num_clips.tolist())])

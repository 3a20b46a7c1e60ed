"""``VideoDataset``: RGB, flow or aligned RGB+flow clips from extracted JPEG folders.

Sample (train): ``{"rgb": (3, T, S, S), "flow": (2, T, S, S), "label": int, "index": int}`` float32, only
the requested modalities. Test: clip tensors get a leading clip axis ``(K, C, T, S, S)`` -- every
non-overlapping T-clip at the centre crop ("mars") or ``num_clips * crops`` views ("multiclip", clip-major).
Test samples have different K: batch them with :func:`collate_videos` (concatenates clips and adds
``"num_clips"``) and average with :func:`average_clip_scores`, or use ``batch_size=1``.

Listed videos that cannot be read -- skipped by prepare (its report says why), without a folder, or
with an unfinished extraction -- are left out with one :class:`~dualaction_lib.data.check.DataWarning`
(``missing="skip"``, the default) or refused (``missing="error"``); ``left_out`` lists them.

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

from dualaction_lib.choices import Missing, Modality, Protocol

from . import clips, layouts, prepared, transforms
from .check import LeftOut, one_line, warn_left_out
from .folders import FrameReadError, scan_video

MODALITIES: tuple[str, ...] = get_args(Modality)


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
class VideoRecord:
    video_id: str
    label: int
    folder: Path
    num_frames: int
    num_flows: int
    naming: layouts.FrameNaming  # this folder's naming and first index


class VideoDataset(Dataset):
    def __init__(
        self,
        frames_root,
        entries: list[layouts.VideoEntry],
        modality: str = "rgb",
        clip_len: int = 16,
        mode: str = "train",
        protocol: str = "mars",
        num_clips: int = 10,
        crops: int = 3,
        crop_size: int = 112,
        norm: str = "mars",
        scales=transforms.MARS_SCALES,
        flip: bool = True,
        bound: float = 20.0,
        resize: str = "linear",
        short_side: int | None = None,
        naming: str | layouts.FrameNaming | None = None,
        classes: list[str] | None = None,
        missing: str = "skip",
        warn: bool = True,
        cache: bool = False,
    ) -> None:
        """Clips of ``entries`` from ``frames_root/<video_id>/``.

        resize: how crops are resized to crop_size, "linear" (OpenCV) or "pil_bilinear" (PIL's antialiased
            bilinear, as MARS); see :mod:`dualaction_lib.data.transforms`.
        short_side: test-time short side before cropping (default crop_size = MARS's protocol);
            training crops are ``scale * short side`` of the stored frames, resized to crop_size.
        naming: "mars" | "mmaction2" | None (detected from frames_root; an ambiguous root is an error).
            Each folder's first index (0 or 1 for img_/flow_x_) is detected on its own.
        missing: "skip" (default) leaves out entries that cannot be read (skipped by prepare, no
            folder, unfinished extraction), listed in ``self.left_out``; "error" refuses them.
        warn: one DataWarning when entries are left out (build_datasets warns once for both sets).
        cache: keep every decoded JPEG in memory (per process) so later epochs skip decoding. For small
            data sets read in the main process (num_workers 0): the cpu preset's 480 videos take ~55 MB.
        """
        _check_choice("modality", modality, MODALITIES)
        _check_choice("mode", mode, ("train", "test"))
        _check_choice("protocol", protocol, get_args(Protocol))
        _check_choice("norm", norm, transforms.NORMS)
        _check_choice("resize", resize, transforms.RESIZES)
        _check_choice("missing", missing, get_args(Missing))
        self.frames_root = Path(frames_root)
        self.naming = layouts.get_naming(naming) if naming else layouts.detect_naming(self.frames_root)
        self.modality, self.clip_len, self.mode, self.protocol = modality, clip_len, mode, protocol
        self.num_clips, self.crops, self.crop_size, self.norm = num_clips, crops, crop_size, norm
        self.scales, self.flip, self.bound, self.resize = tuple(scales), flip, float(bound), resize
        self.short_side = short_side or crop_size
        if crop_size > self.short_side:
            raise ValueError(f"crop_size {crop_size} exceeds short_side {self.short_side}")
        self.classes = list(classes) if classes is not None else None
        self.records, self.left_out = self._scan(entries, missing)
        self._decoded: dict[Path, np.ndarray] | None = {} if cache else None
        if warn:
            warn_left_out(self.left_out, len(entries), self.frames_root)

    def _scan(self, entries, missing: str) -> tuple[list[VideoRecord], list[LeftOut]]:
        skipped = prepared.skipped_by_prepare(self.frames_root)
        from_prepare = prepared.is_prepare_output(self.frames_root)
        records, left_out = [], []
        for entry in entries:
            folder = self.frames_root / entry.video_id
            video = scan_video(folder, self.naming, self.bound) if folder.is_dir() else None
            if video is None and entry.video_id in skipped:
                why = LeftOut(
                    entry.video_id, "skipped", [f"skipped by prepare: {one_line(skipped[entry.video_id])}"]
                )
            elif video is None:
                why = LeftOut(entry.video_id, "missing", [f"no frame folder {folder}"])
            elif video.marker is None and from_prepare:
                why = LeftOut(entry.video_id, "unfinished", [f"{folder} has no {prepared.DONE_MARKER}"])
            else:
                try:
                    clips.num_positions(video.frames, video.flows, self.modality)
                except ValueError as err:
                    raise ValueError(f"{folder}: {err}") from None
                records.append(
                    VideoRecord(entry.video_id, entry.label, folder, video.frames, video.flows, video.naming)
                )
                continue
            if missing == "error":
                raise FrameReadError(
                    f"video {entry.video_id!r} cannot be read ({why.reason}); "
                    f"{prepared.report_hint(self.frames_root)}, or pass missing='skip' to leave it out"
                )
            left_out.append(why)
        return records, left_out

    @property
    def missing(self) -> list[str]:
        """Ids of the left-out entries."""
        return [item.video_id for item in self.left_out]

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
        record = self.records[index]
        n = clips.num_positions(record.num_frames, record.num_flows, self.modality)
        sample: dict = {"label": record.label, "index": index}
        if self.mode == "train":
            rng = self._rng()
            data = self._load(record, clips.train_clip(n, self.clip_len, rng))  # (T, H, W, C)
            height, width = next(iter(data.values())).shape[1:3]
            box = transforms.sample_train_box(height, width, self.scales, rng, self.flip)
            for key, clip in data.items():
                sample[key] = torch.from_numpy(self._finish(key, clip, box))
            return sample
        if self.protocol == "mars":
            positions, crops = clips.mars_test_clips(n, self.clip_len), 1
        else:
            positions, crops = clips.multiclip_test_clips(n, self.clip_len, self.num_clips), self.crops
        views: dict[str, list[np.ndarray]] = {}
        for row in positions:  # clip by clip: peak memory is one clip of full-size frames
            data = self._load(record, row)  # (T, H, W, C)
            height, width = next(iter(data.values())).shape[1:3]
            boxes = transforms.test_boxes(height, width, self.crop_size, self.short_side, crops)
            for key, clip in data.items():
                views.setdefault(key, []).extend(self._finish(key, clip, box) for box in boxes)
        for key, stack in views.items():
            sample[key] = torch.from_numpy(np.stack(stack))  # (K * crops, C, T, S, S), clip-major
        return sample

    def _finish(self, key: str, clip: np.ndarray, box: transforms.CropBox) -> np.ndarray:
        """(T, H, W, C) uint8 -> (C, T, S, S) float32: crop, resize, flip, normalize."""
        patch = transforms.crop_resize(clip, box, self.crop_size, flow=key == "flow", resize=self.resize)
        if key == "flow":
            return transforms.normalize_flow(patch, self.norm)
        return transforms.normalize_rgb(patch, self.norm)


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


def build_datasets(
    frames_root,
    split: int = 1,
    modality: str = "rgb",
    clip_len: int = 16,
    crop_size: int = 112,
    dataset: str = "auto",
    **kwargs,
) -> tuple[VideoDataset, VideoDataset]:
    """(train, test) datasets from ``<frames_root>/splits`` (UCF-101 or HMDB-51 format, detected).

    kwargs go to both datasets (norm, scales, flip, bound, resize, short_side, protocol, num_clips, crops,
    naming, missing). Left-out videos of both give one DataWarning.
    """
    frames_root = Path(frames_root)
    entries, classes = layouts.load_index(dataset, frames_root / "splits", split)
    common = dict(modality=modality, clip_len=clip_len, crop_size=crop_size, classes=classes, **kwargs)
    train = VideoDataset(
        frames_root, [e for e in entries if e.split == "train"], mode="train", warn=False, **common
    )
    test = VideoDataset(
        frames_root, [e for e in entries if e.split == "test"], mode="test", warn=False, **common
    )
    warn_left_out(train.left_out + test.left_out, len(entries), frames_root)
    return train, test

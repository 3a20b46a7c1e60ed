"""An in-memory stand-in for the data package (same item dicts as VideoDataset), for engine tests.

``fake_data`` (a fixture, registered in conftest.py) swaps it in; ``smoke(tmp_path, **overrides)`` is the
smoke preset as those tests train it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from dualaction_lib.config import load_config
from dualaction_lib.engine import data as edata

NUM_CLASSES, T, S = 4, 4, 32


@dataclass(frozen=True)
class Entry:
    video_id: str
    label: int
    split: str


class FakeVideos(Dataset):
    """Class = flow direction; RGB only weakly informative. Train items draw noise from the global RNG."""

    def __init__(self, entries: list[Entry], modality: str, mode: str, clips: int = 2) -> None:
        self.entries, self.modality, self.mode, self.clips = entries, modality, mode, clips

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def video_ids(self) -> list[str]:
        return [e.video_id for e in self.entries]

    def _clip(self, label: int, gen: torch.Generator | None) -> dict[str, torch.Tensor]:
        direction = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])[label]
        flow = direction[:, None, None, None] * 20 + torch.randn(2, T, S, S, generator=gen) * 10
        rgb = torch.randn(3, T, S, S, generator=gen) * 30 + 5.0 * label
        return {"rgb": rgb, "flow": flow}

    def __getitem__(self, index: int) -> dict:
        e = self.entries[index]
        if self.mode == "train":
            clip = self._clip(e.label, None)  # global RNG → reseeded per epoch by the engine
        else:
            gen = torch.Generator().manual_seed(index)
            clips = [self._clip(e.label, gen) for _ in range(self.clips)]
            clip = {k: torch.stack([c[k] for c in clips]) for k in ("rgb", "flow")}  # (K, C, T, H, W)
        item = {"label": e.label, "index": index}
        for key in ("rgb", "flow"):
            if key in self.modality:
                item[key] = clip[key]
        return item


def fake_open_data(d, modality: str, *, test, distill: bool = False, warn: bool = True) -> edata.RunData:
    """``engine.data.open_data`` on 16 training and 8 test videos, every one usable."""
    train_e = [Entry(f"c{i % NUM_CLASSES}/v{i}", i % NUM_CLASSES, "train") for i in range(16)]
    test_e = [Entry(f"c{i % NUM_CLASSES}/t{i}", i % NUM_CLASSES, "test") for i in range(8)]
    train_e, val_e = edata.validation_split(train_e, d.val_fraction)
    return edata.RunData(
        classes=[f"c{i}" for i in range(NUM_CLASSES)],
        listed={"train": 16, "test": 8},
        left_out={"train": [], "test": []},
        train=FakeVideos(train_e, "rgb+flow" if distill else modality, "train"),
        test=FakeVideos(test_e, modality, "test"),
        val=FakeVideos(val_e, modality, "test") if val_e else None,
        train_scores=FakeVideos(train_e, modality, "test") if test.train_scores else None,
        where="split 1 of the fake data",
        frames_root=Path("fake"),
    )


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(edata, "ensure_prepared", lambda cfg: None)
    monkeypatch.setattr(edata, "open_data", fake_open_data)


def smoke(tmp_path: Path, **kw):
    base = {
        "out_dir": str(tmp_path / "runs"),
        "progress": False,
        "data.crop_size": S,
        "data.clip_len": T,
        "optim.batch_size": 4,
        "optim.epochs": 2,
        "optim.lr": 0.01,
        # the unit tests train from scratch on all 16 fake videos unless a test asks otherwise
        "data.val_fraction": 0.0,
        "model.init": "scratch",
        "model.pretrained": "",
    }
    return load_config("smoke", **{**base, **kw})

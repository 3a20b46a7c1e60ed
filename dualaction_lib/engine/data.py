"""The engine's view of the data package: prepare on first use, datasets and loaders per method.

Distillation methods train on ``rgb+flow`` (the student sees RGB, the teacher the aligned flow of the same
clip) and are tested on RGB only; ``flow`` trains and tests on flow, ``rgb`` on RGB.

Before any work the data check (``data.check``) verifies every file the run reads. Listed videos that
cannot be read are left out with one warning (``data.missing: skip``) or refused (``error``); the
selection counts them for eval.json.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from dualaction_lib.config import Config, ConfigError
from dualaction_lib.data.check import CheckResult
from dualaction_lib.data.synthetic import SpecError, SyntheticSpec


@dataclass
class Selection:
    """The listed videos a run uses, and those it leaves out (per split: "train", "test")."""

    train: list[Any]
    test: list[Any]
    classes: list[str]
    listed: dict[str, int]
    left_out: dict[str, list[dict]]  # {video_id, kind, reason}

    @classmethod
    def everything(cls, train: list[Any], test: list[Any], classes: list[str]) -> Selection:
        return cls(train, test, classes, {"train": len(train), "test": len(test)}, {"train": [], "test": []})


@dataclass
class TrainData:
    train_loader: DataLoader
    sampler: DistributedSampler
    test_ds: Dataset
    train_eval_ds: Dataset | None
    classes: list[str]
    selection: Selection

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class EvalData:
    test_ds: Dataset
    train_eval_ds: Dataset | None
    classes: list[str]
    selection: Selection


def index_format(cfg: Config) -> str:
    """Split-file format: the synthetic benchmark is written in the UCF-101 layout."""
    return "ucf101" if cfg.data.dataset == "synthetic" else cfg.data.dataset


def is_prepared(frames_root: Path) -> bool:
    """extract.prepare writes prepare_report.json last."""
    return (frames_root / "splits").is_dir() and any(frames_root.glob("prepare_report*.json"))


def ensure_prepared(cfg: Config) -> None:
    """Generate + extract the synthetic benchmark when missing (one call gets a fresh user going)."""
    d = cfg.data
    frames = Path(d.frames_root)
    if is_prepared(frames):
        return
    if d.dataset != "synthetic" or not d.auto_prepare:
        raise FileNotFoundError(
            f"data.frames_root {frames} holds no extracted frames; run `python -m dualaction_lib prepare` "
            f"for {d.dataset} first"
        )
    from dualaction_lib.data.extract import ExtractSettings, prepare

    spec = synthetic_spec(d.synthetic)  # a bad key fails before any work starts
    settings = ExtractSettings(
        fps=d.fps,
        short_side=d.short_side,
        flow_backend=d.flow_backend,
        bound=d.flow_bound,
        flow_params=dict(d.flow_params),
    )
    print(f"[dualaction] preparing the synthetic benchmark in {d.root} → {frames}", file=sys.stderr)
    prepare(
        "synthetic",
        d.root,
        frames,
        settings,
        workers=d.prepare_workers,
        spec=spec,
        progress=cfg.progress,
    )


def load_entries(cfg: Config) -> tuple[list[Any], list[Any], list[str]]:
    """(train entries, test entries, class names) from <frames_root>/splits."""
    from dualaction_lib.data.layouts import load_index

    entries, classes = load_index(index_format(cfg), Path(cfg.data.frames_root) / "splits", cfg.data.split)
    train = [e for e in entries if e.split == "train"]
    test = [e for e in entries if e.split == "test"]
    return train, test, list(classes)


def class_names(cfg: Config) -> list[str]:
    return load_entries(cfg)[2]


def check_entries(cfg: Config, videos: list[tuple[str, str]]) -> CheckResult:
    """The data check of ``(video_id, modality)`` pairs at the level ``data.check``."""
    from dualaction_lib.data.check import check_videos

    return check_videos(cfg.data.frames_root, videos, cfg.data.check)


def select_videos(cfg: Config, warn: bool = True) -> Selection:
    """The split's videos minus the unusable ones: one warning (skip) or one error (data.missing: error)."""
    from dualaction_lib.data.check import refuse_left_out, warn_left_out

    train, test, classes = load_entries(cfg)
    train_mod, test_mod = modalities(cfg)
    videos = [(e.video_id, train_mod) for e in train] + [(e.video_id, test_mod) for e in test]
    result = check_entries(cfg, videos)
    root = Path(cfg.data.frames_root)
    if cfg.data.missing == "error":
        refuse_left_out(result.left_out, len(videos), root)
    elif warn:
        warn_left_out(result.left_out, len(videos), root, stacklevel=2)
    bad = {item.video_id: item.to_dict() for item in result.left_out}
    selection = Selection(
        [e for e in train if e.video_id not in bad],
        [e for e in test if e.video_id not in bad],
        classes,
        {"train": len(train), "test": len(test)},
        {
            split: [bad[e.video_id] for e in es if e.video_id in bad]
            for split, es in (("train", train), ("test", test))
        },
    )
    for split, kept in (("train", selection.train), ("test", selection.test)):
        if not kept:
            raise ValueError(
                f"none of the {selection.listed[split]} {split} videos of split {cfg.data.split} in "
                f"{root / 'splits'} is usable (all left out); run `python -m dualaction_lib check {root}`"
            )
    return selection


def make_dataset(cfg: Config, entries: list[Any], modality: str, mode: str) -> Dataset:
    from dualaction_lib.data.datasets import VideoDataset

    d, e = cfg.data, cfg.eval
    return VideoDataset(
        d.frames_root,
        entries,
        missing=d.missing,
        bound=d.flow_bound,
        modality=modality,
        clip_len=d.clip_len,
        mode=mode,
        protocol=e.protocol,
        num_clips=e.num_clips,
        crops=e.crops,
        crop_size=d.crop_size,
        norm=d.norm,
        scales=tuple(d.scales),
        flip=d.flip,
    )


def modalities(cfg: Config) -> tuple[str, str]:
    """(train modality, test modality) for the method."""
    if cfg.method == "flow":
        return "flow", "flow"
    if cfg.is_distill:
        return "rgb+flow", "rgb"
    return "rgb", "rgb"


def build_train_data(cfg: Config, rt: Any) -> TrainData:
    selection = select_videos(cfg, warn=rt.is_main)
    train_mod, test_mod = modalities(cfg)
    train_ds = make_dataset(cfg, selection.train, train_mod, "train")
    # Every rank draws its own shard; one replica (rank 0 of 1) outside torchrun. Reshuffled per epoch.
    sampler = DistributedSampler(
        train_ds, num_replicas=rt.world_size, rank=rt.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    per_rank = max(1, cfg.optim.batch_size // rt.world_size)
    loader = DataLoader(
        train_ds,
        batch_size=per_rank,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        pin_memory=rt.device.type == "cuda",
        drop_last=len(train_ds) > per_rank * rt.world_size,
        # Not persistent: workers are seeded when an iterator starts, from the RNG the loop reseeds every
        # epoch, so epoch k draws the same crops whether the run started at epoch 0 or resumed at k.
        persistent_workers=False,
    )
    evals = _eval_sets(cfg, selection, test_mod)
    return TrainData(loader, sampler, evals.test_ds, evals.train_eval_ds, selection.classes, selection)


def build_eval_data(cfg: Config, bundle: TrainData | None = None) -> EvalData:
    if bundle is not None:
        return EvalData(bundle.test_ds, bundle.train_eval_ds, bundle.classes, bundle.selection)
    return _eval_sets(cfg, select_videos(cfg), modalities(cfg)[1])


def _eval_sets(cfg: Config, selection: Selection, modality: str) -> EvalData:
    test_ds = make_dataset(cfg, selection.test, modality, "test")
    train_eval = make_dataset(cfg, selection.train, modality, "test") if cfg.eval.train_scores else None
    return EvalData(test_ds, train_eval, selection.classes, selection)


def item_loader(dataset: Dataset, cfg: Config) -> Any:
    """Unbatched iteration over a test-mode dataset (videos have different clip counts)."""
    if cfg.data.num_workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=cfg.data.num_workers)


def video_id(dataset: Any, index: int) -> str:
    return str(dataset.video_ids[index])


def synthetic_spec(overrides: dict[str, Any]) -> SyntheticSpec:
    """The benchmark spec for ``data.synthetic``; an unknown key is a ConfigError naming it."""
    known = {f.name for f in dataclasses.fields(SyntheticSpec) if f.init}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"data.synthetic: unknown key(s) {unknown}; known keys: {sorted(known)}")
    try:
        return SyntheticSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    except SpecError as err:
        raise ConfigError(f"data.synthetic.{err.field}: {err.reason}") from err
    except (TypeError, ValueError) as err:
        raise ConfigError(f"data.synthetic: {err}") from err

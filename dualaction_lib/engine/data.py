"""The engine's view of the data package: prepare on first use, datasets and loaders per method.

Distillation methods train on ``rgb+flow`` (the student sees RGB, the teacher the aligned flow of the same
clip) and are tested on RGB only; ``flow`` trains and tests on flow, ``rgb`` on RGB.

Before any work the data check (``data.check``) verifies every file the run reads. Listed videos that
cannot be read are left out with one warning (``data.missing: skip``) or refused (``error``); the
selection counts them for eval.json.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import zlib
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
    """The listed videos a run uses, and those it leaves out (per split: "train", "test").

    ``val`` are training videos held out as the validation split (``data.val_fraction``): never trained
    on, scored for fusion fitting and hyperparameter choice.
    """

    train: list[Any]
    test: list[Any]
    classes: list[str]
    listed: dict[str, int]
    left_out: dict[str, list[dict]]  # {video_id, kind, reason}
    val: list[Any] = dataclasses.field(default_factory=list)


_UCF_GROUP = re.compile(r"_g(\d+)_c\d+$")  # v_<Class>_g08_c01: group 8 (one actor/scene in UCF-101)


def validation_split(entries: list[Any], fraction: float) -> tuple[list[Any], list[Any]]:
    """(train, val): the training videos minus a held-out validation split.

    Every ``round(1 / fraction)``-th UCF-101 group is held out whole (clips of one group share actor and
    scene, so splitting a group would leak it into validation); videos without a group (HMDB-51) are
    held out by a stable hash of their id. Deterministic: every run of a data set holds out the same videos.
    """
    if fraction <= 0:
        return list(entries), []
    every = max(2, round(1 / fraction))

    def held_out(video_id: str) -> bool:
        match = _UCF_GROUP.search(Path(video_id).name)
        key = int(match[1]) if match else zlib.crc32(video_id.encode("utf-8"))
        return key % every == 0

    val = [e for e in entries if held_out(e.video_id)]
    return [e for e in entries if not held_out(e.video_id)], val


@dataclass
class TrainData:
    train_loader: DataLoader
    sampler: DistributedSampler
    test_ds: Dataset
    val_ds: Dataset | None
    train_eval_ds: Dataset | None
    classes: list[str]
    selection: Selection

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class EvalData:
    test_ds: Dataset
    val_ds: Dataset | None
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
    """Generate + extract the synthetic benchmark when missing (one call gets a fresh user going).

    Prepared data must have been extracted with ``data.flow_rounding`` (:func:`check_flow_rounding`).
    """
    d = cfg.data
    frames = Path(d.frames_root)
    if is_prepared(frames):
        check_flow_rounding(cfg)
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
        rounding=d.flow_rounding,
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


def check_flow_rounding(cfg: Config) -> None:
    """``data.flow_rounding`` must be the rounding the frames root's prepare report records.

    A teacher reads stored flow as it was trained on it: MARS's released flow checkpoints saw truncated
    levels (zero flow = 127), a teacher trained here on rounded ones saw 127.5. A root without a report
    (folders extracted elsewhere) or whose report predates the key records nothing and is taken as it is.
    """
    from dualaction_lib.data.prepared import read_reports, recorded_settings

    d = cfg.data
    for report in read_reports(Path(d.frames_root)):
        found = recorded_settings(report).get("rounding")
        if found is not None and found != d.flow_rounding:
            raise ConfigError(
                f"data.flow_rounding: {d.flow_rounding!r}, but the flow of {d.frames_root} was extracted "
                f"with rounding {found!r} ({report['report_path']}); re-extract it with `python -m "
                f"dualaction_lib prepare --data.flow_rounding {d.flow_rounding}` into another --out, or set "
                f"data.flow_rounding to {found!r}"
            )


def check_crop_size(cfg: Config, entries: list[Any] | None = None) -> None:
    """``data.crop_size`` must fit in the frames' short side unless ``data.allow_upscale`` is set.

    The short side is read from the first stored frame of ``entries`` (default: the split's videos,
    when the data is prepared); before the data is prepared, from ``data.short_side``, the size
    ``prepare`` will resize the frames to.
    """
    d = cfg.data
    if d.allow_upscale:
        return
    prepared = is_prepared(Path(d.frames_root))
    if entries is None and prepared:
        train, test, _ = load_entries(cfg)
        entries = [*train, *test]
    found = frame_short_side(Path(d.frames_root), entries) if entries else None
    if found is not None:
        side, where = found[0], f"the frames' short side, {found[0]} px ({found[1]})"
    elif not prepared and d.short_side > 0:
        side, where = d.short_side, f"data.short_side, {d.short_side} px, the size frames are extracted at"
    else:
        return
    if d.crop_size > side:
        raise ConfigError(
            f"data.crop_size: {d.crop_size} is larger than {where}; expected an integer in [1, {side}] "
            f"(lower --data.crop_size, or upscale on purpose with --data.allow_upscale true)"
        )


def frame_short_side(frames_root: Path, entries: list[Any], tries: int = 5) -> tuple[int, Path] | None:
    """(short side, file) of the first readable stored frame among the first videos of ``entries``."""
    import cv2

    for entry in entries[:tries]:
        folder = frames_root / entry.video_id
        first = min(folder.glob("*.jpg"), default=None) if folder.is_dir() else None
        image = cv2.imread(str(first), cv2.IMREAD_UNCHANGED) if first is not None else None
        if image is not None:
            return min(image.shape[:2]), first
    return None  # nothing readable: the data check names damaged files


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
    selection.train, selection.val = validation_split(selection.train, cfg.data.val_fraction)
    if cfg.data.val_fraction > 0 and not selection.val:
        raise ValueError(
            f"data.val_fraction {cfg.data.val_fraction}: no training video of {root / 'splits'} is held out "
            f"for validation; raise it or set it to 0"
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
        resize=d.resize,
        cache=d.cache,
    )


def modalities(cfg: Config) -> tuple[str, str]:
    """(train modality, test modality) for the method."""
    return ("rgb+flow" if cfg.is_distill else cfg.input_modality), cfg.input_modality


def build_train_data(cfg: Config, rt: Any) -> TrainData:
    selection = select_videos(cfg, warn=rt.is_main)
    check_crop_size(cfg, [*selection.train, *selection.test])
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
    return TrainData(
        loader, sampler, evals.test_ds, evals.val_ds, evals.train_eval_ds, selection.classes, selection
    )


def build_eval_data(cfg: Config, bundle: TrainData | None = None) -> EvalData:
    if bundle is not None:
        return EvalData(bundle.test_ds, bundle.val_ds, bundle.train_eval_ds, bundle.classes, bundle.selection)
    selection = select_videos(cfg)
    check_crop_size(cfg, [*selection.test, *selection.train])
    return _eval_sets(cfg, selection, modalities(cfg)[1])


def _eval_sets(cfg: Config, selection: Selection, modality: str) -> EvalData:
    test_ds = make_dataset(cfg, selection.test, modality, "test")
    val_ds = make_dataset(cfg, selection.val, modality, "test") if selection.val else None
    train_eval = make_dataset(cfg, selection.train, modality, "test") if cfg.eval.train_scores else None
    return EvalData(test_ds, val_ds, train_eval, selection.classes, selection)


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

"""The engine's door to the data: prepare on first use, then one call opens a run's datasets.

:func:`open_data` reads the split index once, runs the data check once (``data.check`` is the only judge
of which videos are usable) and builds every dataset of a run from the checked records;
:func:`train_loader` batches the training set. Distillation methods train on ``rgb+flow`` (the student sees
RGB, the teacher the aligned flow of the same clip) and are tested on RGB only; ``flow`` trains and tests
on flow, ``rgb`` on RGB.

Listed videos that cannot be read are left out with one warning (``data.missing: skip``) or refused
(``error``); :class:`RunData` counts them for the evaluation.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from dualaction_lib.config import Config, ConfigError
from dualaction_lib.config.schema import DataConfig, EvalConfig
from dualaction_lib.data.synthetic import SpecError, SyntheticSpec
from dualaction_lib.errors import UserError
from dualaction_lib.locks import waiting_lock


@dataclass
class RunData:
    """Every dataset of a run, from one read of the split index and one data check.

    ``train`` draws training clips (``rgb+flow`` for distillation); ``test``, ``val`` and ``train_scores``
    score whole videos in the test modality. ``val`` are training videos held out as the validation split
    (``data.val_fraction``): never trained on, scored for fusion fitting and hyperparameter choice.
    ``listed`` and ``left_out`` count the split files' videos per split ("train", "test").
    """

    classes: list[str]
    listed: dict[str, int]
    left_out: dict[str, list[dict]]  # {video_id, kind, reason}
    train: Dataset
    test: Dataset
    val: Dataset | None
    train_scores: Dataset | None
    where: str  # "split 1 of <frames_root>/splits", for messages
    frames_root: Path

    @property
    def num_classes(self) -> int:
        return len(self.classes)


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


def index_format(d: DataConfig) -> str:
    """Split-file format: the synthetic benchmark is written in the UCF-101 layout."""
    return "ucf101" if d.dataset == "synthetic" else d.dataset


def is_prepared(frames_root: Path) -> bool:
    """extract.prepare writes prepare_report.json last."""
    return (frames_root / "splits").is_dir() and any(frames_root.glob("prepare_report*.json"))


PREPARE_LOCK = ".prepare.lock"  # in the frames folder's parent, while one process prepares the frames


def ensure_prepared(cfg: Config) -> None:
    """Generate + extract the synthetic benchmark when missing (one call gets a fresh user going), then
    check that the prepared frames agree with the config (:func:`check_prepared`)."""
    d = cfg.data
    frames = Path(d.frames_root)
    if not is_prepared(frames):
        # Two runs started at once (a plan's jobs, a tuning's trainings) need the same frames: one prepares
        # them, the other waits and then finds them prepared (racing extractors skipped videos).
        frames.parent.mkdir(parents=True, exist_ok=True)
        with waiting_lock(frames.parent, f"preparing {frames}", name=PREPARE_LOCK):
            if not is_prepared(frames):
                _prepare_synthetic(cfg)
    check_prepared(cfg)


def check_prepared(cfg: Config) -> None:
    """The one check of prepared frames against the config; a root not prepared yet passes.

    ``data.flow_rounding`` and ``data.frame_size`` must be what the prepare report records
    (:func:`check_extraction`), and ``data.crop_size`` must fit in the stored frames' short side
    (:func:`check_crop_size`). Cheap (a report and one frame), so ``train`` runs it before training a
    teacher or a pretraining stage.
    """
    d = cfg.data
    root = Path(d.frames_root)
    if not is_prepared(root):
        return
    check_extraction(cfg)
    found = frame_short_side(root)
    if found is not None:
        check_crop_size(d, found[0], f"the frames' short side, {found[0]} px ({found[1]})")


def _prepare_synthetic(cfg: Config) -> None:
    d = cfg.data
    frames = Path(d.frames_root)
    if d.dataset != "synthetic" or not d.auto_prepare:
        raise FileNotFoundError(
            f"data.frames_root {frames} holds no extracted frames; run `python -m dualaction_lib prepare` "
            f"for {d.dataset} first"
        )
    from dualaction_lib.data.extract import ExtractSettings, prepare

    if d.frame_size:  # a bad crop or key fails before any work starts
        where = f"data.frame_size {list(d.frame_size)}, the size frames are extracted at"
        check_crop_size(d, min(d.frame_size), where)
    elif d.short_side > 0:
        where = f"data.short_side, {d.short_side} px, the size frames are extracted at"
        check_crop_size(d, d.short_side, where)
    spec = synthetic_spec(d.synthetic)
    settings = ExtractSettings(
        fps=d.fps,
        short_side=d.short_side,
        frame_size=tuple(d.frame_size) if d.frame_size else None,
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


def check_extraction(cfg: Config) -> None:
    """The frames root's prepare report must record ``data.flow_rounding`` and ``data.frame_size``.

    A teacher reads stored flow as it was trained on it: MARS's released flow checkpoints saw truncated
    levels (zero flow = 127), a teacher trained here on rounded ones saw 127.5. A preset that names a frame
    size (the paper's 256 × 256) gets frames of that size, not another resize of the videos. A root without
    a report (folders extracted elsewhere) or whose report predates a key records nothing and is taken as
    it is.
    """
    from dualaction_lib.data.prepared import read_reports, recorded_settings

    d = cfg.data
    wanted_size = list(d.frame_size) if d.frame_size else None
    for report in read_reports(Path(d.frames_root)):
        recorded = recorded_settings(report)
        found = recorded.get("rounding")
        if found is not None and found != d.flow_rounding:
            raise ConfigError(
                f"data.flow_rounding: {d.flow_rounding!r}, but the flow of {d.frames_root} was extracted "
                f"with rounding {found!r} ({report['report_path']}); re-extract it with `python -m "
                f"dualaction_lib prepare --data.flow_rounding {d.flow_rounding}` into another --out, or set "
                f"data.flow_rounding to {found!r}"
            )
        size = recorded.get("frame_size", wanted_size)  # reports before the key: not checked
        if size is not None:
            size = [int(v) for v in size]
        if size != wanted_size:
            fix = "prepare (no --data.frame_size)"
            if wanted_size:
                fix = f"prepare --data.frame_size {wanted_size[0]}x{wanted_size[1]}"
            raise ConfigError(
                f"data.frame_size: {wanted_size}, but the frames of {d.frames_root} were extracted at "
                f"frame_size {size} ({report['report_path']}); re-extract them with `python -m "
                f"dualaction_lib {fix}` into another --out, or set data.frame_size to {size}"
            )


def check_crop_size(d: DataConfig, side: int, where: str) -> None:
    """``data.crop_size`` must fit in the frames' short side unless ``data.allow_upscale`` is set."""
    if not d.allow_upscale and d.crop_size > side:
        raise ConfigError(
            f"data.crop_size: {d.crop_size} is larger than {where}; expected an integer in [1, {side}] "
            f"(lower --data.crop_size, or upscale on purpose with --data.allow_upscale true)"
        )


def frame_short_side(frames_root: Path) -> tuple[int, Path] | None:
    """(short side, file) of the first stored frame of the root (prepare resizes every video alike)."""
    import cv2

    from dualaction_lib.data.layouts import first_frame_folder

    try:
        first = min(first_frame_folder(frames_root).glob("*.jpg"))
    except FileNotFoundError:
        return None  # no frames at all: the data check names the folders
    image = cv2.imread(str(first), cv2.IMREAD_UNCHANGED)
    return (min(image.shape[:2]), first) if image is not None else None  # damaged: the check names it


def read_index(d: DataConfig) -> tuple[dict[str, list], list[str]]:
    """The videos the split files list, per split ("train", "test"), and the class names."""
    from dualaction_lib.data.layouts import load_index

    entries, classes = load_index(index_format(d), Path(d.frames_root) / "splits", d.split)
    return {name: [e for e in entries if e.split == name] for name in ("train", "test")}, list(classes)


def open_data(
    d: DataConfig, modality: str, *, test: EvalConfig, distill: bool = False, warn: bool = True
) -> RunData:
    """The datasets of a run whose test modality is ``modality``; ``distill`` trains on ``rgb+flow``.

    Refuses (one line) unusable videos under ``data.missing: error``, a split with no usable video and an
    empty validation split; otherwise warns once about left-out videos. The frames must have passed
    :func:`check_prepared` (:func:`ensure_prepared` runs it).
    """
    from dualaction_lib.data import check
    from dualaction_lib.data.datasets import ClipOptions, VideoDataset

    root = Path(d.frames_root)
    where = f"split {d.split} of {root / 'splits'}"
    splits, classes = read_index(d)
    train_modality = "rgb+flow" if distill else modality
    wanted = [(e.video_id, train_modality) for e in splits["train"]]
    wanted += [(e.video_id, modality) for e in splits["test"]]
    result = check.check_videos(root, wanted, d.check, bound=d.flow_bound)
    if d.missing == "error":
        check.refuse_left_out(result.left_out, len(wanted), root)
    elif warn:
        check.warn_left_out(result.left_out, len(wanted), root, stacklevel=2)
    bad = {item.video_id: item.to_dict() for item in result.left_out}
    left_out = {name: [bad[e.video_id] for e in es if e.video_id in bad] for name, es in splits.items()}
    usable = {name: result.records(es) for name, es in splits.items()}
    for name, kept in usable.items():
        if not kept:
            raise UserError(
                f"none of the {len(splits[name])} {name} videos of {where} is usable (all left out); "
                f"run `python -m dualaction_lib check {root}`"
            )
    train, val = validation_split(usable["train"], d.val_fraction)
    if d.val_fraction > 0 and not val:
        raise ConfigError(
            f"data.val_fraction: {d.val_fraction} holds out no training video of {where}; raise it or set "
            f"it to 0"
        )
    options = ClipOptions(
        clip_len=d.clip_len,
        crop_size=d.crop_size,
        protocol=test.protocol,
        num_clips=test.num_clips,
        crops=test.crops,
        norm=d.norm,
        scales=tuple(d.scales),
        flip=d.flip,
        resize=d.resize,
        cache=d.cache,
    )
    return RunData(
        classes=classes,
        listed={name: len(es) for name, es in splits.items()},
        left_out=left_out,
        train=VideoDataset(train, train_modality, "train", options),
        test=VideoDataset(usable["test"], modality, "test", options),
        val=VideoDataset(val, modality, "test", options) if val else None,
        train_scores=VideoDataset(train, modality, "test", options) if test.train_scores else None,
        where=where,
        frames_root=root,
    )


def train_loader(data: RunData, cfg: Config, rt: Any) -> DataLoader:
    """Shuffled training batches of ``optim.batch_size`` clips over all processes, reshuffled per epoch.

    BatchNorm cannot train on a batch of one clip, so none is ever formed: the incomplete last batch is
    dropped (as timm's and torchvision's reference scripts do) unless the whole split fits in one batch,
    and a split or batch size that would leave a process one clip is refused in one line.
    """
    clips, world = len(data.train), rt.world_size
    per_rank = max(1, cfg.optim.batch_size // world)
    if per_rank < 2:
        raise ConfigError(
            f"optim.batch_size: {cfg.optim.batch_size} gives {per_rank} clip per batch and process "
            f"({world} process(es)); BatchNorm needs at least 2: expected at least {2 * world}"
        )
    if math.ceil(clips / world) < 2:
        held = f", {len(data.val)} held out for validation" if data.val is not None else ""
        per = f" per process ({world} processes)" if world > 1 else ""
        raise UserError(
            f"the training split of {data.where} has {clips} usable video(s) to train on "
            f"({len(data.left_out['train'])} of {data.listed['train']} listed left out{held}): too few for a "
            f"batch of two{per}, and BatchNorm cannot train on one clip; add training videos or repair the "
            f"left-out ones (`python -m dualaction_lib check {data.frames_root}`)"
        )
    # Every rank draws its own shard; one replica (rank 0 of 1) outside torchrun. Reshuffled per epoch.
    sampler = DistributedSampler(
        data.train, num_replicas=world, rank=rt.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    return DataLoader(
        data.train,
        batch_size=per_rank,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        pin_memory=rt.device.type == "cuda",
        drop_last=clips > per_rank * world,
        # Not persistent: workers are seeded when an iterator starts, from the RNG the loop reseeds every
        # epoch, so epoch k draws the same crops whether the run started at epoch 0 or resumed at k.
        persistent_workers=False,
    )


def open_run_data(cfg: Config, warn: bool = True) -> RunData:
    """:func:`open_data` for a run's config."""
    return open_data(cfg.data, cfg.input_modality, test=cfg.eval, distill=cfg.is_distill, warn=warn)


def item_loader(dataset: Dataset, cfg: Config) -> Any:
    """Unbatched iteration over a test-mode dataset (videos have different clip counts)."""
    if cfg.data.num_workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=cfg.data.num_workers)


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

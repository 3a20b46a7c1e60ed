"""Video -> JPEG frames + TV-L1 flow JPEGs, parallel over videos, sharded, resumable (docs/architecture.md).

Output of one video ``<out>/<video_id>/``: N frames (``00001.jpg`` ... MARS, or ``img_00000.jpg`` ...
mmaction2) and N-1 flows (``TVL1jpg_{x,y}_00001.jpg`` / ``flow_{x,y}_00000.jpg``); flow i is the flow
from frame i to frame i+1. Flow is clipped to +-bound and mapped to [0, 255] by
``dualaction_lib.flow.quantize.quantize_flow``; the default rounding is "round" (unbiased, error at most
half a level = 0.078 px for bound 20); "truncate" reproduces MARS's files. A ``.done.json`` marker,
written last, makes a video finished: a rerun skips it, and a folder without it is wiped and redone.
Every setting that changes the files is recorded (``data.prepared``): a rerun with other ones is refused.

Bad input never stops a run: unreadable or corrupt videos, videos with fewer than 2 frames and
videos listed in a split but missing on disk are skipped, counted and listed in the report. A video
whose stream ends before its declared length keeps its clean frames and is listed as ``partial``.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import cv2
import numpy as np

from dualaction_lib.choices import FlowBackend, PrepareDataset, Rounding
from dualaction_lib.io import atomic_write_bytes, atomic_write_json
from dualaction_lib.threads import children_share_cores

from . import layouts, prepared
from .decode import DecodedVideo, VideoReadError
from .prepared import DONE_MARKER, read_marker  # read_marker: re-exported for callers of extract

if TYPE_CHECKING:
    from .synthetic import SyntheticSpec


@dataclass(frozen=True)
class ExtractSettings:
    """How videos become frames and flow; a finished video records the settings it was made with."""

    fps: float | None = 25.0  # None or <= 0: keep every source frame
    short_side: int | None = 256  # None or <= 0: keep the source size
    frame_size: tuple[int, int] | None = None  # (height, width): exactly this size (paper: 256 × 256)
    flow_backend: FlowBackend = "opencv"
    device: str | None = None  # torch device of the torch backend, e.g. "cuda:0"
    bound: float = 20.0  # flow is clipped to ±bound pixels before 8-bit quantization
    rounding: Rounding = "round"  # round (unbiased) or truncate (MARS's uint8 cast)
    naming: str = "mars"  # frame/flow file names: mars or mmaction2 (see data.layouts)
    jpeg_quality: int = 95
    flow_batch: int = 16  # consecutive pairs per tvl1 call (the torch backend batches them)
    flow_params: dict = field(default_factory=dict)  # TV-L1 parameter overrides, e.g. {"nscales": 2}

    def __post_init__(self) -> None:
        for key, kind in (("flow_backend", FlowBackend), ("rounding", Rounding)):
            if getattr(self, key) not in get_args(kind):
                raise ValueError(f"{key} must be one of {list(get_args(kind))}, got {getattr(self, key)!r}")
        object.__setattr__(self, "naming", layouts.get_naming(self.naming).name)  # denseflow → mmaction2
        object.__setattr__(self, "bound", float(self.bound))
        size = tuple(int(v) for v in self.frame_size) if self.frame_size is not None else None
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"frame_size must be (height, width) >= 1, got {self.frame_size!r}")
        object.__setattr__(self, "frame_size", size)
        object.__setattr__(self, "flow_params", dict(self.flow_params))


@dataclass(frozen=True)
class VideoJob:
    video_id: str
    path: Path


@dataclass
class PrepareReport:
    dataset: str
    root: str
    out: str
    shard: tuple[int, int]
    total: int = 0  # videos in this shard (listed ones, missing included)
    extracted: int = 0
    already_done: int = 0
    frames: int = 0
    flows: int = 0
    seconds: float = 0.0
    skipped: list[dict] = field(default_factory=list)  # {video_id, path, reason, kind}
    # {video_id, path, frames_decoded, frames_declared, frames}: the stream ended early (data.decode)
    partial: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)  # the settings that change the files
    report_path: str = ""

    @property
    def videos_per_s(self) -> float:
        return self.extracted / self.seconds if self.seconds else 0.0

    @property
    def pairs_per_s(self) -> float:
        return self.flows / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> list[dict]:
        """Skips caused by unexpected exceptions (as opposed to bad input)."""
        return [s for s in self.skipped if s["kind"] == "error"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(videos_per_s=self.videos_per_s, pairs_per_s=self.pairs_per_s)
        data["num_skipped"] = len(self.skipped)
        data["num_partial"] = len(self.partial)
        return data


# --------------------------------------------------------------------------- one video


def _write_jpeg(path: Path, image: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError(f"JPEG encoding failed for {path}")
    path.write_bytes(buf.tobytes())


def _write_flows(folder: Path, gray: list[np.ndarray], first: int, s: ExtractSettings) -> int:
    """TV-L1 over the consecutive pairs of ``gray`` (one batch), written from flow index ``first``."""
    from dualaction_lib.flow import tvl1
    from dualaction_lib.flow.quantize import quantize_flow

    stack = np.stack(gray)  # (P+1, H, W) uint8
    flow = tvl1(stack[:-1], stack[1:], backend=s.flow_backend, device=s.device, **s.flow_params)
    q = quantize_flow(flow, bound=s.bound, rounding=s.rounding)  # (P, H, W, 2) uint8
    naming = layouts.get_naming(s.naming)
    for i in range(q.shape[0]):
        for axis in (0, 1):
            _write_jpeg(folder / naming.flow(first + i, axis), q[i, ..., axis], s.jpeg_quality)
    return q.shape[0]


def extract_video(job: VideoJob, out: Path, s: ExtractSettings) -> dict:
    """Write frames, flows and the done marker of one video; returns the marker."""
    folder = out / job.video_id
    if folder.exists():
        shutil.rmtree(folder)  # no marker: half-written by an interrupted run
    folder.mkdir(parents=True)
    naming = layouts.get_naming(s.naming)
    n_frames = n_flows = 0
    size = None
    gray: list[np.ndarray] = []  # frames of the pending flow batch (+ the overlap frame)
    video = DecodedVideo(job.path, s.fps, s.short_side, s.frame_size)
    for frame in video:
        _write_jpeg(folder / naming.rgb(n_frames), frame, s.jpeg_quality)
        size = frame.shape[:2]
        n_frames += 1
        gray.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
        if len(gray) == s.flow_batch + 1:
            n_flows += _write_flows(folder, gray, n_flows, s)
            gray = gray[-1:]  # the next batch starts at the last frame: no pair is dropped
    if n_frames < 2:
        declared = f" of {video.declared_frames} declared" if video.partial else ""
        raise VideoReadError(
            f"{job.path}: {n_frames} decodable frame(s){declared}; at least 2 are needed for flow"
        )
    if len(gray) > 1:
        n_flows += _write_flows(folder, gray, n_flows, s)
    if n_flows != n_frames - 1:  # cannot happen unless a flow backend drops pairs
        raise RuntimeError(f"{job.path}: {n_frames} frames but {n_flows} flows written")
    marker = prepared.fingerprint(s)
    marker.update(frames=n_frames, flows=n_flows, start=naming.start, size=list(size), source=str(job.path))
    marker.update(frames_decoded=video.source_frames, frames_declared=video.declared_frames)
    marker["partial"] = video.partial
    atomic_write_json(folder / DONE_MARKER, marker)
    return marker


def _partial_entry(video_id: str, marker: dict) -> dict:
    keys = ("source", "frames_decoded", "frames_declared", "frames")
    entry = {"video_id": video_id, **{k: marker.get(k) for k in keys}}
    entry["path"] = entry.pop("source")
    return entry


def _run_job(job: VideoJob, out: Path, s: ExtractSettings, threads: int | None) -> dict:
    """Worker entry point: never raises, so one bad video cannot stop the pool."""
    if threads is not None:
        cv2.setNumThreads(threads)
        if s.flow_backend == "torch":
            import torch  # imported here: OpenCV-only workers never pay for torch

            # One thread per worker: with OpenMP's spinning barriers, oversubscribed torch runs 4x slower.
            torch.set_num_threads(threads)
    result = {"video_id": job.video_id, "path": str(job.path)}
    try:
        return {**result, "status": "done", "marker": extract_video(job, out, s)}
    except VideoReadError as err:
        failure = {"kind": "bad_input", "reason": str(err)}
    except Exception as err:  # recorded in the report and turned into a non-zero exit by the CLI
        failure = {"kind": "error", "reason": f"{type(err).__name__}: {err}"}
    shutil.rmtree(out / job.video_id, ignore_errors=True)  # no half-written folder stays behind
    failure["reason"] = " ".join(failure["reason"].split())  # one line: it ends up in one-line messages
    return {**result, "status": "skipped", **failure}


# --------------------------------------------------------------------------- inputs


def find_splits_dir(root: Path, splits: Path | None = None) -> Path:
    if splits is not None:
        return Path(splits)
    names = ("splits", "ucfTrainTestlist", "testTrainMulti_7030_splits")
    candidates = [base / name for base in (root, root.parent) for name in names]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no split folder found (tried {', '.join(map(str, candidates))}); pass --splits")


def _video_file(videos_dir: Path, video_id: str) -> Path | None:
    for ext in layouts.VIDEO_EXTENSIONS:
        path = videos_dir / f"{video_id}{ext}"
        if path.is_file():
            return path
    return None


# Where the class folders may stand below --root: the synthetic benchmark's folder, then the top folders the
# UCF-101 and HMDB-51 archives unpack to, then --root itself.
VIDEO_FOLDERS = ("videos", "UCF-101", "UCF101", "hmdb51_org", "hmdb51")


def find_videos_dir(root: Path, video_ids: list[str]) -> Path:
    """The folder below which most of a sample of the listed videos exist (one line naming root if none)."""
    candidates = [root / name for name in VIDEO_FOLDERS if (root / name).is_dir()] + [root]
    if len(candidates) == 1:
        return root
    sample = video_ids[:: max(1, len(video_ids) // 200)]  # spread over the classes; stat calls stay few
    hits = [sum(_video_file(c, v) is not None for v in sample) for c in candidates]
    return candidates[hits.index(max(hits))]


def collect_jobs(dataset: str, root: Path, splits_dir: Path | None) -> tuple[list[VideoJob], list[dict]]:
    """Every video of every available split (sorted by id), plus the listed-but-missing ones.

    Refuses (one line) when not one listed video exists: the root is then the wrong folder, and extracting
    nothing while reporting every video as skipped would only fail later, in train.
    """
    if dataset == "folder":
        videos_dir = root / "videos" if (root / "videos").is_dir() else root
        files = sorted(p for p in videos_dir.rglob("*") if p.suffix.lower() in layouts.VIDEO_EXTENSIONS)
        return [VideoJob(p.relative_to(videos_dir).with_suffix("").as_posix(), p) for p in files], []
    ids: set[str] = set()
    for k in layouts.available_splits(splits_dir, dataset):
        entries, _ = layouts.load_index(dataset, splits_dir, k)
        ids.update(e.video_id for e in entries)
    if not ids:
        raise FileNotFoundError(f"{splits_dir}: no complete split (train + test lists) found")
    videos_dir = find_videos_dir(root, sorted(ids))
    jobs, missing = [], []
    for video_id in sorted(ids):
        path = _video_file(videos_dir, video_id)
        if path is None:
            reason = f"listed in the splits but no video file {videos_dir / video_id}.*"
            missing.append({"video_id": video_id, "path": "", "reason": reason, "kind": "bad_input"})
        else:
            jobs.append(VideoJob(video_id, path))
    if not jobs:
        example = sorted(ids)[0]
        raise FileNotFoundError(
            f"{root}: none of the {len(ids)} videos listed in {splits_dir} is there (e.g. no {example}.avi); "
            f"--root is the folder holding the class folders, or their parent with {VIDEO_FOLDERS[1]}/"
        )
    return jobs, missing


def shard_items(items: list, shard: tuple[int, int]) -> list:
    """Round-robin shard ``i`` of ``n`` of an id-sorted list: shards are disjoint and cover everything."""
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    return items[index::count]


def copy_splits(dataset: str, splits_dir: Path, out: Path) -> list[str]:
    copied = []
    for path in layouts.split_files(splits_dir, dataset):
        atomic_write_bytes(out / "splits" / path.name, path.read_bytes())
        copied.append(path.name)
    return copied


# --------------------------------------------------------------------------- driver


def _pool(workers: int):
    # spawn: forking a process that holds OpenCV / torch threads can deadlock.
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def _run_all(jobs: list[VideoJob], out: Path, s: ExtractSettings, workers: int, progress: bool):
    from tqdm.auto import tqdm

    # Split the cores between worker processes (one process alone keeps OpenCV's own default).
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    bar = tqdm(total=len(jobs), desc="prepare", unit="video", disable=not progress, mininterval=1.0)
    try:
        if workers <= 1:
            for job in jobs:
                yield _run_job(job, out, s, threads)
                bar.update()
            return
        with children_share_cores(), _pool(workers) as pool:
            futures = [pool.submit(_run_job, job, out, s, threads) for job in jobs]
            for future in as_completed(futures):
                yield future.result()
                bar.update()
    finally:
        bar.close()


def report_path(out: Path, shard: tuple[int, int]) -> Path:
    suffix = "" if shard[1] == 1 else f"_shard{shard[0]}of{shard[1]}"
    return out / f"prepare_report{suffix}.json"


def prepare(
    dataset: str,
    root: str | os.PathLike,
    out: str | os.PathLike,
    settings: ExtractSettings | None = None,
    *,
    workers: int = 2,
    shard: tuple[int, int] = (0, 1),
    splits: str | os.PathLike | None = None,
    spec: SyntheticSpec | None = None,
    progress: bool = True,
) -> PrepareReport:
    """Extract frames + flow of ``dataset`` ("synthetic", "ucf101", "hmdb51", "folder") into ``out``.

    ``settings`` (default: ``ExtractSettings()``, the paper's 25 fps, short side 256, ±20 px) say how.
    For "synthetic", ``root`` is generated from ``spec`` (a SyntheticSpec, default spec) when it holds no
    set yet. ``shard=(i, n)`` processes every n-th video from the i-th (sorted by id). With ``workers > 1``
    the pool uses spawned processes: call it under ``if __name__ == "__main__":`` in scripts (the CLI and
    notebooks need nothing). Returns the report, also written (last) to
    ``<out>/prepare_report[_shard<i>of<n>].json``.
    """
    if dataset not in get_args(PrepareDataset):
        raise ValueError(f"dataset must be one of {get_args(PrepareDataset)}, got {dataset!r}")
    s = settings or ExtractSettings()
    root, out = Path(root), Path(out)
    if dataset == "synthetic":
        from .synthetic import make_synthetic

        make_synthetic(root, spec, progress=progress)
    elif not root.is_dir():
        raise FileNotFoundError(f"--root {root} does not exist")
    splits_dir = None if dataset == "folder" else find_splits_dir(root, splits)
    jobs, missing = collect_jobs(dataset, root, splits_dir)
    jobs, missing = shard_items(jobs, shard), shard_items(missing, shard)
    report = PrepareReport(dataset, str(root), str(out), tuple(shard), total=len(jobs) + len(missing))
    report.settings, report.fingerprint = asdict(s), prepared.fingerprint(s)
    for previous in prepared.read_reports(out):  # refused before any file is touched
        prepared.check_same_settings(
            prepared.recorded_settings(previous), report.fingerprint, Path(previous["report_path"]), out
        )
    report.skipped.extend(missing)
    out.mkdir(parents=True, exist_ok=True)
    if splits_dir is not None:
        copy_splits(dataset, splits_dir, out)
    todo = []
    for job in jobs:
        marker = read_marker(out / job.video_id)
        if marker is None:
            todo.append(job)
        else:
            prepared.check_same_settings(marker, report.fingerprint, out / job.video_id, out)
            report.already_done += 1
            if marker.get("partial"):
                report.partial.append(_partial_entry(job.video_id, marker))
    start = time.perf_counter()
    for result in _run_all(todo, out, s, workers, progress):
        if result["status"] == "done":
            marker = result["marker"]
            report.extracted += 1
            report.frames += marker["frames"]
            report.flows += marker["flows"]
            if marker["partial"]:
                report.partial.append(_partial_entry(result["video_id"], marker))
        else:
            report.skipped.append({k: result[k] for k in ("video_id", "path", "reason", "kind")})
    report.seconds = time.perf_counter() - start
    report.skipped.sort(key=lambda item: item["video_id"])
    report.partial.sort(key=lambda item: item["video_id"])
    path = report_path(out, shard)
    report.report_path = str(path)
    atomic_write_json(path, report.to_dict())
    return report

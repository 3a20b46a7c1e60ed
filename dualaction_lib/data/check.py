"""The data check: which listed videos are usable, and what is wrong with the others (file by file).

``python -m dualaction_lib check FRAMES_ROOT`` prints it; ``train`` and ``evaluate`` run it before any
work, so a damaged file is found in seconds, not after the epochs. Levels:

- ``fast`` (default): every file a run reads exists, is not empty and starts and ends with the JPEG
  markers (the first and last bytes only: a truncated JPEG has no end-of-image marker);
- ``full``: also decodes every JPEG;
- ``off``: only folders (prepare's skips, missing folders, unfinished extractions).

A video that is not usable is *left out* with a kind: ``skipped`` (prepare skipped it; its report says
why), ``missing`` (no folder), ``unfinished`` (prepare's folder without a done marker) or ``damaged``.
The check is the only judge of usability: datasets read the :class:`VideoRecord` of the usable videos
(:func:`usable_videos`, or :meth:`CheckResult.records`) and never scan a folder themselves.
"""

from __future__ import annotations

import os
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import cv2
import numpy as np

from dualaction_lib.choices import CheckLevel

from . import folders, layouts, prepared

LEVELS: tuple[str, ...] = get_args(CheckLevel)
KIND_TEXT = {
    "skipped": "skipped by prepare",
    "missing": "without a frame folder",
    "unfinished": "with an unfinished extraction",
    "damaged": "with damaged or missing files",
}
_TAIL = 64  # bytes read from the end of a JPEG: its end-of-image marker, maybe followed by zero padding


class DataWarning(UserWarning):
    """Listed videos were left out (skipped by prepare, missing or damaged); the message counts them."""


class DataCheckError(ValueError):
    """Listed videos are unusable and the run asked for strictness (``data.missing: error``)."""


@dataclass
class LeftOut:
    video_id: str
    kind: str  # skipped | missing | unfinished | damaged
    problems: list[str]  # one line each: "<path>: <what is wrong>"

    @property
    def reason(self) -> str:
        more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{self.problems[0]}{more}"

    def to_dict(self) -> dict:
        return {"video_id": self.video_id, "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True)
class VideoRecord:
    """A usable video: what a dataset needs to read its clips."""

    video_id: str
    label: int
    folder: Path
    num_frames: int
    num_flows: int
    naming: layouts.FrameNaming  # this folder's naming and first index


@dataclass
class CheckResult:
    frames_root: Path
    videos: int = 0  # listed videos checked
    files: int = 0  # files verified
    seconds: float = 0.0
    left_out: list[LeftOut] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)  # usable, but the stream ended early (see report)
    usable: dict[str, folders.VideoFolder] = field(default_factory=dict)  # video id -> its folder

    def records(self, entries: Iterable) -> list[VideoRecord]:
        """The usable videos among ``entries`` (anything with ``video_id`` and ``label``), in order."""
        return [
            VideoRecord(e.video_id, e.label, v.path, v.frames, v.flows, v.naming)
            for e in entries
            if (v := self.usable.get(e.video_id)) is not None
        ]

    @property
    def problems(self) -> list[LeftOut]:
        """Left-out videos prepare did not already report (the check's findings)."""
        return [item for item in self.left_out if item.kind != "skipped"]

    def left_out_ids(self) -> set[str]:
        return {item.video_id for item in self.left_out}

    def summary(self) -> str:
        lines = sum(len(item.problems) for item in self.problems)
        return (
            f"check: {self.videos} videos, {self.files} files in {self.seconds:.1f} s: {lines} problem(s) in "
            f"{len(self.problems)} video(s); {len(self.left_out) - len(self.problems)} skipped by prepare, "
            f"{len(self.partial)} partial ({prepared.report_hint(self.frames_root)})"
        )


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def verify_jpeg(path: Path, level: str = "fast") -> str | None:
    """What is wrong with one JPEG file, or None. ``fast`` reads its first and last bytes only."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - _TAIL))
            tail = handle.read()
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    if size == 0:
        return "empty file (0 bytes)"
    if head != b"\xff\xd8":
        return "not a JPEG (no start-of-image marker)"
    if not tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return "truncated JPEG (no end-of-image marker)"
    if level == "full":
        image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            return "cannot decode JPEG"
    return None


def _needs(modality: str | None, video: folders.VideoFolder) -> tuple[bool, bool]:
    """(frames needed, flows needed); modality None checks whatever the folder declares."""
    if modality is None:
        return True, video.flows > 0
    return "rgb" in modality, "flow" in modality


def check_folder(
    video_id: str, folder: Path, modality: str | None, level: str, from_prepare: bool
) -> tuple[LeftOut | None, folders.VideoFolder | None, int]:
    """(its problems or None when usable, the scanned folder, files verified) for one existing folder."""
    try:
        video = folders.scan_video(folder)
    except (OSError, ValueError) as err:  # no frames, mixed namings or bases, a gap in the indices
        return LeftOut(video_id, "damaged", [one_line(err)]), None, 0
    if video.marker is None and from_prepare:
        hint = f"no {prepared.DONE_MARKER}: its extraction did not finish (rerun prepare)"
        return LeftOut(video_id, "unfinished", [f"{folder}: {hint}"]), video, 0
    rgb, flow = _needs(modality, video)
    problems = []
    if flow and video.frames < 2:
        problems.append(f"{folder}: {video.frames} frame(s); at least 2 are needed to have a flow")
    elif flow and video.flows != video.frames - 1:
        problems.append(f"{folder}: {video.frames} frames but {video.flows} flows; N frames need N-1 flows")
    if rgb and video.frames < 1:
        problems.append(f"{folder}: no frame files")
    wanted = (video.frame_names() if rgb else []) + (video.flow_names() if flow else [])
    if level != "off" and not problems:
        names = set(os.listdir(folder))
        if video.marker is not None:
            problems += _beyond_marker(folder, names, video)
        for name in wanted:
            issue = "missing" if name not in names else verify_jpeg(folder / name, level)
            if issue:
                listed = " (its done marker counts it)" if issue == "missing" and video.marker else ""
                problems.append(f"{folder / name}: {issue}{listed}")
    verified = 0 if level == "off" else len(wanted)
    return (LeftOut(video_id, "damaged", problems) if problems else None), video, verified


def _beyond_marker(folder: Path, names: set[str], video: folders.VideoFolder) -> list[str]:
    """Files numbered past what the done marker declares: the folder was changed after prepare."""
    naming, out = video.naming, []
    declared = {"frame": (naming.rgb_pattern, video.frames)}
    declared.update({f"flow-{a}": (naming.flow_pattern(i), video.flows) for i, a in enumerate("xy")})
    for kind, (pattern, count) in declared.items():
        extra = [i for i in folders.indices(names, pattern) if i >= naming.start + count]
        if extra:
            out.append(
                f"{folder}: {len(extra)} {kind} file(s) beyond the {count} its done marker declares (first "
                f"{extra[0]:05d}); the folder is inconsistent with its {prepared.DONE_MARKER}"
            )
    return out


def check_videos(
    frames_root, videos: Iterable[tuple[str, str | None]], level: str = "fast", bound: float | None = None
) -> CheckResult:
    """Check ``(video_id, modality)`` pairs of ``frames_root`` (modality None: what each folder declares).

    ``bound``: the flow bound the caller reads with; a folder whose done marker records another one is
    refused for the whole run (every folder of a prepare shares it), naming the folder and both values.
    """
    if level not in LEVELS:
        raise ValueError(f"check level must be one of {LEVELS}, got {level!r}")
    root = Path(frames_root)
    if not root.is_dir():
        raise FileNotFoundError(f"frames root {root} does not exist; run `python -m dualaction_lib prepare`")
    start = time.perf_counter()
    skipped = prepared.skipped_by_prepare(root)
    from_prepare = prepared.is_prepare_output(root)
    wanted: dict[str, set] = {}
    for video_id, modality in videos:  # a video listed twice is checked once, for every modality asked
        wanted.setdefault(video_id, set()).add(modality)
    result = CheckResult(root, videos=len(wanted))
    for video_id, modalities in wanted.items():
        folder = root / video_id
        if not folder.is_dir():
            if video_id in skipped:
                reason = f"{video_id}: skipped by prepare: {one_line(skipped[video_id])}"
                item = LeftOut(video_id, "skipped", [reason])
            else:
                item = LeftOut(video_id, "missing", [f"{folder}: missing frame folder"])
            result.left_out.append(item)
            continue
        modality = _union(modalities)
        problem, video, verified = check_folder(video_id, folder, modality, level, from_prepare)
        result.files += verified
        if problem is not None:
            result.left_out.append(problem)
            continue
        if bound is not None and "flow" in (modality or "flow"):
            _check_bound(video, bound)
        result.usable[video_id] = video
        if video.marker and video.marker.get("partial"):
            result.partial.append(video_id)
    result.seconds = time.perf_counter() - start
    return result


def usable_videos(
    frames_root, entries: list, modality: str, level: str = "fast", bound: float | None = None
) -> tuple[list[VideoRecord], CheckResult]:
    """(records of the usable ``entries``, the check's result) for one modality, e.g. a dataset's."""
    result = check_videos(frames_root, [(e.video_id, modality) for e in entries], level, bound)
    return result.records(entries), result


def _check_bound(video: folders.VideoFolder, bound: float) -> None:
    if video.marker is not None and float(video.marker["bound"]) != float(bound):
        found = video.marker["bound"]
        raise ValueError(
            f"{video.path} was extracted with flow bound {found}, the data set is read with {bound}; "
            f"set data.flow_bound to {found} or re-extract with prepare --data.flow_bound {bound}"
        )


def _union(modalities: set) -> str | None:
    if None in modalities:
        return None
    rgb = any("rgb" in m for m in modalities)
    flow = any("flow" in m for m in modalities)
    return "rgb+flow" if rgb and flow else "flow" if flow else "rgb"


def listed_videos(frames_root: Path, split: int | None = None) -> list[str]:
    """Video ids to check: those of the split files in ``<root>/splits``, else every frame folder."""
    root = Path(frames_root)
    splits_dir = root / "splits"
    if splits_dir.is_dir():
        dataset = layouts.detect_split_format(splits_dir)
        numbers = [split] if split else layouts.available_splits(splits_dir, dataset)
        ids = {e.video_id for k in numbers for e in layouts.load_index(dataset, splits_dir, k)[0]}
        return sorted(ids)
    found = {p.parent.relative_to(root).as_posix() for p in root.rglob("*.jpg")}
    return sorted(found)


def left_out_message(left_out: list[LeftOut], listed: int, frames_root: Path) -> str:
    """One line: how many listed videos are left out, of which kinds, and where the details are."""
    kinds = Counter(item.kind for item in left_out)
    parts = ", ".join(f"{n} {KIND_TEXT[kind]}" for kind, n in sorted(kinds.items()))
    hint = prepared.report_hint(frames_root)
    if kinds.keys() - {"skipped"} and "check" not in hint:
        hint += f"; `python -m dualaction_lib check {frames_root}` names every file"
    return f"{len(left_out)} of {listed} listed videos left out ({parts}); {hint}"


def warn_left_out(left_out: list[LeftOut], listed: int, frames_root: Path, stacklevel: int = 3) -> None:
    if left_out:
        warnings.warn(left_out_message(left_out, listed, frames_root), DataWarning, stacklevel=stacklevel)


def refuse_left_out(left_out: list[LeftOut], listed: int, frames_root: Path, shown: int = 3) -> None:
    """``data.missing: error``: one line naming the first unusable videos and their first problem."""
    if not left_out:
        return
    named = "; ".join(item.reason for item in left_out[:shown])
    more = f"; and {len(left_out) - shown} more" if len(left_out) > shown else ""
    raise DataCheckError(
        f"{len(left_out)} of {listed} listed videos are unusable: {named}{more}; run `python -m "
        f"dualaction_lib check {frames_root}` for every problem, or set data.missing: skip to leave them out"
    )

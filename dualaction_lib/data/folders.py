"""One extracted video folder: its naming and index base, its frame and flow counts.

A folder written by prepare is described by its done marker; any other folder (denseflow, MARS's
scripts, mmaction2's tools) by listing its files. Either way the result says how to name position p
(``naming.rgb(p)``, ``naming.flow(p, axis)``) and how many frames and flows there are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import layouts
from .prepared import read_marker


class FrameReadError(OSError):
    """A frame or flow JPEG that is missing, truncated or undecodable (the message names the file)."""


@dataclass(frozen=True)
class VideoFolder:
    path: Path
    naming: layouts.FrameNaming  # with this folder's own first index (0 or 1 for img_/flow_x_)
    frames: int
    flows: int
    marker: dict | None  # the done marker, None for folders not written by prepare

    def frame_names(self) -> list[str]:
        return [self.naming.rgb(p) for p in range(self.frames)]

    def flow_names(self) -> list[str]:
        return [self.naming.flow(p, axis) for p in range(self.flows) for axis in (0, 1)]


def indices(names, pattern) -> list[int]:
    return sorted(int(m[1]) for m in map(pattern.match, names) if m)


def count_indexed(names, pattern, start: int, folder: Path, kind: str) -> int:
    """Number of ``kind`` files matching ``pattern``; they must be exactly start, start+1, ... (no gaps)."""
    found = indices(names, pattern)
    for expected, index in enumerate(found, start=start):
        if index != expected:
            raise FrameReadError(f"{folder}: {kind} file with index {expected:05d} is missing")
    return len(found)


def scan_video(folder: Path) -> VideoFolder:
    """The naming, base and counts of one video folder, from its done marker or by listing it."""
    folder = Path(folder)
    marker = read_marker(folder)
    if marker is not None:
        found = layouts.get_naming(marker["naming"], marker.get("start"))  # no "start": older markers
        frames, flows = int(marker["frames"]), int(marker["flows"])
    else:
        names = os.listdir(folder)
        found = layouts.naming_of_files(names, folder)
        frames = count_indexed(names, found.rgb_pattern, found.start, folder, "frame")
        flow_x = count_indexed(names, found.flow_pattern(0), found.start, folder, "flow-x")
        flow_y = count_indexed(names, found.flow_pattern(1), found.start, folder, "flow-y")
        if flow_x != flow_y:
            raise ValueError(f"{folder}: {flow_x} flow-x files but {flow_y} flow-y files")
        flows = flow_x
    return VideoFolder(folder, found, frames, flows, marker)

"""What ``prepare`` leaves in a frames root: done markers, reports, and the output fingerprint.

A finished video folder holds ``.done.json`` (its marker: counts, index base, decode counts and the
settings that made it). ``prepare_report[_shard<i>of<n>].json`` lists what each run extracted, what it
skipped and why, and the *fingerprint*: every setting that changes the written files. A rerun into the
same output must have the same fingerprint, or the folder would mix two kinds of files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DONE_MARKER = ".done.json"
REPORT_GLOB = "prepare_report*.json"
# Settings that change the files. flow_batch and device are left out: they change speed, not output.
FINGERPRINT_KEYS = (
    "fps",
    "short_side",
    "frame_size",
    "naming",
    "jpeg_quality",
    "bound",
    "rounding",
    "flow_backend",
    "flow_params",
)


class SettingsMismatchError(ValueError):
    """An output folder was written with other settings than a run asks for (names every difference)."""


def fingerprint(settings: Any) -> dict[str, Any]:
    """The output-changing settings of an ExtractSettings (or its dict), TV-L1 defaults filled in.

    Filling the defaults makes ``flow_params={}`` and ``{"nscales": 5}`` the same fingerprint.
    """
    from dualaction_lib.flow.opencv import normalize_params

    values = settings if isinstance(settings, dict) else {k: getattr(settings, k) for k in FINGERPRINT_KEYS}
    out = {k: values[k] for k in FINGERPRINT_KEYS if k in values}
    if out.get("frame_size") is not None:
        out["frame_size"] = [int(v) for v in out["frame_size"]]  # JSON keeps lists: compare lists
    if "flow_params" in out:
        out["flow_params"] = normalize_params(dict(out["flow_params"]))
    return out


def differences(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """``key=recorded (now wanted)`` for each setting that differs.

    Only keys the record holds are compared: markers written before jpeg_quality and flow_params were
    recorded cannot tell which values made them, and guessing would refuse good data.
    """
    return [
        f"{key}={recorded[key]!r} (this run: {wanted.get(key)!r})"
        for key in FINGERPRINT_KEYS
        if key in recorded and recorded[key] != wanted.get(key)
    ]


def check_same_settings(recorded: dict[str, Any], wanted: dict[str, Any], where: Path, out: Path) -> None:
    """Refuse (one line, every difference named) when ``recorded`` differs from ``wanted``."""
    diff = differences(fingerprint(recorded), wanted)
    if diff:
        raise SettingsMismatchError(
            f"{where} was prepared with other settings: {'; '.join(diff)}; use another --out, or delete "
            f"{out} to re-extract everything"
        )


def read_marker(folder: Path) -> dict | None:
    """A video folder's done marker, or None when the folder is unfinished (or does not exist)."""
    path = Path(folder) / DONE_MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        message = (
            f"{path}: unreadable done marker ({err}); delete it and rerun prepare to re-extract the video"
        )
        raise ValueError(message) from None


def report_paths(frames_root: Path) -> list[Path]:
    return sorted(Path(frames_root).glob(REPORT_GLOB))


def read_reports(frames_root: Path) -> list[dict]:
    """Every prepare report of ``frames_root`` (one per shard), parsed; an unreadable one is an error."""
    reports = []
    for path in report_paths(frames_root):
        try:
            reports.append({**json.loads(path.read_text(encoding="utf-8")), "report_path": str(path)})
        except (OSError, ValueError) as err:
            message = f"{path}: unreadable prepare report ({err}); delete it and rerun prepare to rewrite it"
            raise ValueError(message) from None
    return reports


def is_prepare_output(frames_root: Path) -> bool:
    """True when ``frames_root`` was written by prepare (then a folder without a marker is unfinished)."""
    return bool(report_paths(frames_root))


def skipped_by_prepare(frames_root: Path) -> dict[str, str]:
    """video_id -> the reason prepare gave for skipping it, over every shard's report."""
    return {
        item["video_id"]: item.get("reason", "skipped")
        for report in read_reports(frames_root)
        for item in report.get("skipped", [])
    }


def recorded_settings(report: dict[str, Any]) -> dict[str, Any]:
    """The extraction settings a prepare report records (older reports have ``settings`` only)."""
    return report.get("fingerprint") or report.get("settings") or {}


def root_fingerprint(frames_root: Path) -> dict[str, Any] | None:
    """The settings the reports of ``frames_root`` record (None when it has no report)."""
    for report in read_reports(frames_root):
        recorded = recorded_settings(report)
        if recorded:
            return fingerprint(recorded)
    return None


def report_hint(frames_root: Path) -> str:
    """Where a user reads the details of a left-out video."""
    paths = report_paths(frames_root)
    if paths:
        return f"see {paths[0] if len(paths) == 1 else Path(frames_root) / REPORT_GLOB}"
    return f"run `python -m dualaction_lib check {frames_root}`"

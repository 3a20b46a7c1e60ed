"""Atomic writes leave either the old file or the new one, never a torn one."""

from __future__ import annotations

import pytest

from dualaction_lib.io import append_jsonl, atomic_open, atomic_write_json, read_jsonl


def test_failed_write_keeps_old_content(tmp_path) -> None:
    target = tmp_path / "eval.json"
    atomic_write_json(target, {"video_top1": 0.5})
    with pytest.raises(RuntimeError), atomic_open(target, "w") as handle:
        handle.write('{"video_top1": 0.')
        raise RuntimeError("interrupted")
    assert target.read_text().strip().startswith("{") and '"video_top1": 0.5' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"], "temporary file left behind"


def test_jsonl_ignores_torn_last_line(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1})
    append_jsonl(path, {"step": 2})
    with open(path, "a") as handle:
        handle.write('{"step": 3')  # a crash mid-write
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]


def test_jsonl_rejects_corruption_in_the_middle(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2"):
        read_jsonl(path)


def test_atomic_files_get_default_permissions(tmp_path) -> None:
    import os

    target = tmp_path / "report.json"
    atomic_write_json(target, {})
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask

"""Per-method α tuning on the validation split: the choice on hand-made rows, grid extension at an edge,
the preset's method_overrides block, and bench/tune_alpha.py end to end on the smoke preset."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from dualaction_lib.config import load_config
from dualaction_lib.rundir import RunDir
from dualaction_lib.study.tuning import (
    VAL_KEYS,
    choose,
    extension,
    overrides_yaml,
    preset_mismatches,
    read_choice,
    summarize,
    tune,
    val_row,
)

ROOT = Path(__file__).resolve().parent.parent


def rows(method: str, table: dict[float, list[float]]) -> list[dict]:
    return [
        {"method": method, "alpha": a, "seed": s, "val_top1": v}
        for a, values in table.items()
        for s, v in enumerate(values, start=1)
    ]


def test_each_method_gets_the_alpha_of_its_own_best_validation_mean() -> None:
    points = summarize(rows("mars", {1: [0.5, 0.7], 10: [0.8, 0.6], 50: [0.9, 0.9]}))
    points |= summarize(rows("ds", {1: [0.6, 0.6], 10: [0.7, 0.8], 50: [0.3, 0.3]}))
    # MARS: mean 0.6 ± t(1)·0.1414/√2 = 12.706 · 0.1 at α=1; its best (50) is the grid's top: an edge.
    first = points["mars"][0]
    assert (first["alpha"], first["n"], first["values"]) == (1.0, 2, [0.5, 0.7])
    assert first["mean"] == pytest.approx(0.6) and first["ci"] == pytest.approx(1.2706, abs=1e-4)
    assert choose(points["mars"]) == {
        "alpha": 50.0,
        "mean": pytest.approx(0.9),
        "ci": 0.0,
        "n": 2,
        "edge": "high",
    }
    ds = choose(points["ds"])
    assert (ds["alpha"], ds["mean"], ds["edge"]) == (10.0, pytest.approx(0.75), None)
    # One α by the mean over both methods would be 10 (0.725 vs 0.6 at 50): MARS would lose 15 points.


def test_a_tie_goes_to_the_smaller_alpha_and_the_low_edge_is_reported() -> None:
    points = summarize(rows("ds", {3: [0.7, 0.5], 1: [0.5, 0.7], 10: [0.1, 0.1]}))
    assert [p["alpha"] for p in points["ds"]] == [1.0, 3.0, 10.0]
    assert (choose(points["ds"])["alpha"], choose(points["ds"])["edge"]) == (1.0, "low")
    single = summarize(rows("mars", {3: [0.4]}))["mars"]
    assert single[0]["ci"] is None, "one seed has no interval"
    assert choose(single)["edge"] is None, "a one-point grid has no edge to extend"


def test_an_extension_is_one_factor_of_three_beyond_the_edge() -> None:
    grid = [0.3, 1, 3, 10, 30, 50]
    assert extension(grid, "high") == 150.0
    assert extension(grid, "low") == 0.1
    assert extension([0.1, 1], "low") == 0.033
    with pytest.raises(ValueError, match="edge must be 'low' or 'high', got None"):
        extension(grid, None)


def test_tune_extends_only_the_method_at_an_edge_with_the_same_seeds() -> None:
    peaks = {"mars": 150.0, "ds": 3.0}  # MARS peaks beyond the grid, DS inside it
    calls: list[list[tuple]] = []

    def train_jobs(jobs):
        calls.append(jobs)
        # Validation top-1 falls with the distance (in factors) from the method's peak; seeds add 0.001·s.
        return [
            {
                "method": m,
                "alpha": a,
                "seed": s,
                "val_top1": 0.9 - 0.1 * abs(math.log(a / peaks[m])) + s / 1e3,
            }
            for m, a, s in jobs
        ]

    out = tune(train_jobs, ["mars", "ds"], [0.3, 1, 3, 10, 30, 50], [1, 2, 3], max_extensions=2)
    assert len(calls[0]) == 6 * 2 * 3, "the whole grid first: every method, α and seed"
    assert calls[1:] == [
        [("mars", 150.0, 1), ("mars", 150.0, 2), ("mars", 150.0, 3)],
        [("mars", 450.0, 1), ("mars", 450.0, 2), ("mars", 450.0, 3)],
    ]
    assert out["extensions"] == {"mars": [150.0, 450.0], "ds": []}
    assert out["grid"]["mars"] == [0.3, 1, 3, 10, 30, 50, 150.0, 450.0] and out["grid"]["ds"][-1] == 50
    assert (out["choice"]["mars"]["alpha"], out["choice"]["mars"]["edge_after_extensions"]) == (150.0, None)
    assert (out["choice"]["ds"]["alpha"], out["choice"]["ds"]["edge_after_extensions"]) == (3.0, None)
    assert len(out["rows"]) == 36 + 6

    capped = tune(train_jobs, ["mars"], [1, 3], [1], max_extensions=1)
    assert capped["extensions"] == {"mars": [9.0]}
    assert capped["choice"]["mars"] | {"mean": 0} == {
        "alpha": 9.0,
        "mean": 0,
        "ci": None,
        "n": 1,
        "edge_after_extensions": "high",
    }, "still at the edge after the last allowed extension: recorded"


class ValidationOnly(Mapping):
    """An evaluation result whose test keys fail when read: the tuning must not look at them."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getitem__(self, key: str):
        if key not in VAL_KEYS:
            raise AssertionError(f"the tuning read {key!r}, a test-split key")
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_a_row_reads_the_validation_keys_and_never_the_test_split() -> None:
    result = ValidationOnly(
        {"val_video_top1": 0.625, "num_val_videos": 8, "video_top1": 0.9, "num_videos": 40}
    )
    assert val_row("ds", 3, 2, result, 0.5) == {
        "method": "ds",
        "alpha": 3.0,
        "seed": 2,
        "val_top1": 0.625,
        "num_val_videos": 8,
        "train_acc": 0.5,
    }
    with pytest.raises(
        ValueError, match=r"mars α=50 seed 1: its evaluation has no val_video_top1 \(the preset needs"
    ):
        val_row("mars", 50, 1, ValidationOnly({"video_top1": 0.9}), 0.5)


def test_the_printed_block_gives_each_method_its_alpha_and_the_record_is_read_back(tmp_path: Path) -> None:
    choice = {"mars": 50.0, "ds": 3.0, "ds_mae": 0.3, "ds_gram": 10.0}
    record = tmp_path / "alpha_tuning.json"
    record.write_text(json.dumps({"choice": {m: {"alpha": a, "mean": 0.5} for m, a in choice.items()}}))
    assert read_choice(record) == choice
    block = overrides_yaml(read_choice(record), "python bench/tune_alpha.py → alpha_tuning.json")
    assert (
        block.splitlines()[0]
        == "  # α per method, chosen on the validation split: python bench/tune_alpha.py → alpha_tuning.json"
    )
    preset = tmp_path / "tuned.yaml"
    cpu = (ROOT / "configs" / "cpu.yaml").read_text(encoding="utf-8")
    top_level = [line for line in cpu.splitlines() if line and line[0] not in " #"]
    assert top_level[-1] == "method_overrides:", "the block is pasted at the end of cpu.yaml"
    cpu = cpu[: cpu.index("  # α per method")]  # cpu.yaml without its own pasted block
    preset.write_text(cpu + block, encoding="utf-8")
    assert yaml.safe_load(preset.read_text())["method_overrides"]["mars"] == {"distill": {"alpha": 50}}
    assert {m: load_config(preset, method=m).distill.alpha for m in choice} == choice
    assert load_config(preset, method="flow").optim.epochs == load_config("cpu", method="flow").optim.epochs
    assert preset_mismatches(preset, read_choice(record)) == []
    assert preset_mismatches("cpu", {"mars": 30.0, "ds": 3.0}) == [
        "cpu: ds trains with α=0.033, the tuning chose α=3"
    ]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: no 'choice' mapping of method to chosen α"):
        read_choice(tmp_path / "bad.json")


def test_the_cpu_preset_uses_the_recorded_choice() -> None:
    record = ROOT / "bench" / "results" / "alpha_tuning.json"
    assert json.loads(record.read_text(encoding="utf-8"))["preset"] == "cpu"
    choice = read_choice(record)
    assert set(choice) == {"mars", "ds", "ds_mae", "ds_gram"}, "every distilling method tuned"
    assert preset_mismatches("cpu", choice) == []


def test_tune_alpha_on_the_smoke_preset_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "alpha_tuning.json"
    command = [sys.executable, str(ROOT / "bench" / "tune_alpha.py"), "--preset", "smoke"]
    command += ["--methods", "mars", "ds", "--alphas", "1", "10", "--seeds", "1", "--max-extensions", "0"]
    command += ["--out", str(out), "--out-dir", str(tmp_path / "runs"), "--", "--model.init", "scratch"]
    command += ["--optim.epochs", "1", "--data.root", str(tmp_path / "raw"), "--data.frames_root"]
    command += [str(tmp_path / "frames")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["grid"] == {"mars": [1.0, 10.0], "ds": [1.0, 10.0]} and record["seeds"] == [1]
    assert (record["paper_alpha"], record["max_extensions"], record["train_args"][:2]) == (
        50.0,
        0,
        ["--model.init", "scratch"],
    )
    assert record["extensions"] == {"mars": [], "ds": []} and record["num_val_videos"] > 0
    assert sorted((r["method"], r["alpha"]) for r in record["runs"]) == [
        ("ds", 1.0),
        ("ds", 10.0),
        ("mars", 1.0),
        ("mars", 10.0),
    ]
    for r in record["runs"]:
        identity = RunDir(r["run"]).identity()
        assert (identity["method"], identity["variant"], identity["alpha"]) == (
            r["method"],
            "sweep",
            r["alpha"],
        )
        assert set(r) == {"method", "alpha", "seed", "val_top1", "num_val_videos", "train_acc", "run"}
        assert RunDir(r["run"]).read_eval()["val_video_top1"] == r["val_top1"]
    for method in ("mars", "ds"):
        best = max(
            record["runs"], key=lambda r: (r["val_top1"], -r["alpha"]) if r["method"] == method else (-1, 0)
        )
        assert record["choice"][method]["alpha"] == best["alpha"], (
            "argmax of validation, ties to the smaller α"
        )
    pasted = done.stdout.split("paste under method_overrides: in configs/smoke.yaml:\n")[1]
    assert yaml.safe_load("method_overrides:\n" + pasted)["method_overrides"] == {
        m: {"distill": {"alpha": record["choice"][m]["alpha"]}} for m in ("mars", "ds")
    }

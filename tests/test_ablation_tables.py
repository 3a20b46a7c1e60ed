"""Notebook 05's tables from fake run folders: every number checked against a value computed by hand.

The fake preset has 3 teacher seeds (student seed k distills from flow_seed<k mod 3>), students of seeds
1–3, their from-scratch and step0 variants, MARS and DS at the paper's α = 50 (sweep runs) and fusions
(one of them with the wrong teacher).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dualaction_lib.config import load_config
from dualaction_lib.rundir import RunDir
from dualaction_lib.study import ablation, findings, power
from dualaction_lib.viz import plots, tables

T2 = 4.302653  # t(0.975, 2): three seeds (published table value)
SEEDS = (1, 2, 3)
TOP1 = {  # method → test top-1 of seeds 1, 2, 3
    "rgb": (0.40, 0.50, 0.45),
    "mars": (0.42, 0.50, 0.49),
    "ds": (0.45, 0.56, 0.52),
    "ds_mae": (0.44, 0.50, 0.47),
    "ds_gram": (0.41, 0.52, 0.45),
}


def _run(root: Path, name: str, method: str, seed: int, top1: float, *, alpha: float = 1.0,
         init: str = "pretrained", normalize: str = "none", train_acc: float = 0.9,
         layers: tuple[str, ...] | None = None, variant: str = "main") -> None:  # fmt: skip
    run = RunDir(root / name)
    settings = {"model.init": init, "distill.alpha": alpha, "distill.normalize": normalize}
    if layers is not None:
        settings["distill.layers"] = list(layers)
    settings["distill.teacher_seeds"] = 3
    run.claim(load_config("smoke", method=method, seed=seed, variant=variant, **settings))
    run.write_eval({"video_top1": top1, "val_video_top1": top1 - 0.05, "num_classes": 4, "num_videos": 40})
    for e in range(2):
        run.append_metrics({"kind": "epoch", "epoch": e, "train_acc": train_acc - 0.1 * (1 - e)})


def _fusion(root: Path, a: str, b: str, method: str, top1: float) -> None:
    streams = [str(root / a), str(root / b)]
    result = {"streams": streams, "method": method, "video_top1": top1,
              "mean_weights": [0.4, 0.6], "fit_on": "val" if method == "attention" else ""}  # fmt: skip
    RunDir.fusion_of(RunDir(root / a), RunDir(root / b), method).write_fusion(lambda f: None, result, streams)


def build_preset(tmp_path: Path) -> Path:
    """The fake preset folder (see the module docstring)."""
    for seed, top1 in enumerate((0.90, 0.92, 0.94)):
        _run(tmp_path, f"flow_seed{seed}", "flow", seed, top1)
    for method, values in TOP1.items():
        for seed, top1 in zip(SEEDS, values, strict=True):
            _run(tmp_path, f"{method}_seed{seed}", method, seed, top1)
    for seed, (avg, att) in zip(SEEDS, ((0.60, 0.62), (0.70, 0.71), (0.64, 0.68)), strict=True):
        _fusion(tmp_path, f"ds_seed{seed}", f"flow_seed{seed % 3}", "average", avg)
        _fusion(tmp_path, f"ds_seed{seed}", f"flow_seed{seed % 3}", "attention", att)
    _fusion(tmp_path, "ds_seed1", "flow_seed0", "attention", 0.99)  # not seed 1's teacher: left out
    for method, values in {"rgb": (0.30, 0.35, 0.31), "ds": (0.28, 0.36, 0.30)}.items():
        for seed, top1 in zip(SEEDS, values, strict=True):
            _run(
                tmp_path,
                f"{method}_scratch_seed{seed}",
                method,
                seed,
                top1,
                init="scratch",
                variant="scratch",
            )
    for seed, top1 in zip((1, 2), (0.50, 0.58), strict=True):
        _run(tmp_path, f"ds_norm_seed{seed}", "ds", seed, top1, normalize="step0", variant="norm")
    for seed, top1 in zip(SEEDS, (0.48, 0.55, 0.50), strict=True):
        _run(tmp_path, f"mars_alpha50_seed{seed}", "mars", seed, top1, alpha=50.0, variant="sweep")
    _run(tmp_path, "ds_alpha50_seed1", "ds", 1, 0.25, alpha=50.0, train_acc=0.3, variant="sweep")  # collapsed
    for seed, top1 in zip((2, 3), (0.30, 0.28), strict=True):
        _run(tmp_path, f"ds_alpha50_seed{seed}", "ds", seed, top1, alpha=50.0, variant="sweep")
    return tmp_path


@pytest.fixture
def preset(tmp_path: Path) -> Path:
    return build_preset(tmp_path)


def _tables(preset: Path):
    runs = ablation.collect_runs(preset)
    return runs, ablation.collect_fusions(preset, runs)


def test_collect_records_what_each_run_is(preset: Path) -> None:
    runs, fusions = _tables(preset)
    by_run = runs.set_index("run")
    assert by_run.loc["ds_seed2", ["variant", "teacher_seed", "init"]].tolist() == ["main", 2, "pretrained"]
    assert by_run.loc["ds_seed3", "teacher_seed"] == 0, "seed 3 mod 3 teacher seeds"
    assert by_run.loc["ds_scratch_seed1", "variant"] == "scratch"
    assert by_run.loc["ds_norm_seed2", ["variant", "normalize"]].tolist() == ["norm", "step0"]
    assert by_run.loc["ds_alpha50_seed1", ["variant", "alpha"]].tolist() == ["sweep", 50.0]
    assert by_run.loc["rgb_seed1", "train_acc"] == pytest.approx(0.9), "the last epoch's train accuracy"
    assert by_run.loc["rgb_seed1", "val_top1"] == pytest.approx(0.35)
    assert by_run.loc["rgb_seed1", "num_classes"] == 4
    stale = fusions.set_index("fusion").loc["fusion_ds_seed1+flow_seed0_attention"]
    assert not stale["main"], "a fusion with another seed's teacher is no table's"
    assert fusions.main.sum() == 6 and set(fusions[fusions.main].fit_on) == {"val", ""}


def test_table1_pairs_each_student_with_its_own_teacher(preset: Path) -> None:
    t1 = ablation.table1(*_tables(preset), "attention")
    rows = t1.rows
    assert rows.loc["Flow", "n"] == 3 and rows.loc["Flow", "mean"] == pytest.approx(0.92)
    assert rows.loc["Flow", "ci"] == pytest.approx(T2 * 0.02 / math.sqrt(3), rel=1e-6)
    assert rows.loc["DS: Mimic+Flow", "seeds"] == pytest.approx({1: 0.62, 2: 0.71, 3: 0.68})
    assert "attention fusion fitted on the held-out validation split" in t1.caption
    assert "n = 3" in t1.caption and "Student t" in t1.caption


def test_table1_fuses_by_averaging_as_the_paper(preset: Path) -> None:
    t1 = ablation.table1(*_tables(preset))  # the paper's Mimic+RGB / Mimic+Flow columns average
    assert t1.rows.loc["DS: Mimic+Flow", "seeds"] == pytest.approx({1: 0.60, 2: 0.70, 3: 0.64})
    assert "average fusion" in t1.caption and "(average fusion)" in t1.title


def test_table2_paired_differences(preset: Path) -> None:
    t2 = ablation.table2(*_tables(preset))
    assert "attention fitted on the held-out validation split" in t2.caption
    d = t2.differences
    # DS − MARS: (0.03, 0.06, 0.03), mean 0.04, s_d = √((0.01² + 0.02² + 0.01²)/2) = 0.01·√3
    assert d.loc["DS − MARS", "mean"] == pytest.approx(0.04)
    assert d.loc["DS − MARS", "ci"] == pytest.approx(T2 * 0.01, rel=1e-6)
    # DS − RGB: (0.05, 0.06, 0.07): mean 0.06, s_d 0.01
    assert d.loc["DS − RGB", ["mean", "n"]].tolist() == [pytest.approx(0.06), 3]
    assert d.loc["DS − RGB", "ci"] == pytest.approx(T2 * 0.01 / math.sqrt(3), rel=1e-6)
    # attention − averaging of DS+Flow: (0.02, 0.01, 0.04): mean 0.07/3,
    # s_d = √(((−1/3)² + (−4/3)² + (5/3)²) / 2) / 100
    att = d.loc["DS+Flow att. − DS+Flow avg."]
    assert att["mean"] == pytest.approx(0.07 / 3)
    assert att["ci"] == pytest.approx(T2 * math.sqrt((1 + 16 + 25) / 9 / 2) / 100 / math.sqrt(3), rel=1e-6)
    assert d.loc["DS+Flow avg. − DS", "seeds"] == pytest.approx({1: 0.15, 2: 0.14, 3: 0.12})
    assert list(d.index) == [label for label, _, _ in ablation.TABLE2_DIFFERENCES]
    markdown = tables.to_markdown(t2)
    assert "| Paired difference (same seeds) | Δ top-1 (points) | pairs |" in markdown
    assert "| DS − MARS | +4.0 ± 4.3 | 3 |" in markdown and "| MARS (CE + α·MSE) | 47.0 ± " in markdown
    latex = tables.to_latex(t2)
    assert r"\emph{Paired difference (same seeds)} & \emph{$\Delta$ top-1 (points)} & \emph{pairs}" in latex
    assert r"DS $-$ MARS & +4.0 $\pm$ 4.3 & 3 \\" in latex
    assert latex.count(r"\\") == 1 + len(ablation.TABLE2_ROWS) + 1 + len(ablation.TABLE2_DIFFERENCES)


def test_table3_and_table4_compare_conditions_pairwise(preset: Path) -> None:
    runs, _ = _tables(preset)
    t3 = ablation.table3(runs)
    assert list(t3.rows.columns) == ["scratch", "pretrained", "pretrained − scratch"]
    assert list(t3.rows.index) == ["RGB", "MARS", "DS", "DS − RGB", "MARS − RGB"]
    rgb = t3.rows.loc["RGB"]
    assert rgb["scratch"]["mean"] == pytest.approx(0.32) and rgb["pretrained"]["mean"] == pytest.approx(0.45)
    # pretrained − scratch for RGB: (0.10, 0.15, 0.14): mean 0.13, s_d = √((0.03² + 0.02² + 0.01²)/2)
    change = rgb["pretrained − scratch"]
    assert change["mean"] == pytest.approx(0.13) and change["n"] == 3
    assert change["ci"] == pytest.approx(T2 * math.sqrt(0.0014 / 2) / math.sqrt(3), rel=1e-6)
    # DS − RGB from scratch: (−0.02, 0.01, −0.01); pretrained: (0.05, 0.06, 0.07); change (0.07, 0.05, 0.08)
    gap = t3.rows.loc["DS − RGB"]
    assert gap["scratch"]["mean"] == pytest.approx(-0.02 / 3) and gap["pretrained"]["mean"] == pytest.approx(
        0.06
    )
    assert gap["pretrained − scratch"]["seeds"] == pytest.approx({1: 0.07, 2: 0.05, 3: 0.08})
    assert t3.rows.loc["MARS"]["scratch"]["n"] == 0, "MARS was not run from scratch"
    markdown = tables.to_markdown(t3)
    assert "| Method | scratch | pretrained | pretrained − scratch |" in markdown
    assert "| RGB | 32.0 ± " in markdown and "(3) | 45.0 ± " in markdown and "| MARS | – | 47.0" in markdown
    assert "| DS − RGB | −0.7 ± " in markdown

    t4 = ablation.table4(runs)
    assert list(t4.rows.index) == ["MARS", "DS", "DS − MARS"]
    ds = t4.rows.loc["DS"]
    assert ds["step0"]["n"] == 2 and ds["step0 − paper"]["seeds"] == pytest.approx({1: 0.05, 2: 0.02})
    assert t4.rows.loc["DS − MARS"]["step0"]["n"] == 0, "no normalized MARS run: no pair"
    assert t4.caption.endswith("α: paper MARS 1, DS 1; step0 DS 1"), "what each cell compares"
    assert "†" not in markdown
    result = json.loads((preset / "ds_norm_seed2" / "eval.json").read_text())
    result.update(num_videos_left_out=3, num_videos_listed=40)
    (preset / "ds_norm_seed2" / "eval.json").write_text(json.dumps(result))
    marked = tables.to_markdown(ablation.table4(ablation.collect_runs(preset)))
    assert "| DS | 51.0 ± 13.8 (3) | 54.0 ± 50.8 (2) † | +3.5 ± 19.1 (2) |" in marked
    assert marked.rstrip().endswith(
        "† 3 of 40 listed test videos left out of the evaluation (skipped by prepare, missing or damaged; "
        "each run's evaluation lists them)."
    )
    for table in (t3, t4):
        assert "n" in table.caption and "Student t" in table.caption and "paired" in table.caption


def test_collapse_check_flags_runs_near_chance(preset: Path) -> None:
    runs, _ = _tables(preset)
    collapse = ablation.collapse_check(runs)
    rows = collapse.rows
    assert rows.loc["DS α=50", "below"] == ["ds_alpha50_seed1"] and rows.loc["DS α=50", "n"] == 3
    assert rows.loc["DS", "threshold"] == pytest.approx(0.45), "chance 1/4 + 20 points"
    assert rows.loc["DS", "below"] == [] and rows.loc["DS (scratch)", "n"] == 3
    assert rows.loc["Flow", "n"] == 3 and list(rows.index)[:2] == ["RGB", "Flow"]
    markdown = tables.to_markdown(collapse)
    assert "| DS α=50 | 3 | 45.0 | 70.0 | 30.0 | ds_alpha50_seed1 |" in markdown
    assert "1/4" in collapse.caption
    assert "1 of 32 runs end at or below chance" in findings.collapse_sentence(collapse)


def test_table5_compares_each_tuned_alpha_with_the_papers(preset: Path) -> None:
    runs, _ = _tables(preset)
    t5 = ablation.table5(runs)
    paper = "α = 50 (paper)"
    assert list(t5.rows.columns) == ["tuned α", paper, f"{paper} − tuned α"]
    mars, ds, gap = t5.rows.loc["MARS"], t5.rows.loc["DS"], t5.rows.loc["DS − MARS"]
    assert mars["tuned α"]["mean"] == pytest.approx(0.47) and mars[paper]["mean"] == pytest.approx(0.51)
    # MARS at 50 − at its tuned α, per seed: (0.06, 0.05, 0.01)
    assert mars[f"{paper} − tuned α"]["seeds"] == pytest.approx({1: 0.06, 2: 0.05, 3: 0.01})
    assert ds[paper]["n"] == 3 and ds[paper]["mean"] == pytest.approx(0.83 / 3)
    # DS − MARS at 50: (0.25 − 0.48, 0.30 − 0.55, 0.28 − 0.50)
    assert gap[paper]["seeds"] == pytest.approx({1: -0.23, 2: -0.25, 3: -0.22})
    assert "α: tuned α MARS 1, DS 1; α = 50 (paper) MARS 50, DS 50" in t5.caption
    assert "| DS − MARS | +4.0 ± 4.3 (3) | −23.3 ± 3.8 (3) |" in tables.to_markdown(t5)


def test_power_table_from_the_paired_differences(preset: Path) -> None:
    design = power.power_table(ablation.table2(*_tables(preset)))
    row = design.rows.loc["DS − MARS"]
    # d = (0.03, 0.06, 0.03): s_d = sqrt((0.01² + 0.02² + 0.01²) / 2) = 0.0173205
    assert row["pairs"] == 3 and row["s_d"] == pytest.approx(0.0173205, rel=1e-5)
    assert row["half-width"] == pytest.approx(T2 * 0.0173205 / math.sqrt(3), rel=1e-5)
    # t_{0.80, 2} = 1.060660 (published table value)
    assert row["detectable (80 % power)"] == pytest.approx((T2 + 1.060660) * 0.01, rel=1e-5)
    # n = 4: t_{0.975, 3} = 3.182446 → 3.182446 · 0.0173205 / 2 = 0.0276 ≤ 0.03; n = 3 gives 0.043
    assert row["seeds for ± 3"] == 4
    assert "| DS − MARS | 3 | 1.7 | 4.3 | 5.4 | 4 |" in tables.to_markdown(design)
    sentence = findings.power_sentence(design)
    assert sentence.startswith("**Power**: DS − MARS ± 4.3 points (n = 3; detectable with 80 % power: 5.4)")


def test_sensitivity_reads_the_tuning_record(tmp_path: Path) -> None:
    from dualaction_lib.study import tuning

    record = {
        "preset": "cpu", "seeds": [1, 2, 3], "num_val_videos": 72, "command": "python bench/tune_alpha.py",
        "choice": {"mars": {"alpha": 50.0}, "ds": {"alpha": 3.0}},
        "points": {
            "mars": [{"alpha": a, "mean": m, "ci": 0.02, "n": 3, "values": [m - 0.01, m, m + 0.01]}
                     for a, m in ((3.0, 0.70), (50.0, 0.80))],
            "ds": [{"alpha": 3.0, "mean": 0.75, "ci": 0.03, "n": 3, "values": [0.72, 0.75, 0.78]},
                   {"alpha": 50.0, "mean": 0.40, "ci": None, "n": 1, "values": [0.40]}],
        },
    }  # fmt: skip
    path = tmp_path / "alpha_tuning.json"
    path.write_text(json.dumps(record))
    points, about = tuning.sensitivity(path)
    assert about["preset"] == "cpu" and about["num_val_videos"] == 72
    chosen = points[points.chosen].set_index("method").alpha.to_dict()
    assert chosen == {"mars": 50.0, "ds": 3.0}
    fig = plots.plot_alpha_sweep(points, ("mars", "ds"), ablation.NAMES)
    assert [ax.get_title() for ax in fig.axes] == ["MARS", "DS"]
    whiskers = [s for c in fig.axes[1].collections if hasattr(c, "get_segments") for s in c.get_segments()]
    assert [round(abs(s[1, 1] - s[0, 1]), 6) for s in whiskers] == [6.0], "DS: one bar (n=3), none for n=1"
    assert any("n=1" in t.get_text() for t in fig.axes[1].texts)
    sentence = findings.tuning_sentence(points)
    assert (
        "mars α = 50 (80.0 ± 2.0 %)" in sentence and "ds α = 3 (75.0 ± 3.0 %), at α = 50 40.0 %" in sentence
    )
    empty, about = tuning.sensitivity(tmp_path / "none.json")
    assert empty.empty and about["missing"].startswith(f"no tuning record at {tmp_path / 'none.json'}")
    assert findings.tuning_sentence(empty) == "**α tuning**: no tuning record."
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json: not a tuning record"):
        tuning.sensitivity(tmp_path / "bad.json")


def test_table_figure_draws_the_tables_intervals(preset: Path) -> None:
    t2 = ablation.table2(*_tables(preset))
    fig = plots.plot_table(t2)
    assert len(fig.axes) == 2, "bars and paired differences in one figure"
    ax_diff = fig.axes[1]
    whiskers = [seg for c in ax_diff.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    ends = np.concatenate([seg[:, 0] for seg in whiskers])
    for _, d in t2.differences.iterrows():
        if d["n"] >= 2:
            assert np.isclose(ends, 100 * (d["mean"] - d["ci"])).any()
            assert np.isclose(ends, 100 * (d["mean"] + d["ci"])).any()
    assert len(plots.plot_table(ablation.table3(_tables(preset)[0])).axes) == 2


def _tuning_record(folder: Path) -> Path:
    point = {"alpha": 1.0, "mean": 0.5, "ci": 0.01, "n": 3, "values": [0.49, 0.5, 0.51]}
    record = {
        "choice": {"mars": {"alpha": 1.0}, "ds": {"alpha": 1.0}},
        "points": {"mars": [point], "ds": [point]},
    }
    path = folder / "alpha_tuning.json"
    path.write_text(json.dumps(record))
    return path


def test_findings_are_written_from_the_intervals(preset: Path) -> None:
    from dualaction_lib.study import tuning

    runs, fusions = _tables(preset)
    t2 = ablation.table2(runs, fusions)
    text = findings.summarize(
        t2,
        ablation.table3(runs),
        ablation.table4(runs),
        ablation.table5(runs),
        ablation.collapse_check(runs),
        power.power_table(t2),
        tuning.sensitivity(_tuning_record(preset))[0],
    )
    # DS − RGB = 6.0 ± 2.5: excludes 0. DS − MARS = 4.0 ± 4.3: includes 0.
    assert (
        "**DS − RGB** = +6.0 ± 2.5 points (n = 3 paired seeds): the 95 % interval excludes 0 — DS beats RGB"
        in text
    )
    assert "**DS − MARS** = +4.0 ± 4.3 points (n = 3 paired seeds): the 95 % interval includes 0" in text
    assert text.startswith("- Table 2 (loss ablation and fusion):\n    - **DS − MARS**")
    assert "**MARS: pretrained − scratch**: not measured" in text
    assert "**DS − MARS (step0)**: not measured" in text
    assert "**DS − MARS: α = 50 (paper) − tuned α** = −27.3 ± " in text
    within = (
        "**DS − MARS (tuned α)** = +4.0 ± 4.3 points (n = 3 paired seeds): the 95 % interval includes 0 —"
    )
    assert f"{within} no difference between DS and MARS is detectable at this n." in text, (
        "not a gap: a difference"
    )
    assert "- **Power**: DS − MARS ± 4.3 points" in text and "**α tuning** (validation top-1" in text
    single = findings.difference_sentence("X − Y", {"mean": 0.1, "ci": math.nan, "n": 1})
    assert single == "**X − Y** = +10.0 points from a single seed: no interval, so no conclusion."
    worse = findings.difference_sentence("A − B", {"mean": -0.1, "ci": 0.05, "n": 4, "a": "A", "b": "B"})
    assert "excludes 0 — B beats A" in worse
    # a difference of differences says how the gap moves, never that one condition "beats" the other
    gap = {"mean": -0.045, "ci": 0.042, "n": 5, "a": "step0", "b": "paper"}
    moved = findings.difference_sentence("DS − MARS: step0 − paper", gap, "DS − MARS")
    assert moved.endswith("excludes 0 — DS − MARS is smaller with step0 than with paper.")
    same = findings.difference_sentence("DS − MARS: step0 − paper", {**gap, "ci": 0.05}, "DS − MARS")
    assert same.endswith("no change of DS − MARS between paper and step0 is detectable at this n.")


def test_table2_shows_ds_without_the_pooled_level_when_the_plan_trained_it(preset: Path) -> None:
    assert "DS without the pooled level" not in ablation.table2(*_tables(preset)).rows.index
    stages = ("layer1", "layer2", "layer3", "layer4")
    for seed, top1 in zip(SEEDS, (0.50, 0.58, 0.52), strict=True):
        _run(preset, f"ds_nopool_seed{seed}", "ds", seed, top1, layers=stages, variant="nopool")
    runs, fusions = _tables(preset)
    assert set(runs.set_index("run").loc[[f"ds_nopool_seed{s}" for s in SEEDS], "variant"]) == {"nopool"}
    t2 = ablation.table2(runs, fusions)
    row = t2.rows.loc["DS without the pooled level"]
    assert row["n"] == 3 and row["mean"] == pytest.approx(1.6 / 3)
    # DS − DS w/o pool: (0.45 − 0.50, 0.56 − 0.58, 0.52 − 0.52) = (−0.05, −0.02, 0)
    diff = t2.differences.loc["DS − DS w/o pool"]
    assert diff["seeds"] == pytest.approx({1: -0.05, 2: -0.02, 3: 0.0}) and diff["n"] == 3
    assert "DS (no pool)" in ablation.collapse_check(runs).rows.index


def test_captions_say_which_variance_the_interval_covers():
    import pandas as pd

    from dualaction_lib.study.ablation import _variance_text

    def runs(teachers: dict[int, int]) -> pd.DataFrame:  # student seed → its teacher seed
        rows = [
            {"method": "ds", "variant": "main", "seed": s, "teacher_seed": t} for s, t in teachers.items()
        ]
        return pd.DataFrame(rows + [{"method": "flow", "variant": "main", "seed": 0, "teacher_seed": 0}])

    own = _variance_text(runs({1: 1, 2: 2, 3: 3, 4: 4, 5: 0}))
    assert own.startswith("the interval covers student init, data order and the flow teacher (one per seed)")
    shared = _variance_text(runs({1: 1, 2: 2, 3: 0, 4: 1, 5: 2}))
    assert "up to 2 seeds share a flow teacher" in shared and "understates" in shared
    one = _variance_text(runs({1: 0, 2: 0, 3: 0}))
    assert "the flow teacher (one, shared), the pretraining run and the test split are fixed" in one


def test_table6_splits_appearance_and_motion_classes(tmp_path: Path) -> None:
    from dualaction_lib.data.synthetic import MIXED_CLASSES
    from dualaction_lib.study import cues

    def per_class(appearance: float, motion: float) -> dict[str, float]:
        return {c: appearance if c.startswith(("Warm", "Cool")) else motion for c in MIXED_CLASSES}

    accuracy = {  # method → (appearance, motion) of seeds 1, 2
        "rgb": ((0.90, 0.60), (0.80, 0.70)),
        "flow": ((0.50, 1.00), (0.40, 0.90)),
        "mars": ((0.85, 0.75), (0.75, 0.85)),
        "ds": ((0.70, 0.80), (0.60, 0.90)),
    }
    for method, values in accuracy.items():
        for seed, (app, mot) in zip((1, 2), values, strict=True):
            run = RunDir(tmp_path / f"{method}_seed{seed}")
            run.claim(load_config("smoke", method=method, seed=seed, variant="main"))
            run.write_eval({"video_top1": (2 * app + 10 * mot) / 12, "per_class_top1": per_class(app, mot)})
    runs, fusions = _tables(tmp_path)
    t6 = cues.table6(runs, fusions)
    columns = ["appearance-only classes", "motion-only classes"]
    assert list(t6.rows.columns) == columns
    assert t6.rows.loc["RGB", columns[0]]["mean"] == pytest.approx(0.85)
    assert t6.rows.loc["Flow", columns[1]]["mean"] == pytest.approx(0.95)
    # DS − RGB on appearance: (0.70 − 0.90, 0.60 − 0.80) = (−0.20, −0.20); on motion (+0.20, +0.20)
    assert t6.rows.loc["DS − RGB", columns[0]]["seeds"] == pytest.approx({1: -0.2, 2: -0.2})
    assert t6.rows.loc["DS − RGB", columns[1]]["seeds"] == pytest.approx({1: 0.2, 2: 0.2})
    assert t6.rows.loc["+MAE", columns[0]]["n"] == 0, "not trained here: an empty cell"
    assert "the 2 classes told apart by appearance only" in t6.caption
    sentences = findings._grid_sentences(t6, gaps=False)
    assert sentences[2] == (
        "**DS − RGB (appearance-only classes)** = −20.0 ± 0.0 points (n = 2 paired seeds): the 95 % interval "
        "excludes 0 — RGB beats DS on these seeds."
    )
    assert cues.table6(*_tables(build_preset(tmp_path / "other"))) is None, "no mixed-task classes"

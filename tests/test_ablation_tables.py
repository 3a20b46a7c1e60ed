"""Notebook 05's tables from fake run folders: every number checked against a value computed by hand.

The fake preset has 3 teacher seeds (student seed k distills from flow_seed<k mod 3>), students of seeds
1–3, their from-scratch and step0 variants, an α sweep and fusions (one of them with the wrong teacher).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dualaction_lib.config import load_config
from dualaction_lib.rundir import RunDir
from dualaction_lib.study import ablation, findings
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
    for seed, top1 in zip(SEEDS, (0.41, 0.50, 0.46), strict=True):
        _run(tmp_path, f"ds_alpha0_seed{seed}", "ds", seed, top1, alpha=0.0, variant="sweep")
    _run(tmp_path, "ds_alpha50_seed1", "ds", 1, 0.25, alpha=50.0, train_acc=0.3, variant="sweep")  # collapsed
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
    assert rows.loc["DS α=50", "below"] == ["ds_alpha50_seed1"] and rows.loc["DS α=50", "n"] == 1
    assert rows.loc["DS", "threshold"] == pytest.approx(0.45), "chance 1/4 + 20 points"
    assert rows.loc["DS", "below"] == [] and rows.loc["DS (scratch)", "n"] == 3
    assert rows.loc["Flow", "n"] == 3 and list(rows.index)[:2] == ["RGB", "Flow"]
    markdown = tables.to_markdown(collapse)
    assert "| DS α=50 | 1 | 45.0 | 30.0 | 30.0 | ds_alpha50_seed1 |" in markdown
    assert "1/4" in collapse.caption
    assert "1 of 30 runs end at or below chance" in findings.collapse_sentence(collapse)


def test_alpha_sweep_uses_the_same_seeds_and_never_hides_n1(preset: Path) -> None:
    runs, _ = _tables(preset)
    sweep = ablation.alpha_sweep(runs)
    assert sweep.alpha.tolist() == [0.0, 1.0, 50.0] and sweep.n.tolist() == [3, 3, 1]
    assert sweep.preset.tolist() == [False, True, False]
    assert sweep.set_index("alpha").loc[1.0, "mean"] == pytest.approx(0.51), "main ds runs at the preset α"
    ax = plots.plot_alpha_sweep(sweep, {"RGB": 0.45}).axes[0]
    whiskers = [seg for c in ax.collections if hasattr(c, "get_segments") for seg in c.get_segments()]
    lengths = sorted(round(abs(seg[1, 1] - seg[0, 1]), 6) for seg in whiskers)
    expected = sorted(round(200 * ci, 6) for ci in sweep.ci[sweep.n >= 2])
    assert lengths == expected, "one whisker per point with n ≥ 2, of the table's CI; none for n = 1"
    assert any("n=1" in t.get_text() for t in ax.texts) and any(
        "n=1" in t.get_text() for t in ax.get_legend().get_texts()
    )
    table = ablation.alpha_sweep_table(sweep)
    assert "| α = 50 | 25.0 (1) |" in tables.to_markdown(table)


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


def test_findings_are_written_from_the_intervals(preset: Path) -> None:
    runs, fusions = _tables(preset)
    t2 = ablation.table2(runs, fusions)
    text = findings.summarize(
        t2,
        ablation.table3(runs),
        ablation.table4(runs),
        ablation.collapse_check(runs),
        ablation.alpha_sweep(runs),
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
    assert "the highest mean is at α = 1 (51.0 ± " in text
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

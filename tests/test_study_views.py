"""Notebook 01 and 03 views: study computes, viz draws; each view is shown once (no kernel, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dualaction_lib.study import runs
from dualaction_lib.viz import flow_plots, training


def _fake_run(root: Path, steps: int = 40, epochs: int = 2, top1: float | None = 0.75) -> Path:
    run = root / "ds_seed0"
    run.mkdir(parents=True)
    records = [{"kind": "step", "step": s, "loss": 1.0 + (s % 2), "ce": 0.5, "lr": 0.1} for s in range(steps)]
    records += [{"kind": "epoch", "epoch": e, "train_acc": 0.5 + 0.1 * e} for e in range(epochs)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    if top1 is not None:
        (run / "eval.json").write_text(json.dumps({"video_top1": top1}), encoding="utf-8")
    return run


def test_curves_view_draws_the_chosen_running_mean(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    control = runs.smoothing_control(run)
    assert (control["kind"], control["min"], control["max"], control["value"]) == ("slider", 1, 20, 2)

    fig = runs.curves_view(run, "ds", smoothing=4)
    ax_loss, _, ax_acc = fig.axes[:3]
    assert ax_loss.get_title() == "Loss terms (mean of 4 steps)"
    total = next(line for line in ax_loss.get_lines() if line.get_label() == "total")
    expected = pd.Series([1.0 + (s % 2) for s in range(40)]).rolling(4, min_periods=1).mean()
    np.testing.assert_allclose(total.get_ydata(), expected)
    assert any("75.0%" in t.get_text() for t in ax_acc.get_legend().get_texts()), "final top-1 star"
    assert fig._suptitle.get_text() == "ds"

    assert runs.curves_view(run).axes[0].get_title() == "Loss terms (mean of 2 steps)"  # default: 1/20
    assert runs.curves_view(run, smoothing=1).axes[0].get_title() == "Loss terms (per step)"


class _Handle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, obj) -> None:
        self.shown.append(obj)


def _capture_display(monkeypatch) -> list:
    shown: list = []

    def display(obj, display_id=None):
        shown.append(obj)
        return _Handle(shown) if display_id else None

    monkeypatch.setattr("IPython.display.display", display)
    return shown


def test_live_curves_redraw_in_place_then_give_way_to_one_line(tmp_path: Path, monkeypatch) -> None:
    from IPython.display import Image, Markdown

    run = _fake_run(tmp_path, top1=None)
    shown = _capture_display(monkeypatch)
    with runs.live_curves(run, interactive=True, title="ds seed 0") as hook:
        hook(0, {})
        hook(1, {})
    assert [type(obj) for obj in shown] == [Image, Image, Markdown], "one display, then in-place updates"
    assert shown[-1].data == "*ds seed 0: training finished; its curves are shown below.*"

    shown.clear()
    with pytest.raises(RuntimeError), runs.live_curves(run, interactive=True) as hook:
        hook(0, {})
        raise RuntimeError("diverged")
    assert [type(obj) for obj in shown] == [Image], "a failed run keeps its last live figure"

    shown.clear()
    with runs.live_curves(run, interactive=False) as hook:
        hook(0, {})
    assert shown == [], "in batch the notebook's curves view is the only figure"


def test_live_curves_name_defaults_to_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    shown = _capture_display(monkeypatch)
    hook = training.LiveCurves(lambda: runs.curves_view(_fake_run(tmp_path)), interactive=True)
    hook(0, {})
    hook.close()
    assert shown[-1].data == "*Training finished; its curves are shown below.*"
    with runs.live_curves(tmp_path / "ds_seed0", interactive=True) as hook:
        hook(0, {})
    assert shown[-1].data.startswith("*ds_seed0: training finished")


def test_method_comparison_titles_the_errors_it_is_given() -> None:
    frame = np.zeros((8, 12, 3), np.uint8)
    flows = {name: np.zeros((8, 12, 2), np.float32) for name in ("tvl1-torch", "tvl1-opencv", "dis")}
    fig = flow_plots.plot_method_comparison(frame, flows, {"tvl1-torch": 0.25}, reference="tvl1-opencv")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "frame t",
        "tvl1-torch\nEPE vs tvl1-opencv: 0.25 px",
        "tvl1-opencv\n(reference)",
        "dis",
    ]
    assert not any(" ms" in t for t in titles), "no cold run times next to the flows"

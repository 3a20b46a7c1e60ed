"""Notebook 01 and 03 views: study computes, viz draws; each view is shown once (no kernel, no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dualaction_lib.rundir import RunDir
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


def test_accuracy_panel_shows_train_and_periodic_test_accuracy(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, epochs=7, top1=0.6)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for record in records:  # eval.every = 3: test accuracy after epochs 3 and 6 (the 7th is the final one)
        if record["kind"] == "epoch" and (record["epoch"] + 1) % 3 == 0:
            record["test_video_top1"] = 0.1 * (record["epoch"] + 1)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    ax_acc = runs.curves_view(run).axes[2]
    lines = {line.get_label(): line for line in ax_acc.get_lines()}
    np.testing.assert_allclose(lines["train clip acc."].get_xdata(), range(1, 8))
    test = lines["test video top-1"]
    np.testing.assert_allclose(test.get_xdata(), [3, 6, 7])
    np.testing.assert_allclose(test.get_ydata(), [0.3, 0.6, 0.6]), "measured points joined to the final one"
    without = runs.curves_view(_fake_run(tmp_path / "other", epochs=2, top1=0.6)).axes[2]
    assert "test video top-1" not in [line.get_label() for line in without.get_lines()], "no lone point"


def _balance_record(epoch: int, step: int, shares: dict) -> dict:
    values = {k: 10 * v for k, v in shares.items()}
    return {"kind": "balance", "epoch": epoch, "step": step, "value": values, "weighted": values,
            "grad_norm": shares, "grad_share": shares}  # fmt: skip


def test_loss_balance_view(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    assert runs.balance_view(run) is None, "CE only: no balance to show"
    records = [
        _balance_record(0, 0, {"ce": 0.05, "mae": 0.15, "gram": 0.8}),
        _balance_record(1, 20, {"ce": 0.5, "mae": 0.25, "gram": 0.25}),
    ]
    with (run / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    balance = runs.load_balance(run)
    assert balance.term.tolist() == ["CE", "α·MAE", "α·Gram"] * 2
    fig = runs.balance_view(run)
    ax_value, ax_share = fig.axes[:2]
    assert ax_value.get_yscale() == "log" and [line.get_label() for line in ax_value.get_lines()] == [
        "CE", "α·MAE", "α·Gram",
    ]  # fmt: skip
    tops = sorted((round(p.get_x() + p.get_width() / 2), round(p.get_y() + p.get_height(), 6))
                  for p in ax_share.patches)  # fmt: skip
    assert tops == [(1, 0.05), (1, 0.2), (1, 1.0), (2, 0.5), (2, 0.75), (2, 1.0)], "stacked shares"
    assert fig._suptitle.get_text() == "ds_seed0: gradient shares at step 0 — CE 5%, α·MAE 15%, α·Gram 80%"


def test_run_config_decodes_none_and_finds_the_teacher(tmp_path: Path) -> None:
    from dualaction_lib.config import load_config

    preset = load_config("smoke")
    cfg = runs.run_config("smoke", "ds", 1, init=None, normalize=None)
    assert (cfg.model.init, cfg.distill.normalize) == (preset.model.init, preset.distill.normalize)
    cfg = runs.run_config("smoke", "ds", 1, init="scratch", normalize="step0", name="ds_x")
    assert (cfg.model.init, cfg.distill.normalize, RunDir.of(cfg).name) == ("scratch", "step0", "ds_x")
    for seed in (4, 5):
        cfg = load_config("smoke", method="mars", seed=seed, **{"distill.teacher_seeds": 3})
        RunDir(tmp_path / f"mars_seed{seed}").claim(cfg)
    assert runs.teacher_seed(tmp_path, 4) == 1 and runs.teacher_seed(tmp_path, 5) == 2
    with pytest.raises(FileNotFoundError, match="no main student run .* of seed 6"):
        runs.teacher_seed(tmp_path, 6)


def test_level_balance_frame_and_view(tmp_path: Path) -> None:
    run = _fake_run(tmp_path)
    assert runs.load_level_balance(run).empty and runs.level_balance_view(run) is None
    norms = {"ce": 1.0, "mae/layer1": 1.0, "mae/pool": 0.5, "gram/layer1": 2.0, "gram/pool": 5.5}
    record = {
        **_balance_record(0, 0, {"ce": 0.1, "mae": 0.1, "gram": 0.8}),
        "level_value": {k: 2 * v for k, v in norms.items()},
        "level_weighted": {k: 3 * v for k, v in norms.items()},
        "level_grad_norm": norms,
        "level_grad_share": {k: v / 10 for k, v in norms.items()},
    }
    with (run / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    levels = runs.load_level_balance(run)
    assert levels[["term", "level"]].values.tolist() == [
        ["CE", ""], ["α·MAE", "layer1"], ["α·MAE", "pool"], ["α·Gram", "layer1"], ["α·Gram", "pool"],
    ]  # fmt: skip
    gram_pool = levels[(levels.term == "α·Gram") & (levels.level == "pool")].iloc[0]
    assert (gram_pool.value, gram_pool.weighted, gram_pool.grad_share) == pytest.approx((11.0, 16.5, 0.55))
    fig = runs.level_balance_view(run)
    ax_value, ax_share = fig.axes[:2]
    assert [t.get_text() for t in ax_share.get_xticklabels()] == ["layer1", "pool"]
    heights = sorted(round(p.get_height(), 6) for p in ax_share.patches)
    assert heights == [0.05, 0.1, 0.2, 0.55]
    assert fig._suptitle.get_text() == "ds_seed0: step 0 — largest pull: α·Gram at pool (55%)"


def test_run_config_takes_the_distilled_levels() -> None:
    cfg = runs.run_config("smoke", "ds", 1, layers=["layer1", "layer2", "layer3", "layer4"], variant="nopool")
    assert (
        cfg.distill.layers == ("layer1", "layer2", "layer3", "layer4")
        and RunDir.of(cfg).name == "ds_nopool_seed1"
    )
    from dualaction_lib.config import load_config

    assert runs.run_config("smoke", "ds", 1).distill.layers == load_config("smoke").distill.layers

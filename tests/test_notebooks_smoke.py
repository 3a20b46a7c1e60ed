"""The whole smoke plan through papermill (all five notebooks), then assertions on what they produced.

Runs, executed notebooks and figures go to a temp ``out_dir``; values are read back from the run
directories and the notebooks' result files, not from notebook outputs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest

from dualaction_lib.study import ablation

ROOT = Path(__file__).resolve().parent.parent
FIGURES = [
    "01_flow_pair", "01_flow_methods", "01_flow_timings", "01_flow_magnitudes", "01_flow_quantization",
    "02_gram_matrices", "02_feature_maps", "02_layer_distances",
    "03_training/ds_seed0_curves", "03_training/ds_seed0_confusion", "03_training/flow_seed0_curves",
    "04_fusion_accuracy_seed0", "04_fusion_weights_seed0",
    "05_table1", "05_table2", "05_alpha_sweep",
]  # fmt: skip
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VIEWS = {  # figures each notebook shows: one image per view (as the browser test counts in JupyterLab)
    "01_flow_inspection": 5, "02_gram_matrices": 3, "03_distillation_training": 2, "04_fusion_weights": 2,
    "05_ablation_tables": 3,
}  # fmt: skip

pytestmark = pytest.mark.slow


@pytest.fixture
def smoke(smoke_plan: dict) -> dict:
    return smoke_plan


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _is_fraction(value) -> bool:
    return isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def test_every_notebook_ran(smoke: dict) -> None:
    failed = [(r.job.output.name, r.message) for r in smoke["results"] if r.status != "ok"]
    assert not failed, f"smoke notebooks failed: {failed}"
    stems = {r.job.notebook.stem for r in smoke["results"]}
    assert stems == {
        "01_flow_inspection", "02_gram_matrices", "03_distillation_training", "04_fusion_weights",
        "05_ablation_tables",
    }  # fmt: skip


def test_run_accuracies_are_fractions(smoke: dict) -> None:
    preset = smoke["preset_dir"]
    runs = ["flow", "rgb", "mars", "ds", "ds_mae", "ds_gram"]
    for name in [f"{m}_seed0" for m in runs] + ["ds_alpha0_seed0", "ds_alpha10_seed0"]:
        result = _json(preset / name / "eval.json")
        for key in ("video_top1", "video_top5", "clip_top1"):
            assert _is_fraction(result[key]), f"{name}: {key} = {result[key]}"
        assert result["num_videos"] > 0 and result["num_clips"] >= result["num_videos"]
        assert (preset / name / "metrics.jsonl").exists() and (preset / name / "scores.pt").exists()
    fusions = sorted(preset.glob("fusion_*/eval.json"))
    assert len(fusions) == 10, "5 stream pairs × (average, attention)"
    assert all(_is_fraction(_json(f)["video_top1"]) for f in fusions)


def test_notebook_results(smoke: dict) -> None:
    results = smoke["preset_dir"] / "results"
    flow = _json(results / "01_flow_inspection.json")
    assert set(flow["seconds_per_pair"]) == {"tvl1-torch", "tvl1-opencv", "dis", "farneback"}
    assert all(s > 0 for s in flow["seconds_per_pair"].values())
    assert flow["quantized_max_epe"] <= math.sqrt(2) * 20 / 255 + 1e-4  # half a level per component
    assert flow["jpeg_mean_epe"] >= flow["quantized_mean_epe"] * 0.5
    gram = _json(results / "02_gram_matrices_seed0.json")
    for model in ("DS", "MARS", "RGB"):
        for layer in ("layer1", "layer2", "layer3", "layer4", "pool"):
            for metric in ("gram", "mae"):
                value = gram["mean_distances"][f"{metric}/{model}/{layer}"]
                assert math.isfinite(value) and value >= 0, (metric, model, layer, value)
    fusion = _json(results / "04_fusion_weights_seed0.json")
    assert set(fusion["accuracy"]) == {"DS+Flow", "DS+RGB", "MARS+Flow", "MARS+RGB", "RGB+Flow"}
    for row in fusion["accuracy"].values():
        assert all(_is_fraction(row[k]) for k in ("stream A", "stream B", "average", "attention"))
    assert all(_is_fraction(w["mean_weight_a"]) for w in fusion["weights"].values())


def test_tables_have_every_row(smoke: dict) -> None:
    figures = smoke["preset_dir"] / "figures"
    values = _json(smoke["preset_dir"] / "results" / "05_ablation_tables.json")
    for name, rows in (("table1", ablation.TABLE1_ROWS), ("table2", ablation.TABLE2_ROWS)):
        labels = [label for label, _ in rows]
        assert set(values[name]) == set(labels)
        for label in labels:
            assert values[name][label]["n"] >= 1 and _is_fraction(values[name][label]["mean"]), label
        markdown = (figures / f"{name}.md").read_text(encoding="utf-8")
        latex = (figures / f"{name}.tex").read_text(encoding="utf-8")
        assert all(f"| {label} |" in markdown for label in labels)
        assert latex.count(r"\\") == len(labels) + 1 and r"\begin{tabular}" in latex
    alphas = {row["alpha"] for row in values["alpha_sweep"]}
    assert {0.0, 10.0, 50.0} <= alphas


def test_every_figure_saved_as_png_and_pdf(smoke: dict) -> None:
    figures = smoke["preset_dir"] / "figures"
    for name in FIGURES:
        png, pdf = figures / f"{name}.png", figures / f"{name}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert pdf.read_bytes()[:5] == b"%PDF-", name


def test_batch_notebooks_hold_static_figures_only(smoke: dict) -> None:
    for result in smoke["results"]:
        nb = nbformat.read(result.job.output, as_version=4)
        assert "widgets" not in nb.metadata, f"{result.job.output.name}: widget state left behind"
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        mimes = {m for o in outputs for m in o.get("data", {})}
        assert WIDGET_MIME not in mimes, result.job.output.name
        images = sum("image/png" in o.get("data", {}) for o in outputs)
        assert images == VIEWS[result.job.notebook.stem], f"{result.job.output.name}: {images} figures"
        shown_twice = [o for o in outputs if "<Figure" in str(o.get("data", {}).get("text/plain", ""))]
        assert not shown_twice, f"{result.job.output.name}: a Figure returned as a cell result"
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and "interactive = False" in injected[0].source

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
import yaml

from dualaction_lib.io import read_jsonl
from dualaction_lib.study import ablation

ROOT = Path(__file__).resolve().parent.parent
FIGURES = [
    "01_flow_pair", "01_flow_methods", "01_flow_timings", "01_flow_magnitudes", "01_flow_quantization",
    "02_gram_matrices", "02_feature_maps", "02_layer_distances",
    "03_training/ds_seed1_curves", "03_training/ds_seed1_balance", "03_training/ds_seed1_levels",
    "03_training/ds_seed1_confusion",
    "03_training/mars_norm_seed1_balance", "03_training/flow_seed0_curves",
    "04_fusion_accuracy_seed1", "04_fusion_weights_seed1",
    "05_table1", "05_table2", "05_table3", "05_table4", "05_table5", "05_alpha_sensitivity",
]  # fmt: skip
TABLES = ["table1", "table2", "table3", "table4", "table5", "collapse_check", "power"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
VIEWS = {  # figures each notebook shows: one image per view (as the browser test counts in JupyterLab)
    "01_flow_inspection": 5, "02_gram_matrices": 3, "03_distillation_training": 3, "04_fusion_weights": 2,
    "05_ablation_tables": 6,
}  # fmt: skip
CE_ONLY = {"rgb", "flow"}  # notebook 03 of these shows no loss balance (no distillation terms)
MULTI_LEVEL = {"ds", "ds_mae", "ds_gram"}  # notebook 03 of these also shows the per-level balance

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
    students = [f"{m}_seed1" for m in ("rgb", "mars", "ds", "ds_mae", "ds_gram")]
    variants = ["mars_norm_seed1", "ds_norm_seed1", "rgb_scratch_seed1", "mars_scratch_seed1"]
    variants += ["ds_scratch_seed1", "ds_alpha50_seed1"]
    for name in ["flow_seed0", *students, *variants]:
        result = _json(preset / name / "eval.json")
        for key in ("video_top1", "video_top5", "clip_top1"):
            assert _is_fraction(result[key]), f"{name}: {key} = {result[key]}"
        assert result["num_videos"] > 0 and result["num_clips"] >= result["num_videos"]
        assert (preset / name / "metrics.jsonl").exists() and (preset / name / "scores.pt").exists()
    fusions = sorted(preset.glob("fusion_*/eval.json"))
    assert len(fusions) == 10, "5 stream pairs × (average, attention)"
    assert all(_is_fraction(_json(f)["video_top1"]) for f in fusions)
    attention = [_json(f) for f in fusions if f.parent.name.endswith("_attention")]
    assert {a["fit_on"] for a in attention} == {"val"}, "attention fitted on the validation split"
    source = preset.parent / "smoke_source"
    assert all((source / f"{m}_seed0" / "eval.json").exists() for m in ("rgb", "flow")), "pretraining runs"
    config = yaml.safe_load((preset / "ds_scratch_seed1" / "config.yaml").read_text())
    assert (config["model"]["init"], config["distill"]["normalize"]) == ("scratch", "none")
    config = yaml.safe_load((preset / "ds_norm_seed1" / "config.yaml").read_text())
    assert (config["model"]["init"], config["distill"]["normalize"]) == ("pretrained", "step0")
    balance = [r for r in read_jsonl(preset / "ds_seed1" / "metrics.jsonl") if r["kind"] == "balance"]
    assert [r["epoch"] for r in balance] == [0, 1] and set(balance[0]["grad_share"]) == {"ce", "mae", "gram"}


def test_notebook_results(smoke: dict) -> None:
    results = smoke["preset_dir"] / "results"
    flow = _json(results / "01_flow_inspection.json")
    assert set(flow["seconds_per_pair"]) == {"tvl1-torch", "tvl1-opencv", "dis", "farneback"}
    assert all(s > 0 for s in flow["seconds_per_pair"].values())
    assert flow["quantized_max_epe"] <= math.sqrt(2) * 20 / 255 + 1e-4  # half a level per component
    assert flow["jpeg_mean_epe"] >= flow["quantized_mean_epe"] * 0.5
    gram = _json(results / "02_gram_matrices_seed1.json")
    for model in ("DS", "MARS", "RGB"):
        for layer in ("layer1", "layer2", "layer3", "layer4", "pool"):
            for metric in ("gram", "mae"):
                value = gram["mean_distances"][f"{metric}/{model}/{layer}"]
                assert math.isfinite(value) and value >= 0, (metric, model, layer, value)
    fusion = _json(results / "04_fusion_weights_seed1.json")
    assert set(fusion["accuracy"]) == {"DS+Flow", "DS+RGB", "MARS+Flow", "MARS+RGB", "RGB+Flow"}
    for row in fusion["accuracy"].values():
        assert all(_is_fraction(row[k]) for k in ("stream A", "stream B", "average", "attention"))
    assert all(_is_fraction(w["mean_weight_a"]) for w in fusion["weights"].values())
    assert {row["fit_on"] for row in fusion["accuracy"].values()} == {"val"}


def test_tables_have_every_row(smoke: dict) -> None:
    figures = smoke["preset_dir"] / "figures"
    values = _json(smoke["preset_dir"] / "results" / "05_ablation_tables.json")
    for name, rows in (("table1", ablation.TABLE1_ROWS), ("table2", ablation.TABLE2_ROWS)):
        labels = [label for label, _ in rows]
        assert set(values[name]["rows"]) == set(labels)  # result files sort their keys
        for label in labels:
            row = values[name]["rows"][label]
            assert row["n"] >= 1 and _is_fraction(row["mean"]), (name, label)
        markdown = (figures / f"{name}.md").read_text(encoding="utf-8")
        assert all(f"| {label} |" in markdown for label in labels)
    differences = values["table2"]["differences"]
    assert set(differences) == {label for label, _, _ in ablation.TABLE2_DIFFERENCES}
    assert all(d["n"] == 1 and abs(d["mean"]) <= 1 for d in differences.values()), "seed 1: one pair each"
    for name, rows in (("table3", ["RGB", "MARS", "DS", "DS − RGB", "MARS − RGB"]),
                       ("table4", ["MARS", "DS", "DS − MARS"])):  # fmt: skip
        assert set(values[name]["rows"]) == set(rows)
        assert all(cell["n"] == 1 for row in values[name]["rows"].values() for cell in row.values()), name
    collapse = values["collapse_check"]["rows"]
    assert {"RGB", "Flow", "DS", "DS (scratch)", "DS (step0)", "DS α=50"} <= set(collapse)
    assert set(values["table5"]["rows"]) == {"MARS", "DS", "DS − MARS"}
    assert values["table5"]["rows"]["DS"]["α = 50 (paper)"]["n"] == 1, "DS at α = 50, seed 1"
    assert set(values["power"]["rows"]) == set(differences)
    assert {row["method"] for row in values["alpha_sensitivity"]} >= {"mars", "ds"}
    for name in TABLES:
        latex = (figures / f"{name}.tex").read_text(encoding="utf-8")
        assert r"\begin{tabular}" in latex and "$$" not in latex, name
        assert "Student t" in latex or "no confidence interval" in latex, f"{name}: the CI method"
        caption = (figures / f"{name}.md").read_text(encoding="utf-8").splitlines()[0]
        assert "n = " in caption or "(n) = " in caption, f"{name}: the caption states n"
    assert (
        "- Table 2 (loss ablation and fusion):" in values["summary"] and "**DS − MARS**" in values["summary"]
    )


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
        method = result.job.parameters.get("method")
        expected = VIEWS[result.job.notebook.stem] - (method in CE_ONLY) + (method in MULTI_LEVEL)
        assert images == expected, f"{result.job.output.name}: {images} figures"
        shown_twice = [o for o in outputs if "<Figure" in str(o.get("data", {}).get("text/plain", ""))]
        assert not shown_twice, f"{result.job.output.name}: a Figure returned as a cell result"
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and "interactive = False" in injected[0].source

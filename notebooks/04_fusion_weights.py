# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Fusion: averaging vs attention, and what the weights learn
#
# Two frozen streams give class scores $s_A, s_B$ for a video. The classic two-stream baseline averages
# them. The **attention fusion** module learns per-video weights
# $w = \mathrm{softmax}(W_2\,\mathrm{ReLU}(W_1 [s_A; s_B]))$ and outputs $w_A s_A + w_B s_B$; it is
# trained on cached scores (the streams stay frozen) and evaluated on the test split.
#
# **Which scores it is fitted on matters.** Fitting it on the streams' own training videos was wrong:
# a stream has memorised those videos, so its training scores are confidently right, and the module
# learns to trust whichever stream overfits most — not the one that generalises (in an earlier version
# DS+RGB and MARS+RGB attention just reproduced RGB, and attention scored below plain averaging). The
# module is therefore fitted on the **validation split**, whole UCF groups held out of every stream's
# training (`data.val_fraction`), and the split it used is shown with the results (`fit_on`).
#
# For student seed k the streams are `ds_seed<k>`, `mars_seed<k>`, `rgb_seed<k>` and the student's own
# teacher `flow_seed<k mod distill.teacher_seeds>` (read from the runs' config). We fuse DS with the flow
# teacher and with the RGB baseline (MARS likewise, and RGB+Flow as the classic two-stream reference),
# then look at the learned weights: their distribution, per class, and against each stream's confidence
# and correctness.

# %% tags=["parameters"]
from typing import Optional  # papermill's --help-notebook reads Optional[int], not int | None

preset: str = "cpu"  # config preset whose runs are fused
seed: int = 1  # seed of the student runs (ds_seed<k>, mars_seed<k>, rgb_seed<k>)
teacher_seed: Optional[int] = None  # flow teacher run flow_seed<k> (None: the students' own teacher)
out_dir: str = "runs"  # root folder of all runs; fusions go to <out_dir>/<preset>/fusion_<a>+<b>_<method>
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
fusion_steps: int = 300  # full-batch Adam steps that train each attention fusion module
pair: str = "DS+Flow"  # stream pair shown first: DS+Flow, DS+RGB, MARS+Flow, MARS+RGB or RGB+Flow
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
figures_dir: str = "figures"  # where batch mode writes the PNG + PDF figures

# %%
import pandas as pd

from dualaction_lib.study import fusion, notebook
from dualaction_lib.viz import plots, widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
pairs = fusion.stream_pairs(f"{out_dir}/{preset}", seed, teacher_seed)
print("stream pairs:", {label: f"{a.name} + {b.name}" for label, (a, b) in pairs.items()})

# %% [markdown]
# ## Fuse every pair both ways
# Averaging needs no training; attention fusion trains a small MLP on the validation split's scores
# (seconds). The `fit_on` column says which split each attention module was fitted on.

# %%
fused = fusion.fuse_all(pairs, steps=fusion_steps)
summary = fusion.fusion_summary(fused)
fig = plots.plot_fusion_accuracy(summary)
widgets.show_figure(fig, f"04_fusion_accuracy_seed{seed}", interactive=interactive, figures_dir=figures_dir)

# %%
summary.set_index("pair").round(3)

# %% [markdown]
# ## The learned stream weights
# Left: how much weight stream A gets across test videos (0.5 = averaging). Middle: per class — motion
# classes that RGB cannot separate should lean on the motion-aware stream. Right: the weight against the
# difference of the two streams' softmax confidence, marked by which stream was right.

# %%
views = {label: fusion.fusion_view(fused[(label, "attention")]) for label in pairs}
widgets.show_view(
    lambda pair: plots.plot_fusion_weights(views[pair], views[pair]["streams"]),
    {"pair": widgets.dropdown(list(views), pair if pair in views else None, "stream pair")},
    interactive=interactive,
    name=f"04_fusion_weights_seed{seed}",
    figures_dir=figures_dir,
)

# %%
weights = {label: fusion.weight_statistics(view) for label, view in views.items()}
results = {"seed": seed, "accuracy": summary.set_index("pair").to_dict(orient="index"), "weights": weights}
notebook.save_results(
    notebook.results_path(out_dir, preset, f"04_fusion_weights_seed{seed}", run_dir), results
)
pd.DataFrame(
    {label: {k: v for k, v in w.items() if k != "weight_a_per_class"} for label, w in weights.items()}
).T

# %% [markdown]
# Per class: the mean weight of stream A (the first of the pair's name) on each class's test videos. On the
# mixed task, the colour classes (`Warm…`, `Cool…`) are where the RGB-side stream should carry the weight
# and the ball and bar classes where the flow-side stream should.

# %%
pd.DataFrame({label: w["weight_a_per_class"] for label, w in weights.items()}).round(2)

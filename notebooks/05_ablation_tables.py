# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Results: the paper's tables, with the statistics a reviewer asks for
#
# Collects every run of a plan (`<out_dir>/<preset>/`) into the paper's tables. Accuracies are
# video-level top-1 under the MARS protocol on the test split, which is never used to choose anything
# (α and the fusion module use the validation split). Every cell is the mean over seeds with a 95 %
# confidence interval $\bar{x} \pm t_{0.975,\,n-1}\, s/\sqrt{n}$ (Student t; a single seed has no
# interval), and every table states its n.
#
# Two methods are compared by **paired differences**: seed k of every student shares the data order, the
# initialisation and the flow teacher (k mod the number of teacher seeds), so we take the per-seed
# difference $d_k = a_k - b_k$ and report $\bar{d} \pm t_{0.975,\,n-1}\, s_d/\sqrt{n}$ over the seeds both
# have. An interval that excludes 0 is a difference these seeds support; one that includes 0 is not.
#
# - **Table 1** — what a student that mimics the flow teacher is worth alone (*Mimic*, RGB only at test
#   time) and fused with the RGB stream or its flow teacher, for MARS and DS, next to RGB, Flow (the
#   teacher seeds) and RGB+Flow. The fused rows average the two streams' scores, as the paper's columns do;
#   attention fusion is Table 2's.
# - **Table 2** — the ablation of the loss: MARS (CE + α·MSE, Eq. 1) → +MAE (Eq. 2) → +Gram (Eq. 3) →
#   both (DS) → DS + Flow averaging → attention fusion, with the paired differences; when the plan
#   trained it, DS without the pooled level (`distill.layers` layer1–layer4).
# - **Table 3** — starting from pretrained weights (the paper's regime) vs from scratch.
# - **Table 4** — beyond the paper: the summed distillation term normalized to CE at step 0.
# - The **collapse check** and the **α sweep**; then what the numbers say, written from them.

# %% tags=["parameters"]
preset: str = "cpu"  # config preset whose runs are collected
out_dir: str = "runs"  # root folder of all runs
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
fusion: str = "average"  # fusion of Table 1's +RGB / +Flow rows: average (the paper's) or attention
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
figures_dir: str = "figures"  # where tables (.md, .tex) and figures (PNG + PDF) are written

# %%
from IPython.display import Markdown, display

from dualaction_lib.study import ablation, findings, notebook
from dualaction_lib.viz import plots, widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
runs = ablation.collect_runs(f"{out_dir}/{preset}")
fusions = ablation.collect_fusions(f"{out_dir}/{preset}", runs)
print(f"{len(runs)} runs, {len(fusions)} fusions in {out_dir}/{preset}")
runs.sort_values(["variant", "method", "alpha", "seed"]).set_index("run")

# %% [markdown]
# ## Table 1 — mimicking the motion stream
# The +RGB / +Flow rows use the `fusion` parameter; the figure lets you switch it. Each +Flow row fuses
# student seed k with its own teacher, so the teacher's variance is part of the interval.

# %%
table1 = ablation.table1(runs, fusions, fusion)
widgets.show_table(table1, figures_dir)
widgets.show_view(
    lambda method: plots.plot_table(ablation.table1(runs, fusions, method)),
    {"method": widgets.dropdown(["attention", "average"], fusion, "fusion")},
    interactive=interactive,
    name="05_table1",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Table 2 — ablation of the distillation loss and of the fusion
# Left: each row's mean ± CI with one dot per seed. Right: the paired differences (one dot per seed;
# an open marker is a single pair, which has no interval).

# %%
table2 = ablation.table2(runs, fusions)
widgets.show_table(table2, figures_dir)
widgets.show_figure(plots.plot_table(table2), "05_table2", interactive=interactive, figures_dir=figures_dir)

# %% [markdown]
# ## Table 3 — pretrained vs from scratch
# The paper's students start from Kinetics; ours from the pretraining stage. The same RGB, MARS and DS
# recipes from random weights show what pretraining is worth and whether distillation helps in either
# regime (the last column: how the gap changes with pretraining).

# %%
table3 = ablation.table3(runs)
widgets.show_table(table3, figures_dir)
widgets.show_figure(plots.plot_table(table3), "05_table3", interactive=interactive, figures_dir=figures_dir)

# %% [markdown]
# ## Table 4 — normalized loss terms (beyond the paper)
# With the paper's formulas a distillation term's scale depends on the features (the Gram term grows
# with the square of the activations), so one α weighs MARS and DS very differently. `step0` rescales
# the summed distillation term to equal CE on the first batch, so both methods start with the same total
# distillation weight: does the ranking survive?

# %%
table4 = ablation.table4(runs)
widgets.show_table(table4, figures_dir)
widgets.show_figure(plots.plot_table(table4), "05_table4", interactive=interactive, figures_dir=figures_dir)

# %% [markdown]
# ## Collapse check
# A test accuracy near chance could mean a hard task or a student that stopped learning. A run whose final
# train accuracy is at or below chance + 20 points has collapsed (typically to one class: the distillation
# terms drowned CE, see the loss balance in notebook 03). Its test numbers say nothing about the method.

# %%
collapse = ablation.collapse_check(runs)
widgets.show_table(collapse, figures_dir)

# %% [markdown]
# ## Sensitivity to α
# DS at every α of the plan over the same seeds (cpu: 0, 1, 10, 50, ≥ 3 seeds each), with the preset's α
# from the main runs; α = 0 is CE only, with the same recipe and budget. Error bars are the table's
# intervals; a point from one seed is drawn open, without a bar. Dashed lines: the RGB and Flow means
# of Table 1.

# %%
sweep = ablation.alpha_sweep(runs, "ds")
sweep_table = ablation.alpha_sweep_table(sweep)
widgets.show_table(sweep_table, figures_dir)
baselines = {"RGB": table1.rows.loc["RGB", "mean"], "Flow teacher": table1.rows.loc["Flow", "mean"]}
widgets.show_figure(
    plots.plot_alpha_sweep(sweep, baselines),
    "05_alpha_sweep",
    interactive=interactive,
    figures_dir=figures_dir,
)

# %% [markdown]
# ## What the numbers say
# Written by code from the intervals above, so it changes when the runs do.

# %%
summary = findings.summarize(table2, table3, table4, collapse, sweep)
display(Markdown(summary))

# %%
results = {
    **{t.name: t.to_dict() for t in (table1, table2, table3, table4, collapse, sweep_table)},
    "alpha_sweep": sweep.to_dict(orient="records"),
    "summary": summary,
    "num_runs": len(runs),
    "num_fusions": len(fusions),
}
notebook.save_results(notebook.results_path(out_dir, preset, "05_ablation_tables", run_dir), results)

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
# video-level top-1 under the MARS protocol on the test split, which is never used to choose anything:
# each distilling method's α was chosen on the validation split with the same grid, seeds and budget
# (`bench/tune_alpha.py`, recorded in `bench/results/alpha_tuning.json`), and the fusion module is fitted
# on the validation split. Every cell is the mean over seeds with a 95 %
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
# - **Table 5** — MARS and DS at their own tuned α and at the paper's α = 50.
# - **Table 6** — on the mixed task: each stream and student on the appearance-only and the motion-only
#   classes. Does imitating flow cost the student appearance?
# - The **collapse check**, the **power** of the paired design (the smallest difference it can detect)
#   and the **sensitivity to α** on the validation split; then what the numbers say, written from them.

# %% tags=["parameters"]
preset: str = "cpu"  # config preset whose runs are collected
out_dir: str = "runs"  # root folder of all runs
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
fusion: str = "average"  # fusion of Table 1's +RGB / +Flow rows: average (the paper's) or attention
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
figures_dir: str = "figures"  # where tables (.md, .tex) and figures (PNG + PDF) are written
tuning_record: str = "bench/results/alpha_tuning.json"  # the per-method α tuning (bench/tune_alpha.py)

# %%
from IPython.display import Markdown, display

from dualaction_lib.study import ablation, cues, findings, notebook, power, tuning
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
# distillation weight: does the ranking survive? What it compares: the paper's form at each method's own
# tuned α against the step0 form at α = 1 for both (not tuned: α = 1 is "the distillation term equals CE
# at step 0", the form's natural unit).

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
# ## Table 5 — each method at its own α and at the paper's α = 50
# The main tables run each method at the α it was tuned to on the validation split. The paper used 50
# for both; here are MARS and DS at 50 on the same seeds (≥ 3), next to their tuned α.

# %%
table5 = ablation.table5(runs)
widgets.show_table(table5, figures_dir)
widgets.show_figure(plots.plot_table(table5), "05_table5", interactive=interactive, figures_dir=figures_dir)

# %% [markdown]
# ## Table 6 — appearance-only vs motion-only classes
# On the mixed task 4 classes differ only in the box's colour family (flow is computed from grey frames and
# cannot see it) and 8 only in what moves where (one RGB frame cannot see the direction). A student that
# imitates the flow teacher too closely could trade the first for the second; the fused row shows what the
# two streams together know. Shown only for a task with such classes.

# %%
table6 = cues.table6(runs, fusions)
if table6 is not None:
    widgets.show_table(table6, figures_dir)
    widgets.show_figure(
        plots.plot_table(table6), "05_table6", interactive=interactive, figures_dir=figures_dir
    )

# %% [markdown]
# ## Power: the smallest difference this design can detect
# A paired interval that includes 0 means "not detectable at this n", not "no difference". From the
# spread $s_d$ of the per-seed differences, the smallest true difference the paired t-test finds with
# 80 % probability is $(t_{0.975,\,n-1} + t_{0.80,\,n-1})\, s_d/\sqrt{n}$; the last column says how many
# seeds would bring the half-width to ± 3 points if $s_d$ stayed as measured.

# %%
power_of_design = power.power_table(table2)
widgets.show_table(power_of_design, figures_dir)

# %% [markdown]
# ## Sensitivity to α (validation split)
# How each method's own α was chosen: validation top-1 against α for MARS and DS side by side, from the
# tuning record (the same grid, seeds and budget for every method; the grid grows beyond an edge where a
# method's best lies there). Every seed is a dot; the ringed point is the chosen α.

# %%
sensitivity, about = tuning.sensitivity(tuning_record)
print(about.get("missing") or f"{tuning_record}: {about}")
widgets.show_figure(
    plots.plot_alpha_sweep(sensitivity, ("mars", "ds"), ablation.NAMES),
    "05_alpha_sensitivity",
    interactive=interactive,
    figures_dir=figures_dir,
)
sensitivity.pivot(index="alpha", columns="method", values="mean").mul(100).round(1)

# %% [markdown]
# ## What the numbers say
# Written by code from the intervals above, so it changes when the runs do.

# %%
summary = findings.summarize(table2, table3, table4, table5, collapse, power_of_design, sensitivity, table6)
display(Markdown(summary))

# %%
results = {
    **{
        t.name: t.to_dict()
        for t in (table1, table2, table3, table4, table5, table6, collapse, power_of_design)
        if t
    },
    "alpha_sensitivity": sensitivity.to_dict(orient="records"),
    "summary": summary,
    "num_runs": len(runs),
    "num_fusions": len(fusions),
}
notebook.save_results(notebook.results_path(out_dir, preset, "05_ablation_tables", run_dir), results)

# ruff: noqa: E402, B018
# %% [markdown]
# # 05 · Ablation tables
#
# Collects every run of a plan (`<out_dir>/<preset>/`) into the seed paper's two tables, with the mean and
# a 95 % confidence interval over seeds ($\bar{x} \pm t_{0.975,\,n-1}\, s/\sqrt{n}$; a single seed has no
# interval). Accuracies are video-level top-1 under the MARS protocol.
#
# - **Table 1** — what a student that mimics the flow teacher is worth alone (*Mimic*, RGB only at test
#   time) and fused with the RGB stream or the flow stream, for MARS and DS, next to the RGB, Flow and
#   RGB+Flow baselines.
# - **Table 2** — the ablation of the loss: MARS (CE + α·MSE, Eq. 1) → +MAE (Eq. 2) → +Gram (Eq. 3) →
#   both (DS) → DS + Flow with averaging → DS + Flow with the attention fusion module.
#
# Both are written as Markdown and LaTeX to `figures_dir`, with bar plots and the α sweep.

# %% parameters
preset: str = "cpu"  # config preset whose runs are collected
out_dir: str = "runs"  # root folder of all runs
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
fusion: str = "attention"  # fusion used for the +RGB / +Flow columns of Table 1: attention or average
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
figures_dir: str = "figures"  # where tables (.md, .tex) and figures (PNG + PDF) are written

# %%
from IPython.display import Markdown, display

from dualaction_lib.study import ablation
from dualaction_lib.viz import notebook, plots, tables, widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
runs = ablation.collect_runs(f"{out_dir}/{preset}")
fusions = ablation.collect_fusions(f"{out_dir}/{preset}", runs)
print(f"{len(runs)} runs, {len(fusions)} fusions in {out_dir}/{preset}")
runs.sort_values(["method", "alpha", "seed"]).set_index("run")

# %% [markdown]
# ## Table 1 — mimicking the motion stream
# The table uses the `fusion` parameter; the bar plot lets you switch the fusion of the +RGB / +Flow rows.

# %%
table1 = ablation.table1(runs, fusions, fusion)
tables.write_table(
    table1, "table1", f"Table 1: students that mimic the flow stream ({fusion} fusion)", figures_dir
)
display(Markdown(tables.to_markdown(table1, "Table 1")))
widgets.show_view(
    lambda method: plots.plot_table_bars(
        ablation.table1(runs, fusions, method), f"Table 1 ({method} fusion)"
    ),
    {"method": widgets.dropdown(["attention", "average"], fusion, "fusion")},
    interactive=interactive,
    name="05_table1",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Table 2 — ablation of the distillation loss and of the fusion

# %%
table2 = ablation.table2(runs, fusions)
tables.write_table(table2, "table2", "Table 2: ablation of the loss terms and of the fusion", figures_dir)
display(Markdown(tables.to_markdown(table2, "Table 2")))
widgets.show_figure(
    plots.plot_table_bars(table2, "Table 2"), "05_table2", interactive=interactive, figures_dir=figures_dir
)

# %% [markdown]
# ## Sensitivity to α
# The DS student for α ∈ {0, 1, 10, 50, 100}: α = 0 is the RGB baseline trained on the same batches; too
# large an α lets the feature terms drown the classification loss. Dashed lines: RGB and Flow streams.

# %%
sweep = ablation.alpha_sweep(runs, "ds")
baselines = {"RGB": table1.loc["RGB", "mean"], "Flow teacher": table1.loc["Flow", "mean"]}
widgets.show_figure(
    plots.plot_alpha_sweep(sweep, baselines),
    "05_alpha_sweep",
    interactive=interactive,
    figures_dir=figures_dir,
)
sweep

# %%
results = {
    "table1": table1.to_dict(orient="index"),
    "table2": table2.to_dict(orient="index"),
    "alpha_sweep": sweep.to_dict(orient="records"),
    "num_runs": len(runs),
    "num_fusions": len(fusions),
}
notebook.save_results(notebook.results_path(out_dir, preset, "05_ablation_tables", run_dir), results)

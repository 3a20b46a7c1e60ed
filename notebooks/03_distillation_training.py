# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Distillation training
#
# One training run of one method. The **flow teacher** is a 3D CNN trained with cross-entropy on TV-L1
# flow. Students see RGB only and are trained while the frozen teacher sees the aligned flow of the same clip:
#
# - `rgb`: $\mathcal{L} = \mathrm{CE}(h, y)$ — the RGB baseline;
# - `mars` (Eq. 1): $\mathcal{L} = \mathrm{CE} + \alpha\,\lVert f_s - f_t \rVert_2^2$ on the pooled feature;
# - `ds` (Eqs. 2–3): $\mathcal{L} = \mathrm{CE} + \alpha\,(\mathcal{L}_{MAE} + \mathcal{L}_G)$ with
#   $\mathcal{L}_{MAE} = \frac{1}{n-1}\sum_i \mathrm{mean}\,|f^s_i - f^t_i|$ and
#   $\mathcal{L}_G = \sum_i \frac{\sum_{c,c'} |G(f^s_i) - G(f^t_i)|}{(n-1)\,C_i T_i H_i W_i}$,
#   $G(f) = F F^\top$, over the stage outputs layer1…layer4 and the pooled feature;
# - `ds_mae` / `ds_gram`: one of the two terms only (the ablation of Table 2).
#
# As in the paper, no network starts from random weights: the cpu preset's pretraining stage (the
# Kinetics analogue, preset `cpu_source`) trains an RGB and a flow network on a larger, disjoint source
# set; the teacher starts from the flow one, every student from the RGB one (`init: scratch` switches
# this off for the init ablation). `normalize: step0` is an option beyond the paper: the summed
# distillation term is rescaled so that it equals CE on the first batch, so MARS and DS start with the
# same total distillation weight. `layers` chooses the levels DS distils (Table 2's optional row leaves
# out the pooled one).
#
# The batch runner repeats this notebook for every method × seed of a plan, the pretraining runs, the
# normalized and from-scratch variants and the α sweep.

# %% tags=["parameters"]
from typing import Optional  # papermill's --help-notebook reads Optional[float], not float | None

preset: str = "cpu"  # config preset (configs/<preset>.yaml)
method: str = "ds"  # flow (teacher), rgb, mars, ds, ds_mae or ds_gram
alpha: Optional[float] = None  # distillation weight alpha (None: the preset's value)
seed: int = 0  # random seed of the run
epochs: Optional[int] = None  # training epochs (None: the preset's value)
init: Optional[str] = None  # scratch or pretrained (None: the preset's value)
normalize: Optional[str] = None  # distillation terms: none (paper) or step0 (None: the preset's value)
layers: Optional[list] = None  # DS feature levels, e.g. [layer1, layer2, layer3, layer4] (None: the preset's)
variant: str = "main"  # the plan's experiment: main, scratch, norm, nopool, sweep, other (names the folder)
name: str = ""  # run folder name; empty: from method, seed and variant (<method>_seed<seed> for main)
out_dir: str = "runs"  # root folder of all runs; this run goes to <out_dir>/<preset>/<name>
run_dir: str = ""  # show an existing run folder instead of training one (empty: train)
interactive: bool = True  # True: curves redraw live each epoch; False (batch): figures saved to figures_dir
figures_dir: str = "figures"  # where figures are written (PNG + PDF)

# %%
from pathlib import Path

from dualaction_lib.engine import train
from dualaction_lib.rundir import RunDir
from dualaction_lib.study import notebook, runs
from dualaction_lib.viz import widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
choices = {"alpha": alpha, "epochs": epochs, "init": init, "normalize": normalize, "layers": layers}
cfg = runs.run_config(preset, method, seed, **choices, variant=variant, name=name, out_dir=out_dir)
print(runs.describe(cfg))

# %% [markdown]
# ## Training
# A student of seed k distills from the flow teacher `flow_seed<k mod distill.teacher_seeds>` (twelve
# teacher seeds in the cpu preset, one per student seed, so the teacher's variance reaches the
# tables). A missing teacher or pretraining run is trained first. A complete run is not retrained
# (delete its folder to start over);
# an interrupted one resumes from its last checkpoint. In JupyterLab the curves redraw after every epoch.

# %%
folder = Path(run_dir) if run_dir else RunDir.of(cfg).path
with runs.live_curves(folder, interactive, title=folder.name) as curves:
    run = Path(run_dir) if run_dir else train(cfg, on_epoch_end=curves)

# %% [markdown]
# ## Learning curves
# Each loss term as logged per step: `total` is the training objective, while `mae`, `gram` and `mse` are
# the distillation terms before the factor α, as a running mean over the chosen number of steps. Then the
# learning-rate schedule. Right: the train clip accuracy of every epoch against the test video accuracy,
# measured every `eval.every` epochs and at the end (star; never used to choose anything), with the
# validation accuracy (diamond) and chance (dotted). A student that stays near chance on its own training
# clips has collapsed; one far above its test accuracy overfits.

# %%
widgets.show_view(
    lambda smoothing: runs.curves_view(run, run.name, smoothing),
    {"smoothing": runs.smoothing_control(run)},
    interactive=interactive,
    name=f"03_training/{run.name}_curves",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Loss balance
# What actually moves the student is not a term's value but its gradient. At the first batch of every
# epoch the training loop measures, for each weighted term (CE, α·MAE, α·Gram for DS; α·MSE for MARS),
# its value and the norm of its gradient at the student's parameters. Left: the weighted values; right:
# each term's share of the summed gradient norms. If a distillation term's share is close to 1, CE barely
# steers the student: at the paper's α = 50 the Gram term's gradient can drown CE, and a student that
# cannot compute the teacher's motion features from RGB then matches only their mean and collapses to
# one class (the collapse check of notebook 05 looks for it). With `normalize: step0` the weights include
# the step-0 scale, so the distillation terms together start level with CE.

# %%
fig = runs.balance_view(run)  # None for rgb and flow: CE is the whole loss
if fig is None:
    print(f"{run.name}: cross-entropy only, no distillation terms to balance")
else:
    widgets.show_figure(
        fig, f"03_training/{run.name}_balance", interactive=interactive, figures_dir=figures_dir
    )

# %% [markdown]
# ### Which level pulls
# On the run's first batch the loop also measures every level of MAE and Gram (layer1 … layer4 and the
# pooled vector): each level's part of its term and its share of the summed gradient norms of CE and all
# levels (CE's share is the dashed line). The Gram matrix of the pooled vector is rank one and divided
# only by C, so it can pull far harder than its size suggests; Table 2's optional row trains DS without
# that level.

# %%
fig = runs.level_balance_view(run)  # None without multi-level terms (rgb, flow, mars)
if fig is None:
    print(f"{run.name}: no multi-level distillation terms")
else:
    widgets.show_figure(
        fig, f"03_training/{run.name}_levels", interactive=interactive, figures_dir=figures_dir
    )

# %% [markdown]
# ## Evaluation (MARS protocol)
# Every non-overlapping clip of a test video, centre crop, scores averaged per video. Video top-1 is the
# number the tables report; clip top-1 is shown because the two are often confused.

# %%
summary = runs.run_summary(run)
summary.to_frame(run.name)

# %%
fig = runs.confusion_view(run)
widgets.show_figure(
    fig, f"03_training/{run.name}_confusion", interactive=interactive, figures_dir=figures_dir
)

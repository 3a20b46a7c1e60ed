# ruff: noqa: E402, B018
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
# The batch runner repeats this notebook for every method × seed (and the α sweep) of a plan.

# %% parameters
from typing import Optional  # papermill's --help-notebook reads Optional[float], not float | None

preset: str = "cpu"  # config preset (configs/<preset>.yaml)
method: str = "ds"  # flow (teacher), rgb, mars, ds, ds_mae or ds_gram
alpha: Optional[float] = None  # distillation weight alpha (None: the preset's value)
seed: int = 0  # random seed of the run
epochs: Optional[int] = None  # training epochs (None: the preset's value)
name: str = ""  # run folder name; empty: <method>_seed<seed>
out_dir: str = "runs"  # root folder of all runs; this run goes to <out_dir>/<preset>/<name>
run_dir: str = ""  # show an existing run folder instead of training one (empty: train)
interactive: bool = True  # True: curves redraw live each epoch; False (batch): figures saved to figures_dir
figures_dir: str = "figures"  # where figures are written (PNG + PDF)

# %%
from pathlib import Path

from dualaction_lib.engine import train
from dualaction_lib.study import runs
from dualaction_lib.viz import notebook, widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
cfg = runs.run_config(preset, method, seed, alpha=alpha, epochs=epochs, name=name, out_dir=out_dir)
print(
    f"{cfg.method}: {cfg.model.arch} {cfg.model.widths}, alpha {cfg.distill.alpha}, "
    f"{cfg.optim.epochs} epochs, {cfg.data.clip_len}×{cfg.data.crop_size}² clips → {cfg.run_dir}"
)

# %% [markdown]
# ## Training
# Distilling methods first need the flow teacher; if `<out_dir>/<preset>/flow_seed0` is missing it is
# trained first. A complete run is not retrained (delete its folder to start over); an interrupted one
# resumes from its last checkpoint. In JupyterLab the curves redraw after every epoch while it trains.

# %%
with runs.live_curves(run_dir or cfg.run_dir, interactive, title=cfg.run_name) as curves:
    run = Path(run_dir) if run_dir else train(cfg, on_epoch_end=curves)

# %% [markdown]
# ## Learning curves
# Each loss term as logged per step: `total` is the training objective, while `mae`, `gram` and `mse` are
# the distillation terms before the factor α, as a running mean over the chosen number of steps. Then the
# learning-rate schedule, and the train accuracy per epoch with the final test accuracy (star).

# %%
widgets.show_view(
    lambda smoothing: runs.curves_view(run, run.name, smoothing),
    {"smoothing": runs.smoothing_control(run)},
    interactive=interactive,
    name=f"03_training/{run.name}_curves",
    figures_dir=figures_dir,
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

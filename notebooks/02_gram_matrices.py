# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Gram matrices: what the students share with the flow teacher
#
# DS trains an RGB student to match the frozen flow teacher at every stage $i$ (layer1…layer4 and the
# pooled feature) in two ways: element-wise (Eq. 2, $\mathcal{L}_{MAE}$) and through the channel
# correlations $G(f_i) = F_i F_i^\top$, $F_i \in \mathbb{R}^{C_i \times T_i H_i W_i}$ (Eq. 3,
# $\mathcal{L}_G$), which ignore *where* a pattern occurs and keep *which channels fire together* — the
# "style" of motion features. MARS (Eq. 1) only matches the pooled feature. Here we put the teacher's
# features (on flow) next to DS's, MARS's and the plain RGB baseline's (on the aligned RGB clip), and
# measure per layer how close each student gets to the teacher across the test set. The teacher of
# student seed k is the one it distilled from, `flow_seed<k mod distill.teacher_seeds>`.

# %% tags=["parameters"]
from typing import Optional  # papermill's --help-notebook reads Optional[int], not int | None

preset: str = "cpu"  # config preset whose runs are compared
seed: int = 1  # seed of the student runs (ds_seed<k>, mars_seed<k>, rgb_seed<k>)
teacher_seed: Optional[int] = None  # flow teacher run flow_seed<k> (None: the students' own teacher)
out_dir: str = "runs"  # root folder of all runs
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
max_videos: int = 32  # test videos used for the distance statistics
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
figures_dir: str = "figures"  # where batch mode writes the PNG + PDF figures

# %%
from dualaction_lib.feature_names import DISTILL_LAYERS
from dualaction_lib.study import notebook
from dualaction_lib.study.features import FeatureStudy, distance_table
from dualaction_lib.viz import feature_plots, widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
study = FeatureStudy(f"{out_dir}/{preset}", seed, teacher_seed)
pick_layer = widgets.dropdown(DISTILL_LAYERS, "layer3", "layer")
pick_clip = widgets.slider(0, len(study) - 1, 0, description="test video")
pick_model = widgets.dropdown(study.students, study.students[0], "student")
print(f"teacher and students: {[r.name for r in study.runs.values()]}; {len(study)} test videos")

# %% [markdown]
# ## Gram matrices side by side
# Each panel is $G(f)/(C\,T\,H\,W)$ for one network on the same clip, on the teacher's colour scale; the
# title gives the Gram term of Eq. 3 at that layer. A student that learned the teacher's motion features
# reproduces its block structure.

# %%
widgets.show_view(
    study.gram_view,
    {"layer": pick_layer, "clip": pick_clip},
    interactive=interactive,
    name="02_gram_matrices",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Feature maps
# The first channels of a student's features next to the teacher's at the middle time step. The MAE term
# (Eq. 2) pulls channel $c$ of the student towards channel $c$ of the teacher, so with DS the maps line up.

# %%
widgets.show_view(
    study.feature_view,
    {"layer": pick_layer, "clip": pick_clip, "model": pick_model},
    interactive=interactive,
    name="02_feature_maps",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Distances to the teacher across the test set
# Does DS get closer to the teacher than MARS, and where? MARS only constrains the pooled feature, so it
# should match there but not in the intermediate layers; the RGB baseline shows the distance with no
# distillation at all.

# %%
distances = study.distances(max_videos)
fig = feature_plots.plot_layer_distances(distances)
widgets.show_figure(fig, "02_layer_distances", interactive=interactive, figures_dir=figures_dir)

# %%
table = distance_table(distances)
means = {
    f"{metric}/{model}/{layer}": value
    for (metric, model), column in table.items()
    for layer, value in column.items()
}
notebook.save_results(
    notebook.results_path(out_dir, preset, f"02_gram_matrices_seed{seed}", run_dir),
    {"seed": seed, "num_videos": int(distances.video.nunique()), "mean_distances": means},
)
table.style.format("{:.4g}")

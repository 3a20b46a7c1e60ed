"""Notebook 02: per-layer features and Gram matrices of the flow teacher and the RGB students.

The teacher sees a test clip's flow, the students (DS, MARS, the plain RGB baseline) the aligned RGB clip.
Distances per level i (the terms of Eqs. 2-3 before summing over levels):
``mae_i = mean |f_s - f_t|`` and ``gram_i = mean_batch Σ |G(f_s) - G(f_t)| / (C·T·H·W)``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .core import new_figure

LAYERS = ("layer1", "layer2", "layer3", "layer4", "pool")
STREAMS = {"teacher (flow)": "flow_seed{t}", "DS": "ds_seed{s}", "MARS": "mars_seed{s}", "RGB": "rgb_seed{s}"}


def load_run_model(run_dir: str | os.PathLike) -> torch.nn.Module:
    """A trained run's network from its config.yaml and checkpoint.pt, in eval mode on the CPU."""
    from dualaction_lib.config import override, read_config
    from dualaction_lib.engine import data as edata
    from dualaction_lib.engine.modeling import build_student

    cfg = read_config(run_dir)
    model = build_student(override(cfg, **{"model.pretrained": ""}), len(edata.class_names(cfg)))
    ckpt = torch.load(Path(run_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    return model.eval()


def layer_distances(fs: torch.Tensor, ft: torch.Tensor) -> tuple[float, float]:
    """(Gram distance, MAE) between student and teacher features of one level."""
    from dualaction_lib.losses import gram_matrix

    size = fs[0].numel()  # C·T·H·W (C for pooled features)
    gram = (gram_matrix(fs) - gram_matrix(ft)).abs().sum(dim=(1, 2)).mean() / size
    return float(gram), float((fs - ft).abs().mean())


class FeatureStudy:
    """Frozen teacher + students of one seed and the aligned RGB/flow test clips they are compared on."""

    def __init__(self, preset_dir: str | os.PathLike, seed: int, teacher_seed: int = 0):
        root = Path(preset_dir)
        runs = {name: root / p.format(s=seed, t=teacher_seed) for name, p in STREAMS.items()}
        self.runs = {name: r for name, r in runs.items() if (r / "checkpoint.pt").exists()}
        teacher = next(iter(STREAMS))
        if teacher not in self.runs or len(self.runs) < 2:
            raise FileNotFoundError(f"need {runs[teacher]} and at least one student run in {root}")
        self.models = {name: load_run_model(run) for name, run in self.runs.items()}
        self.dataset = self._test_set(self.runs[next(n for n in self.runs if n != teacher)])
        self.teacher = teacher
        self.features = lru_cache(maxsize=8)(self._features)

    @staticmethod
    def _test_set(student_run: Path):
        from dualaction_lib.config import override, read_config
        from dualaction_lib.engine import data as edata

        cfg = override(read_config(student_run), **{"eval.protocol": "mars"})
        _, test, _ = edata.load_entries(cfg)
        return edata.make_dataset(cfg, test, "rgb+flow", "test")

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
            name: model.forward_intermediates(inputs["flow" if name == self.teacher else "rgb"], LAYERS)
            for name, model in self.models.items()
        }

    def distances(self, max_videos: int = 32) -> pd.DataFrame:
        """Per test video, student and layer: Gram distance and MAE to the teacher (long format)."""
        rows = []
        for clip in range(min(max_videos, len(self))):
            feats = self._features(clip)
            for name in self.students:
                for layer in LAYERS:
                    gram, mae = layer_distances(feats[name][layer], feats[self.teacher][layer])
                    rows.append({"video": clip, "model": name, "layer": layer, "gram": gram, "mae": mae})
        return pd.DataFrame(rows)

    def gram_view(self, layer: str = "layer3", clip: int = 0) -> Figure:
        """The Gram matrix of every model on one clip, on the teacher's colour scale."""
        from dualaction_lib.losses import gram_matrix

        feats = self.features(clip)
        grams = {n: gram_matrix(f[layer])[0].numpy() / f[layer][0].numel() for n, f in feats.items()}
        vmax = float(np.percentile(np.abs(grams[self.teacher]), 99)) or 1.0
        fig = new_figure(3.4 * len(grams), 3.6)
        for ax, (name, gram) in zip(fig.subplots(1, len(grams)), grams.items(), strict=True):
            image = ax.imshow(gram, cmap="viridis", vmin=0, vmax=vmax)
            note = (
                ""
                if name == self.teacher
                else f"\nGram dist. {layer_distances(feats[name][layer], feats[self.teacher][layer])[0]:.3g}"
            )
            ax.set_title(f"{name}{note}", fontsize=9)
            ax.set(xlabel="channel", ylabel="channel")
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label="G / (C·T·H·W)")
        fig.suptitle(f"Gram matrices at {layer}, test video {clip}")
        return fig

    def feature_view(
        self, layer: str = "layer2", clip: int = 0, model: str = "DS", channels: int = 6
    ) -> Figure:
        """The first channels of ``model``'s features next to the teacher's (middle time step)."""
        feats = self.features(clip)
        if layer == "pool":
            return self._pool_view(feats, model)
        fig = new_figure(1.9 * channels, 4.2)
        axes = fig.subplots(2, channels, squeeze=False)
        for row, name in enumerate((self.teacher, model)):
            f = feats[name][layer][0]
            frame = f[:, f.shape[1] // 2].numpy()
            for c in range(min(channels, frame.shape[0])):
                axes[row, c].imshow(frame[c], cmap="magma")
                axes[row, c].set_xticks([])
                axes[row, c].set_yticks([])
                axes[row, c].set_title(f"{name if c == 0 else ''} ch {c}", fontsize=8)
        fig.suptitle(f"{layer} features (middle time step), test video {clip}: teacher vs {model}")
        return fig

    def _pool_view(self, feats: dict, model: str) -> Figure:
        fig = new_figure(8, 3)
        ax = fig.subplots()
        ax.plot(feats[self.teacher]["pool"][0].numpy(), label=self.teacher)
        ax.plot(feats[model]["pool"][0].numpy(), label=model)
        ax.set(xlabel="channel", ylabel="pooled activation", title="Pooled features (the MARS target)")
        ax.legend()
        return fig


def plot_layer_distances(distances: pd.DataFrame) -> Figure:
    """Mean Gram distance and MAE to the teacher per layer and student (± 95 % CI over test videos)."""
    fig = new_figure(11, 3.8)
    for ax, metric in zip(fig.subplots(1, 2), ("gram", "mae"), strict=True):
        for name, group in distances.groupby("model", sort=False):
            stats = group.groupby("layer", sort=False)[metric].agg(["mean", "std", "count"]).reindex(LAYERS)
            half = 1.96 * stats["std"].fillna(0) / np.sqrt(stats["count"].clip(lower=1))
            ax.errorbar(range(len(LAYERS)), stats["mean"], yerr=half, marker="o", capsize=3, label=name)
        ax.set_xticks(range(len(LAYERS)), LAYERS)
        ax.set_yscale("log")
        title = "Gram distance to the teacher" if metric == "gram" else "Mean absolute error to the teacher"
        ax.set(ylabel=metric.upper() if metric == "mae" else "Gram distance", title=title)
        ax.legend(fontsize=8)
    return fig


def distance_table(distances: pd.DataFrame) -> pd.DataFrame:
    """Mean distance per (layer, student): rows layers, columns (metric, student)."""
    return distances.pivot_table(index="layer", columns="model", values=["gram", "mae"], sort=False).reindex(
        LAYERS
    )

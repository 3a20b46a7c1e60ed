"""Run times of flow methods, measured so that they can be compared: warm, repeated, per pair and per clip.

The first call of a method pays one-off costs that later calls do not: torch starts its thread pool and
allocates its pyramid buffers, OpenCV builds its solver. Timed once and cold, our torch TV-L1 looked 7×
slower than OpenCV's on one pair; warm, the two took 0.35 s and 0.28 s (128×228, 2 threads). So every
measurement here makes ``warmup`` untimed calls first and reports the **median** of ``repeats`` timed calls.

Two modes per method: one frame pair per call, and the whole clip (all N-1 consecutive pairs): one
batched call for methods that solve a batch of pairs at once (our torch TV-L1), a loop over the pairs
for the others (OpenCV's TV-L1, DIS, Farneback). ``pairs_per_s`` is the throughput an extraction run
would see.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

FlowFn = Callable[[Any, Any], np.ndarray]
Clock = Callable[[], float]
COLUMNS = ("method", "mode", "pairs", "call", "seconds", "ms_per_pair", "pairs_per_s", "repeats")


def median_seconds(
    call: Callable[[], object], repeats: int = 3, warmup: int = 1, clock: Clock = time.perf_counter
) -> float:
    """Median wall time of ``repeats`` calls of ``call()``, after ``warmup`` calls that are not timed."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = clock()
        call()
        times.append(clock() - start)
    return float(statistics.median(times))


def _clip_call(fn: FlowFn, prev, nxt, batched: bool) -> tuple[Callable[[], object], str]:
    if batched:
        return (lambda: fn(prev, nxt)), "one batched call"
    return (lambda: [fn(a, b) for a, b in zip(prev, nxt, strict=True)]), "loop over pairs"


def time_flow_methods(
    frames,
    methods: dict[str, FlowFn],
    *,
    batched: Collection[str] = (),
    pair: int = 0,
    repeats: int = 3,
    warmup: int = 1,
    clock: Clock = time.perf_counter,
) -> pd.DataFrame:
    """Time each method on one pair and on the whole clip; one row per (method, mode).

    frames: grayscale ``(N, H, W)``, N >= 2 (the clip); ``pair`` is the pair of the single-pair mode.
    methods: name → ``fn(prev, nxt)``; names in ``batched`` take ``(N-1, H, W)`` batches in one call.
    Columns: method, mode (``single pair`` / ``clip``), pairs, call (how the pairs were passed), seconds
    (median per call), ms_per_pair, pairs_per_s, repeats.
    """
    if len(frames) < 2:
        raise ValueError(f"need at least 2 frames to time flow, got {len(frames)}")
    prev, nxt = frames[:-1], frames[1:]
    rows = []
    for name, fn in methods.items():
        single = median_seconds(partial(fn, prev[pair], nxt[pair]), repeats, warmup, clock)
        clip_call, how = _clip_call(fn, prev, nxt, name in batched)
        clip = median_seconds(clip_call, repeats, warmup, clock)
        for mode, pairs, seconds, call in (
            ("single pair", 1, single, "one call"),
            ("clip", len(prev), clip, how),
        ):
            rows.append(
                {
                    "method": name,
                    "mode": mode,
                    "pairs": pairs,
                    "call": call,
                    "seconds": seconds,
                    "ms_per_pair": 1000 * seconds / pairs,
                    "pairs_per_s": pairs / seconds if seconds > 0 else float("inf"),
                    "repeats": repeats,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))

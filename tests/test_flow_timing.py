"""Flow timing logic with a fake clock and stub flow functions (no real time is measured)."""

from __future__ import annotations

import numpy as np
import pytest

from dualaction_lib.flow.timing import median_seconds, time_flow_methods


class FakeClock:
    """A clock that only moves when a stub says how long its call took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_median_seconds_excludes_the_warmup_and_takes_the_median() -> None:
    clock = FakeClock()
    durations = iter([100.0, 3.0, 1.0, 2.0])  # a cold first call, then three warm ones
    calls = []

    def call() -> None:
        calls.append(1)
        clock.now += next(durations)

    assert median_seconds(call, repeats=3, warmup=1, clock=clock) == 2.0  # not 3.0 (cold) nor 26.5 (mean)
    assert len(calls) == 4
    with pytest.raises(ValueError):
        median_seconds(call, repeats=0)


def test_time_flow_methods_single_pair_and_clip() -> None:
    clock = FakeClock()
    frames = np.zeros((4, 6, 8), np.uint8)  # 4 frames → 3 pairs
    calls: dict[str, list[tuple]] = {"batched": [], "looped": []}

    def stub(name: str, seconds_per_pair: float):
        def flow(prev, nxt):
            calls[name].append(prev.shape)
            pairs = prev.shape[0] if prev.ndim == 3 else 1
            clock.now += (10.0 if len(calls[name]) == 1 else 0.0) + seconds_per_pair * pairs  # cold start
            return np.zeros((*prev.shape, 2), np.float32)

        return flow

    methods = {"batched": stub("batched", 0.5), "looped": stub("looped", 1.0)}
    table = time_flow_methods(frames, methods, batched={"batched"}, repeats=3, clock=clock)
    rows = table.set_index(["method", "mode"])

    assert list(rows.index) == [(m, mode) for m in methods for mode in ("single pair", "clip")]
    assert rows.loc[("batched", "single pair"), "seconds"] == 0.5  # the 10 s cold start is not counted
    assert rows.loc[("batched", "clip"), ["pairs", "seconds", "pairs_per_s"]].tolist() == [3, 1.5, 2.0]
    assert rows.loc[("batched", "clip"), "call"] == "one batched call"
    assert rows.loc[("looped", "single pair"), "ms_per_pair"] == 1000.0
    assert rows.loc[("looped", "clip"), ["seconds", "ms_per_pair", "pairs_per_s"]].tolist() == [3.0, 1000, 1]
    assert rows.loc[("looped", "clip"), "call"] == "loop over pairs"
    # single pair: 1 warm-up + 3 timed calls on (H, W); clip: (1 + 3) batched calls or (1 + 3) x 3 pair calls
    assert calls["batched"] == [(6, 8)] * 4 + [(3, 6, 8)] * 4
    assert calls["looped"] == [(6, 8)] * (4 + 4 * 3)
    assert (table.repeats == 3).all()

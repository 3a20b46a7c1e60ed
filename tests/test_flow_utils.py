"""Flow helpers: quantization, colour coding, and the torch TV-L1 building blocks vs OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from dualaction_lib.flow import (
    color_wheel_legend,
    dequantize_flow,
    draw_flow_arrows,
    flow_magnitude,
    flow_overlay,
    flow_to_color,
    quantize_flow,
)
from dualaction_lib.flow.tvl1_ops import centered_gradient, median_blur, pyramid, resize_linear, warp_bicubic


def test_quantize_round_trip_within_half_level():
    flow = np.linspace(-20, 20, 1001, dtype=np.float32)
    err = np.abs(dequantize_flow(quantize_flow(flow)) - flow)
    assert err.max() <= 40 / 255 / 2 + 1e-5
    assert abs(float((dequantize_flow(quantize_flow(flow)) - flow).mean())) < 0.01  # unbiased


def test_quantize_truncate_is_mars_cast_and_clips():
    flow = np.array([-30.0, -20.0, 0.0, 0.1, 19.99, 20.0, 55.0])
    mars = ((np.clip(flow, -20, 20) + 20) / 40 * 255).astype(np.uint8)
    np.testing.assert_array_equal(quantize_flow(flow, rounding="truncate"), mars)
    assert mars[2] == 127  # zero flow: 127.5 truncated
    q = quantize_flow(flow)
    assert q.dtype == np.uint8 and q[0] == 0 and q[-1] == 255 and q[2] == 128
    assert quantize_flow(np.zeros((4, 5, 2))).shape == (4, 5, 2)
    with pytest.raises(ValueError):
        quantize_flow(flow, rounding="floor")


def test_dequantize_dtype_and_custom_bound():
    q = np.array([0, 255], dtype=np.uint8)
    np.testing.assert_allclose(dequantize_flow(q, bound=10.0), [-10.0, 10.0])
    assert dequantize_flow(q).dtype == np.float32


def test_flow_to_color_wheel():
    flow = np.zeros((3, 4, 2), np.float32)
    flow[0, 0] = (1, 0)  # +x
    flow[1, 1] = (-1, 0)  # -x
    flow[2, 0] = (0, -1)  # up (image y points down)
    img = flow_to_color(flow)
    assert img.shape == (3, 4, 3) and img.dtype == np.uint8
    assert tuple(img[2, 3]) == (255, 255, 255)  # zero flow is white
    # Middlebury wheel: right is red, left cyan, up blue-violet.
    assert img[0, 0, 0] == 255 and img[0, 0, 1] < 10 and img[0, 0, 2] < 40
    assert img[1, 1, 0] < 10 and img[1, 1, 1] > 150 and img[1, 1, 2] > 200
    assert img[2, 0, 2] == 255 and img[2, 0, 1] < 10
    assert color_wheel_legend(16).shape == (16, 16, 3)
    np.testing.assert_allclose(flow_magnitude(np.array([[3.0, 4.0]])), [5.0])
    assert flow_overlay(np.zeros((3, 4), np.uint8), flow).shape == (3, 4, 3)


def test_draw_flow_arrows_on_given_axes():
    from matplotlib.figure import Figure  # no pyplot: no backend is chosen

    ax = Figure().add_subplot()
    q = draw_flow_arrows(ax, np.ones((32, 48, 2), np.float32), image=np.zeros((32, 48)), step=8)
    assert q.N == 4 * 6


def test_median_blur_matches_opencv():
    x = np.random.default_rng(0).normal(size=(2, 2, 23, 31)).astype(np.float32)
    for k in (3, 5):
        ref = np.stack([[cv2.medianBlur(c, k) for c in pair] for pair in x])
        for network in (False, True):  # the batched cv2 call (CPU) and the selection network (GPU)
            ours = median_blur(torch.from_numpy(x), k, network=network).numpy()
            np.testing.assert_array_equal(ours, ref)


def test_resize_and_pyramid_match_opencv():
    img = np.random.default_rng(1).uniform(0, 255, size=(61, 83)).astype(np.float32)
    levels = pyramid(torch.from_numpy(img)[None], nscales=5, scale_step=0.8)
    ref = img
    for level in levels[1:]:
        ref = cv2.resize(ref, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_LINEAR)
        assert level.shape[-2:] == ref.shape
        np.testing.assert_allclose(level[0].numpy(), ref, atol=1e-2)
    up = resize_linear(torch.from_numpy(img)[None], (76, 104), (61 / 76, 83 / 104))[0].numpy()
    np.testing.assert_allclose(up, cv2.resize(img, (104, 76), interpolation=cv2.INTER_LINEAR), atol=1e-2)


def test_gradient_and_bicubic_warp_match_opencv():
    rng = np.random.default_rng(2)
    img = cv2.GaussianBlur(rng.uniform(0, 255, size=(40, 50)).astype(np.float32), (0, 0), 1.5)
    g = centered_gradient(torch.from_numpy(img)[None])[0].numpy()
    pad = np.pad(img, 1, mode="edge")
    np.testing.assert_allclose(g[0], 0.5 * (pad[1:-1, 2:] - pad[1:-1, :-2]), atol=1e-4)
    flow = rng.uniform(-3, 3, size=(40, 50, 2)).astype(np.float32)
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float32)
    ref = cv2.remap(img, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_CUBIC)
    ours = warp_bicubic(torch.from_numpy(img)[None, None], torch.from_numpy(flow).permute(2, 0, 1)[None])
    # OpenCV's remap quantizes sub-pixel positions to 1/32 px, hence the tolerance.
    np.testing.assert_allclose(ours[0, 0].numpy()[3:-3, 3:-3], ref[3:-3, 3:-3], atol=1.0)

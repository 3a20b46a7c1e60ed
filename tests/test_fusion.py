"""Attention fusion and averaging fusion of stream scores (docs/architecture.md, "Runs")."""

from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dualaction_lib.models import AttentionFusion, average_fusion


def test_weights_sum_to_one_and_list_equals_stacked_input() -> None:
    fusion = AttentionFusion(num_streams=2, num_classes=5, hidden=8)
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    fused, weights = fusion([a, b])
    assert fused.shape == (4, 5) and weights.shape == (4, 2)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))
    fused2, weights2 = fusion(torch.stack([a, b], dim=1))  # (B, S, K)
    torch.testing.assert_close(fused, fused2)
    torch.testing.assert_close(fused, weights[:, :1] * a + weights[:, 1:] * b)


def test_forced_weight_returns_that_stream() -> None:
    fusion = AttentionFusion(num_streams=2, num_classes=3, hidden=4)
    last = fusion.net[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([-50.0, 50.0]))  # all attention on stream 1
    a, b = torch.randn(6, 3), torch.randn(6, 3)
    fused, weights = fusion([a, b])
    torch.testing.assert_close(fused, b)
    torch.testing.assert_close(weights, torch.tensor([[0.0, 1.0]]).expand(6, 2))


def test_average_fusion_is_the_mean() -> None:
    a, b = torch.tensor([[1.0, 3.0]]), torch.tensor([[3.0, -1.0]])
    torch.testing.assert_close(average_fusion([a, b]), torch.tensor([[2.0, 1.0]]))


def test_learns_to_prefer_the_informative_stream() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: extra threads only add synchronisation on a shared CPU
    try:
        _train_toy_fusion()
    finally:
        torch.set_num_threads(threads)


def _train_toy_fusion() -> None:
    start = time.process_time()  # CPU time: robust to other processes sharing the machine
    classes, batch = 5, 64
    fusion = AttentionFusion(num_streams=2, num_classes=classes, hidden=16)
    optimizer = torch.optim.Adam(fusion.parameters(), lr=1e-2)

    def sample() -> tuple[list[torch.Tensor], torch.Tensor]:
        y = torch.randint(0, classes, (batch,))
        informative = 4.0 * F.one_hot(y, classes).float() + torch.randn(batch, classes)
        noise = 4.0 * torch.randn(batch, classes)  # carries no label information
        return [noise, informative], y

    for _ in range(300):
        scores, y = sample()
        fused, _ = fusion(scores)
        loss = F.cross_entropy(fused, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    scores, y = sample()
    with torch.no_grad():
        fused, weights = fusion(scores)
    assert weights[:, 1].mean() > 0.9
    assert (fused.argmax(1) == y).float().mean() > (average_fusion(scores).argmax(1) == y).float().mean()
    assert time.process_time() - start < 2.0


def test_weight_statistics_per_class_and_per_cue_on_the_mixed_task() -> None:
    import numpy as np

    from dualaction_lib.data.synthetic import MIXED_CLASSES, class_cues
    from dualaction_lib.study.fusion import weight_statistics
    from dualaction_lib.viz import plots

    classes = list(MIXED_CLASSES)
    assert class_cues(classes)["WarmBoxMoveLeft"] == "appearance"
    assert class_cues(classes)["BarMoveUp"] == "motion" and class_cues(["BarMoveUp"]) is None
    # videos: BallMoveLeft (motion) weights 0.2, 0.4; CoolBoxMoveLeft (appearance) weights 0.9, 0.7
    labels = np.array([classes.index("BallMoveLeft")] * 2 + [classes.index("CoolBoxMoveLeft")] * 2)
    right = np.array([True, False, True, True])
    view = {
        "weights": np.array([0.2, 0.4, 0.9, 0.7]), "labels": labels, "classes": classes,
        "cues": class_cues(classes), "right_a": right, "right_b": ~right,
        "confidence_a": np.full(4, 0.6), "confidence_b": np.full(4, 0.5),
    }  # fmt: skip
    stats = weight_statistics(view)
    assert stats["weight_a_per_class"] == {
        "BallMoveLeft": pytest.approx(0.3),
        "CoolBoxMoveLeft": pytest.approx(0.8),
    }
    assert stats["weight_a_motion_classes"] == pytest.approx(0.3)
    assert stats["weight_a_appearance_classes"] == pytest.approx(0.8)
    fig = plots.plot_fusion_weights(view, ("RGB", "Flow"))
    legend = fig.axes[1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["motion", "appearance"]
    plain = weight_statistics({**view, "cues": None})
    assert "weight_a_motion_classes" not in plain and plain["weight_a_per_class"][
        "BallMoveLeft"
    ] == pytest.approx(0.3)

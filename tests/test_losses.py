"""Distillation losses against hand-computed values (docs/architecture.md, "Losses", Eqs. 1–4)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dualaction_lib.losses import (
    DualActionLoss,
    gram_loss,
    gram_matrix,
    mars_mse,
    multilevel_mae,
    parts_to_floats,
)
from dualaction_lib.models import build_model


def t(values: list) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_gram_matrix_by_hand() -> None:
    # F = [[1, 2], [3, 4]] (C=2 channels × 2 positions): G = F Fᵀ = [[1+4, 3+8], [3+8, 9+16]]
    f = t([[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]])  # (B=1, C=2, T=1, H=1, W=2)
    torch.testing.assert_close(gram_matrix(f), t([[[5.0, 11.0], [11.0, 25.0]]]))
    # pooled (B, C) features: G = f fᵀ (outer product), no normalization
    torch.testing.assert_close(gram_matrix(t([[1.0, 2.0]])), t([[[1.0, 2.0], [2.0, 4.0]]]))


def test_mars_mse_by_hand() -> None:
    # ((1 - 0)² + (2 - 4)²) / 2 = (1 + 4) / 2 = 2.5
    assert mars_mse(t([[1.0, 2.0]]), t([[0.0, 4.0]])).item() == pytest.approx(2.5)


def test_multilevel_mae_by_hand() -> None:
    # level 1: mean(|1|, |2|, |3|, |4|) = 2.5; level 2: mean(|1|, |-1|) = 1; (1/(n-1)) Σ = (2.5 + 1) / 2
    fs = [t([[[[[1.0, 2.0]]], [[[3.0, 4.0]]]]]), t([[1.0, -1.0]])]
    ft = [torch.zeros(1, 2, 1, 1, 2), torch.zeros(1, 2)]
    assert multilevel_mae(fs, ft).item() == pytest.approx(1.75)


def test_gram_loss_by_hand() -> None:
    # Level 1: (B=2, C=2, T·H·W=2). Sample 0: Gs = [[5, 11], [11, 25]], Gt = I → Σ|ΔG| = 4+11+11+24 = 50;
    # sample 1: student == teacher → 0. mean_b = 25; / ((n-1)·C·T·H·W) = 25 / (2·2·2) = 3.125.
    s1 = t([[[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [0.0, 2.0]]]).reshape(2, 2, 1, 1, 2)
    t1 = t([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [0.0, 2.0]]]).reshape(2, 2, 1, 1, 2)
    # Level 2 (pooled, B=2, C=2, T=H=W=1). Sample 0: Gs = [[1, 2], [2, 4]], Gt = 0 → 9;
    # sample 1: Gs = [[0, 0], [0, 1]], Gt = [[1, 1], [1, 1]] → 1+1+1+0 = 3. mean_b = 6; 6 / (2·2·1) = 1.5.
    s2, t2 = t([[1.0, 2.0], [0.0, 1.0]]), t([[0.0, 0.0], [1.0, 1.0]])
    assert gram_loss([s1, s2], [t1, t2]).item() == pytest.approx(3.125 + 1.5)


def test_losses_give_gradients_to_the_student_only() -> None:
    student = torch.randn(2, 3, 2, 2, 2, requires_grad=True)
    teacher = torch.randn(2, 3, 2, 2, 2, requires_grad=True)
    pooled_s = torch.randn(2, 3, requires_grad=True)
    pooled_t = torch.randn(2, 3, requires_grad=True)
    total = (
        gram_loss([student], [teacher]) + multilevel_mae([student], [teacher]) + mars_mse(pooled_s, pooled_t)
    )
    total.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0 and pooled_s.grad is not None
    assert teacher.grad is None and pooled_t.grad is None


def _feats(seed: int, requires_grad: bool) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"layer1": (2, 4, 2, 3, 3), "layer4": (2, 8, 1, 2, 2), "pool": (2, 8)}
    return {k: torch.randn(s, generator=g).requires_grad_(requires_grad) for k, s in shapes.items()}


def test_dual_action_loss_is_ce_plus_alpha_mae_plus_gram() -> None:
    fs, ft = _feats(1, True), _feats(2, True)
    logits, target = torch.randn(2, 5, requires_grad=True), torch.tensor([1, 3])
    loss = DualActionLoss(layers=("layer1", "layer4", "pool"))
    assert loss.alpha == 50.0 and loss.feature_names == ("layer1", "layer4", "pool")
    total, parts = loss(logits, target, fs, ft)

    levels = ["layer1", "layer4", "pool"]
    ce = F.cross_entropy(logits, target)
    mae = multilevel_mae([fs[n] for n in levels], [ft[n] for n in levels])
    gram = gram_loss([fs[n] for n in levels], [ft[n] for n in levels])
    torch.testing.assert_close(total, ce + 50.0 * (mae + gram))
    assert set(parts) == {"ce", "mae", "gram", "total"}
    assert all(v.dim() == 0 and not v.requires_grad for v in parts.values()), "detached 0-dim tensors"
    logged = parts_to_floats(parts)  # the documented way to get floats for logging
    assert all(isinstance(v, float) for v in logged.values())
    assert logged["total"] == pytest.approx(total.item()) and logged["gram"] == pytest.approx(gram.item())

    total.backward()
    assert all(f.grad is not None for f in fs.values()) and all(f.grad is None for f in ft.values())


def test_mars_configuration_is_ce_plus_alpha_mse() -> None:
    fs, ft = _feats(3, True), _feats(4, False)
    logits, target = torch.randn(2, 5), torch.tensor([0, 4])
    loss = DualActionLoss(alpha=50.0, mse=True, mae=False, gram=False, layers=("pool",))
    assert loss.feature_names == ("pool",)
    total, parts = loss(logits, target, fs, ft)
    expected = F.cross_entropy(logits, target) + 50.0 * ((fs["pool"] - ft["pool"]) ** 2).mean()
    torch.testing.assert_close(total, expected)
    assert set(parts) == {"ce", "mse", "total"}
    assert DualActionLoss(mae=False, gram=False).feature_names == ()  # plain CE needs no features
    with pytest.raises(KeyError, match=r"\['layer2', 'layer3'\]"):
        DualActionLoss()(logits, target, fs, ft)  # default layers are layer1..layer4 + pool


def test_gram_is_float32_under_autocast_and_stable_for_large_features() -> None:
    # Realistic scale: post-ReLU features of size 64×8×14² with values up to ~50.
    fs = torch.rand(2, 64, 8, 14, 14) * 50
    ft = torch.rand(2, 64, 8, 14, 14) * 50
    reference = gram_loss([fs], [ft])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gram_matrix(fs.bfloat16()).dtype == torch.float32
        value = gram_loss([fs], [ft])
    assert value.dtype == torch.float32 and torch.isfinite(value)
    torch.testing.assert_close(value, reference)
    assert gram_loss([fs], [fs.clone()]).item() == 0.0


def test_end_to_end_with_tiny_student_and_frozen_teacher() -> None:
    student = build_model("resnet10", 3, 4, widths=(4, 8, 8, 8))
    teacher = build_model("resnet10", 2, 4, widths=(4, 8, 8, 8)).eval().requires_grad_(False)
    loss = DualActionLoss(layers=("layer2", "layer4", "pool"))
    rgb, flow = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 2, 4, 32, 32)
    fs = student.forward_intermediates(rgb, (*loss.feature_names, "layer4"))
    with torch.no_grad():
        ft = teacher.forward_intermediates(flow, loss.feature_names)
    total, parts = loss(student.forward_head(fs["layer4"]), torch.tensor([0, 1]), fs, ft)
    total.backward()
    assert student.conv1.weight.grad is not None and teacher.conv1.weight.grad is None
    p = parts_to_floats(parts)
    assert p["total"] == pytest.approx(p["ce"] + 50.0 * (p["mae"] + p["gram"]), rel=1e-5)

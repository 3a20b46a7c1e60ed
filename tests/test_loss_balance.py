"""Loss balance: the optional step0 normalization (hand-computed) and the per-term gradient shares."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dualaction_lib.engine.balance import balance_record, level_balance, loss_balance
from dualaction_lib.losses import (
    DualActionLoss,
    gram_loss,
    gram_loss_per_level,
    mars_mse,
    multilevel_mae,
    multilevel_mae_per_level,
)


def feats(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"layer1": torch.randn(2, 3, 2, 2, 2, generator=g), "pool": torch.randn(2, 3, generator=g)}


def test_step0_scales_the_summed_distillation_term_to_equal_ce_on_the_first_batch():
    # CE = mean(-log softmax): sample 1: log(1 + e^-2), sample 2: log(1 + e^1)
    logits, target = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
    ce = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(1.0))) / 2
    # one level of two channels, B = 1, T·H·W = 2: fs = [[1, 1], [0, 2]], ft = 0
    fs = {"layer1": torch.tensor([[[[[1.0, 1.0]]], [[[0.0, 2.0]]]]])}
    ft = {"layer1": torch.zeros(1, 2, 1, 1, 2)}
    mae = (1 + 1 + 0 + 2) / 4  # 1.0
    gram = (2 + 2 + 2 + 4) / 4  # |G| = [[2, 2], [2, 4]] summed, / (n−1 = 1 · C·T·H·W = 4) → 2.5
    loss = DualActionLoss(alpha=3.0, layers=("layer1",), normalize="step0")
    total, parts = loss(logits, target, fs, ft)
    scale = ce / (mae + gram)  # one scale for the sum, not one per term
    assert {k: float(v) for k, v in loss.scales.items()} == pytest.approx({"mae": scale, "gram": scale})
    assert float(total) == pytest.approx(ce + 3.0 * ce)  # CE + α·CE: the SUM equals CE
    assert float(parts["mae"]) == pytest.approx(mae) and float(parts["gram"]) == pytest.approx(gram)
    # MAE and Gram keep the paper's ratio inside the sum
    weighted = loss.weigh({"ce": torch.tensor(ce), "mae": torch.tensor(mae), "gram": torch.tensor(gram)})
    assert float(weighted["gram"] / weighted["mae"]) == pytest.approx(2.5)
    # later batches keep the scale of the first one
    total2, _ = loss(logits, target, {"layer1": 2 * fs["layer1"]}, ft)  # MAE × 2, Gram × 4
    assert float(total2) == pytest.approx(ce + 3.0 * scale * (2 * mae + 4 * gram))


def test_step0_gives_mars_and_ds_the_same_total_distillation_weight():
    logits, target = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
    fs, ft = feats(0), feats(1)
    ds = DualActionLoss(alpha=3.0, layers=("layer1", "pool"), normalize="step0")
    mars = DualActionLoss(alpha=3.0, mae=False, gram=False, mse=True, layers=("pool",), normalize="step0")
    ds_total, _ = ds(logits, target, fs, ft)
    mars_total, _ = mars(logits, target, fs, ft)
    ce = float(torch.nn.functional.cross_entropy(logits, target))
    assert float(ds_total) == pytest.approx(ce * 4) and float(mars_total) == pytest.approx(ce * 4)


def test_step0_applies_identically_to_mars():
    logits, target = torch.tensor([[0.5, 0.0]]), torch.tensor([1])
    fs, ft = {"pool": torch.tensor([[1.0, 2.0]])}, {"pool": torch.tensor([[0.0, 0.0]])}
    loss = DualActionLoss(alpha=2.0, mae=False, gram=False, mse=True, layers=("pool",), normalize="step0")
    total, _ = loss(logits, target, fs, ft)
    ce = float(torch.nn.functional.cross_entropy(logits, target))
    assert float(loss.scales["mse"]) == pytest.approx(ce / 2.5)  # mse = (1 + 4) / 2
    assert float(total) == pytest.approx(ce * 3)
    assert float(mars_mse(fs["pool"], ft["pool"])) == 2.5


def test_paper_formulas_stay_the_default_and_plain_ce_needs_no_scales():
    paper = DualActionLoss(alpha=50.0)
    assert paper.normalize == "none" and not paper.needs_calibration
    assert not DualActionLoss(alpha=0.0, mae=False, gram=False, normalize="step0").needs_calibration
    with pytest.raises(ValueError, match="normalize"):
        DualActionLoss(normalize="per_channel")


def test_loss_balance_reports_values_and_gradient_shares():
    # one weight w, terms a·w and b·w²: gradients a and 2bw at w, shares by hand
    w = nn.Parameter(torch.tensor(2.0))
    weighted = {"ce": 3.0 * w, "gram": 0.5 * w**2}
    terms = {"ce": 3.0 * w, "gram": w**2}
    measured = loss_balance(weighted, terms, [w])  # 0-dim tensors, fetched later in one transfer
    floats = {section: {k: float(v) for k, v in values.items()} for section, values in measured.items()}
    record = balance_record({"kind": "balance", "epoch": 4, "step": 17, **floats})
    assert record["value"] == pytest.approx({"ce": 6.0, "gram": 4.0})
    assert record["weighted"] == pytest.approx({"ce": 6.0, "gram": 2.0})
    assert record["grad_norm"] == pytest.approx({"ce": 3.0, "gram": 2.0})
    assert record["grad_share"] == pytest.approx({"ce": 0.6, "gram": 0.4})
    assert math.isclose(sum(record["grad_share"].values()), 1.0)
    assert w.grad is None  # measuring does not touch the gradients the optimizer steps with


def test_per_level_terms_are_each_levels_part_and_sum_to_the_term():
    # level 1: C = 2, N = 2, fs = [[1, 1], [0, 2]], ft = 0; level 2 (pooled): C = 2, fs = [3, 0], ft = [1, 0]
    fs = [torch.tensor([[[1.0, 1.0], [0.0, 2.0]]]), torch.tensor([[3.0, 0.0]])]
    ft = [torch.zeros(1, 2, 2), torch.tensor([[1.0, 0.0]])]
    mae = [float(v) for v in multilevel_mae_per_level(fs, ft)]
    gram = [float(v) for v in gram_loss_per_level(fs, ft)]
    assert mae == pytest.approx([1.0 / 2, 1.0 / 2])  # means 1.0 and (2 + 0)/2 = 1.0, over n−1 = 2 levels
    # level 1: |G| sums to 10, / (2 levels · C·N = 4); level 2: G = [[9, 0], [0, 0]] − [[1, 0], [0, 0]]
    assert gram == pytest.approx([10 / 8, 8 / 4])
    assert float(multilevel_mae(fs, ft)) == pytest.approx(sum(mae))
    assert float(gram_loss(fs, ft)) == pytest.approx(sum(gram))


def test_level_balance_gives_each_levels_value_and_gradient_share():
    # student features are w·x at layer1 and v·z at pool with scalar weights w, v; teacher 0.
    # α = 2: Gram(layer1) = w²·Σ|G(x)| / (2·4) with G(x) = [[2, 2], [2, 4]] → 10 w² / 8; at w = 1 its
    # weighted gradient is 2 · 20/8 = 5. MAE(pool) = |v|·mean|z| / 2 = 1.5 v / 2; weighted gradient at v = 1:
    # 2 · 0.75 = 1.5. CE is a fixed 0.5·w, gradient 0.5.
    w, v = nn.Parameter(torch.tensor(1.0)), nn.Parameter(torch.tensor(1.0))
    x = torch.tensor([[[1.0, 1.0], [0.0, 2.0]]])
    z = torch.tensor([[3.0, 0.0]])
    student = {"layer1": w * x, "pool": v * z}
    teacher = {"layer1": torch.zeros(1, 2, 2), "pool": torch.zeros(1, 2)}
    loss_fn = DualActionLoss(alpha=2.0, layers=("layer1", "pool"))
    measured = level_balance(loss_fn, 0.5 * w, student, teacher, [w, v])
    floats = {section: {k: float(t) for k, t in values.items()} for section, values in measured.items()}
    record = balance_record({"grad_norm": {"ce": 1.0}, **floats})
    assert record["level_value"]["gram/layer1"] == pytest.approx(10 / 8)
    assert record["level_value"]["mae/pool"] == pytest.approx(0.75)
    assert record["level_weighted"]["gram/layer1"] == pytest.approx(2 * 10 / 8)
    norms = record["level_grad_norm"]
    assert norms["ce"] == pytest.approx(0.5)
    assert norms["gram/layer1"] == pytest.approx(5.0)
    assert norms["mae/pool"] == pytest.approx(1.5)
    # Gram(pool) = |9 v²| summed over the 2×2 Gram of a rank-one vector / (2·2): 9 v²/4 → weighted grad 9
    assert norms["gram/pool"] == pytest.approx(9.0)
    # MAE(layer1) = w·mean|x| / 2 = w·1.0/2 → weighted gradient 1.0
    assert norms["mae/layer1"] == pytest.approx(1.0)
    total = 0.5 + 5.0 + 1.5 + 9.0 + 1.0
    assert record["level_grad_share"]["gram/pool"] == pytest.approx(9.0 / total)
    assert sum(record["level_grad_share"].values()) == pytest.approx(1.0)
    assert w.grad is None and v.grad is None
    mars = DualActionLoss(alpha=2.0, mae=False, gram=False, mse=True, layers=("pool",))
    assert level_balance(mars, 0.5 * w, student, teacher, [w, v]) == {}

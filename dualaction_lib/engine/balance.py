"""The loss balance: how much each loss term, and each feature level of MAE and Gram, pulls the student.

What moves the student is a term's gradient, not its value. :func:`loss_balance` measures, for each weighted
term, the norm of its gradient at the student's trainable parameters; :func:`level_balance` does the same
for every level (layer1 … layer4, pool) of the multi-level terms, so a term's pull can be traced to a level.
Both return 0-dim device tensors (fetched later in one transfer); :func:`balance_record` adds the shares to
the fetched record. The training loop measures the terms on the first batch of every epoch and the levels
on the run's first batch (docs/architecture.md, "Loss balance").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from dualaction_lib.losses import DualActionLoss

__all__ = ["balance_record", "level_balance", "loss_balance"]

LEVEL_SEP = "/"  # level keys are "<term>/<level>", e.g. "gram/pool"


def _grad_norm(value: Tensor, params: list[Tensor]) -> Tensor:
    """``‖∂value/∂θ‖₂`` over ``params`` (keeps the graph; never touches ``.grad``)."""
    grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
    squares = [(g.float() ** 2).sum() for g in grads if g is not None]
    return torch.sqrt(torch.stack(squares).sum()) if squares else value.new_zeros(())


def loss_balance(
    weighted: Mapping[str, Tensor], terms: Mapping[str, Tensor], params: list[Tensor]
) -> dict[str, dict[str, Tensor]]:
    """Each loss term's value and the norm of its gradient at the parameters.

    Returns ``{"value": raw terms, "weighted": terms as they enter the total, "grad_norm": …}`` as 0-dim
    device tensors, ``grad_norm[k] = ‖∂(weighted term k)/∂θ‖₂`` over the student's trainable parameters θ
    (one extra backward pass per term, on one batch).
    """
    return {
        "value": {k: v.detach() for k, v in terms.items()},
        "weighted": {k: v.detach() for k, v in weighted.items()},
        "grad_norm": {k: _grad_norm(v, params) for k, v in weighted.items()},
    }


def level_balance(
    loss_fn: DualActionLoss,
    ce: Tensor,
    student_feats: Mapping[str, Tensor],
    teacher_feats: Mapping[str, Tensor],
    params: list[Tensor],
) -> dict[str, dict[str, Tensor]]:
    """Per level of MAE and Gram: ``{"level_value", "level_weighted", "level_grad_norm"}``.

    Keys are ``"<term>/<level>"`` (e.g. ``"gram/pool"``) plus ``"ce"`` (CE's gradient norm, the reference
    of the shares); each level's value is its part of the term before α (the levels sum to the term),
    weighted as the term is (α and the step0 scale). Empty for a loss without multi-level terms (MARS, CE).
    One extra backward pass per level, on one batch.
    """
    levels = loss_fn.level_terms(student_feats, teacher_feats)
    if not levels:
        return {}
    raw = {f"{term}{LEVEL_SEP}{level}": v for term, parts in levels.items() for level, v in parts.items()}
    weighted = {"ce": ce} | {
        f"{term}{LEVEL_SEP}{level}": loss_fn.weigh({term: v})[term]  # α and the term's step0 scale
        for term, parts in levels.items()
        for level, v in parts.items()
    }
    return {
        "level_value": {k: v.detach() for k, v in {"ce": ce, **raw}.items()},
        "level_weighted": {k: v.detach() for k, v in weighted.items()},
        "level_grad_norm": {k: _grad_norm(v, params) for k, v in weighted.items()},
    }


def _shares(norms: Mapping[str, float]) -> dict[str, float]:
    total = sum(norms.values()) or 1.0
    return {k: v / total for k, v in norms.items()}


def balance_record(record: dict[str, Any]) -> dict[str, Any]:
    """Add the shares to a fetched loss-balance record.

    ``grad_share[k] = grad_norm[k] / Σ_j grad_norm[j]`` over the terms; with levels,
    ``level_grad_share[k] = level_grad_norm[k] / Σ_j level_grad_norm[j]`` over CE and every level of
    every term, so CE's and the levels' shares sum to 1 (a level's share says how much of the summed
    pulls that one level exerts).
    """
    out = {**record, "grad_share": _shares(record["grad_norm"])}
    if "level_grad_norm" in record:
        out["level_grad_share"] = _shares(record["level_grad_norm"])
    return out

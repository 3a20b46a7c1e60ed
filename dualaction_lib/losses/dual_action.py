"""The Dual-action Stream objective and its MARS special case (docs/architecture.md, "Losses", Eq. 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dualaction_lib.choices import Normalize
from dualaction_lib.feature_names import DISTILL_LAYERS
from dualaction_lib.losses.gram import gram_loss_per_level
from dualaction_lib.losses.mae import multilevel_mae_per_level
from dualaction_lib.losses.mse import mars_mse

__all__ = ["DEFAULT_LAYERS", "DualActionLoss", "parts_to_floats"]

DEFAULT_LAYERS: tuple[str, ...] = DISTILL_LAYERS  # layer1 … layer4 and the pooled feature


class DualActionLoss(nn.Module):
    """Eq. 4: ``L = CE(h, y) + α·(L_MAE + L_G [+ L_MSE])`` with the enabled terms.

    * DS (default): ``mae=True, gram=True`` over ``layers`` (Eq. 2 and Eq. 3).
    * MARS: ``mse=True, mae=False, gram=False, layers=("pool",)`` → ``CE + α·MSE`` (Eq. 1); the MSE term
      always uses the pooled feature ``"pool"``.
    * Plain CE: all three off.

    ``forward(logits, target, student_feats, teacher_feats)`` takes feature dicts as returned by
    ``model.forward_intermediates`` and returns ``(total, parts)``: ``parts`` holds each raw term (``ce``,
    the enabled terms before α, ``total``) as a detached 0-dim tensor, so computing the loss never waits for
    the device; :func:`parts_to_floats` turns them into floats for logging (one transfer). Teacher features
    are detached inside. ``feature_names`` lists the features the loss reads (ask the models only for those).

    ``normalize="step0"`` (optional, beyond the paper) multiplies the distillation terms by one scale
    ``s = CE₀ / Σ_k L_k,₀`` fixed on the first batch (:meth:`calibrate`), so that at step 0 their SUM
    weighs as much as CE and α is the ratio of distillation to classification: ``L = CE + α·s·Σ_k L_k``.
    MARS (one term) and DS (two terms) thus get the same total distillation weight at step 0; within DS,
    MAE and Gram keep the paper's ratio. The scale is state (``scales``: the same ``s`` under every term's
    key) that a resumed run restores.
    """

    def __init__(
        self,
        alpha: float = 50.0,
        mae: bool = True,
        gram: bool = True,
        mse: bool = False,
        layers: Sequence[str] = DEFAULT_LAYERS,
        normalize: Normalize = "none",
    ) -> None:
        super().__init__()
        if normalize not in get_args(Normalize):
            raise ValueError(f"normalize must be one of {get_args(Normalize)}, got {normalize!r}")
        self.alpha = float(alpha)
        self.mae, self.gram, self.mse = mae, gram, mse
        self.normalize = normalize
        self.layers = tuple(layers)
        if (mae or gram) and not self.layers:
            raise ValueError("mae/gram need at least one feature layer")
        names = list(self.layers) if (mae or gram) else []
        if mse and "pool" not in names:
            names.append("pool")
        self.feature_names: tuple[str, ...] = tuple(names)
        self.scales: dict[str, Tensor | float] = {}  # step0 normalization; empty until calibrated

    @property
    def needs_calibration(self) -> bool:
        return self.normalize == "step0" and not self.scales and bool(self.feature_names)

    def raw_terms(
        self,
        logits: Tensor,
        target: Tensor,
        student_feats: Mapping[str, Tensor],
        teacher_feats: Mapping[str, Tensor],
    ) -> dict[str, Tensor]:
        """``{"ce": …, "mae"/"gram"/"mse": …}`` before α and scales, with their graphs."""
        terms = {"ce": F.cross_entropy(logits.float(), target)}
        missing = [n for n in self.feature_names if n not in student_feats or n not in teacher_feats]
        if missing:
            raise KeyError(f"DualActionLoss needs features {missing} from both student and teacher")
        for term, levels in self.level_terms(student_feats, teacher_feats).items():
            terms[term] = torch.stack(list(levels.values())).sum()
        if self.mse:
            terms["mse"] = mars_mse(student_feats["pool"], teacher_feats["pool"])
        return terms

    def level_terms(
        self, student_feats: Mapping[str, Tensor], teacher_feats: Mapping[str, Tensor]
    ) -> dict[str, dict[str, Tensor]]:
        """``{"mae": {level: …}, "gram": {level: …}}``: each level's part of the enabled multi-level terms
        before α and scales, with their graphs; a term's levels sum to the term (Eqs. 2 and 3)."""
        if not (self.mae or self.gram):
            return {}
        fs = [student_feats[n] for n in self.layers]
        ft = [teacher_feats[n] for n in self.layers]
        out = {}
        if self.mae:
            out["mae"] = dict(zip(self.layers, multilevel_mae_per_level(fs, ft), strict=True))
        if self.gram:
            out["gram"] = dict(zip(self.layers, gram_loss_per_level(fs, ft), strict=True))
        return out

    def weigh(self, terms: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Each term as it enters the total: CE as it is, distillation terms times α (and their scale)."""
        return {k: v if k == "ce" else self.alpha * self.scales.get(k, 1.0) * v for k, v in terms.items()}

    def calibrate(self, terms: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Fix the step0 scale ``s = CE / Σ_k L_k`` from one batch's raw terms (stored under every key).

        The scales stay 0-dim tensors on the terms' device (no host transfer); a checkpoint stores them as
        floats, which :attr:`scales` also accepts.
        """
        ce = terms["ce"].detach()
        distill = [k for k in terms if k != "ce"]
        summed = torch.stack([terms[k].detach() for k in distill]).sum() if distill else ce
        scale = ce / summed.clamp_min(1e-12)
        self.scales = {k: scale for k in distill}
        return dict(self.scales)

    def combine(self, terms: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, weighted terms)`` from the raw terms; with step0, the scales are fixed first (once)."""
        if self.needs_calibration:
            self.calibrate(terms)
        weighted = self.weigh(terms)
        return torch.stack(list(weighted.values())).sum(), weighted

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        student_feats: Mapping[str, Tensor],
        teacher_feats: Mapping[str, Tensor],
    ) -> tuple[Tensor, dict[str, Tensor]]:
        terms = self.raw_terms(logits, target, student_feats, teacher_feats)
        total, _ = self.combine(terms)
        parts = {**{k: v.detach() for k, v in terms.items()}, "total": total.detach()}
        return total, parts

    def extra_repr(self) -> str:
        on = [n for n in ("mae", "gram", "mse") if getattr(self, n)]
        return f"alpha={self.alpha}, terms={on}, layers={self.layers}, normalize={self.normalize!r}"


def parts_to_floats(parts: Mapping[str, Tensor]) -> dict[str, float]:
    """The loss terms as Python floats, fetched from the device in one transfer (for logging)."""
    keys = list(parts)
    values = torch.stack([parts[k].float() for k in keys]).tolist() if keys else []
    return dict(zip(keys, values, strict=True))

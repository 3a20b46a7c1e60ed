"""The Dual-action Stream objective and its MARS special case (docs/architecture.md, "Losses", Eq. 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dualaction_lib.feature_names import DISTILL_LAYERS
from dualaction_lib.losses.gram import gram_loss
from dualaction_lib.losses.mae import multilevel_mae
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
    ``model.forward_intermediates`` and returns ``(total, parts)``: ``parts`` holds each term (``ce``,
    the enabled terms, ``total``) as a detached 0-dim tensor, so computing the loss never waits for the
    device; :func:`parts_to_floats` turns them into floats for logging (one transfer). Teacher features
    are detached inside.
    ``feature_names`` lists the features the loss reads (ask the models only for those).
    """

    def __init__(
        self,
        alpha: float = 50.0,
        mae: bool = True,
        gram: bool = True,
        mse: bool = False,
        layers: Sequence[str] = DEFAULT_LAYERS,
    ) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.mae, self.gram, self.mse = mae, gram, mse
        self.layers = tuple(layers)
        if (mae or gram) and not self.layers:
            raise ValueError("mae/gram need at least one feature layer")
        names = list(self.layers) if (mae or gram) else []
        if mse and "pool" not in names:
            names.append("pool")
        self.feature_names: tuple[str, ...] = tuple(names)

    def forward(
        self,
        logits: Tensor,
        target: Tensor,
        student_feats: Mapping[str, Tensor],
        teacher_feats: Mapping[str, Tensor],
    ) -> tuple[Tensor, dict[str, Tensor]]:
        ce = F.cross_entropy(logits.float(), target)
        terms: dict[str, Tensor] = {}
        if self.feature_names:
            missing = [n for n in self.feature_names if n not in student_feats or n not in teacher_feats]
            if missing:
                raise KeyError(f"DualActionLoss needs features {missing} from both student and teacher")
        if self.mae or self.gram:
            fs = [student_feats[n] for n in self.layers]
            ft = [teacher_feats[n] for n in self.layers]
            if self.mae:
                terms["mae"] = multilevel_mae(fs, ft)
            if self.gram:
                terms["gram"] = gram_loss(fs, ft)
        if self.mse:
            terms["mse"] = mars_mse(student_feats["pool"], teacher_feats["pool"])
        total = ce
        if terms:
            total = ce + self.alpha * sum(terms.values())
        parts = {"ce": ce.detach(), **{k: v.detach() for k, v in terms.items()}, "total": total.detach()}
        return total, parts

    def extra_repr(self) -> str:
        on = [n for n in ("mae", "gram", "mse") if getattr(self, n)]
        return f"alpha={self.alpha}, terms={on}, layers={self.layers}"


def parts_to_floats(parts: Mapping[str, Tensor]) -> dict[str, float]:
    """The loss terms as Python floats, fetched from the device in one transfer (for logging)."""
    keys = list(parts)
    values = torch.stack([parts[k].float() for k in keys]).tolist() if keys else []
    return dict(zip(keys, values, strict=True))

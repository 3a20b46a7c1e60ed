"""Loading MARS / Hara / torchvision / native weights and writing native checkpoints (see
docs/architecture.md, "Models").

Files are always read with ``torch.load(weights_only=True)``: a checkpoint that carries code is refused,
never executed. Native checkpoints are written atomically (temp file + rename).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import torch
from torch import Tensor, nn

from dualaction_lib.choices import WeightSource
from dualaction_lib.errors import UserError
from dualaction_lib.io import atomic_save

__all__ = [
    "CheckpointError",
    "LoadReport",
    "load_checkpoint",
    "load_weights",
    "map_torchvision_keys",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

Source = WeightSource
SOURCES: tuple[str, ...] = get_args(WeightSource)

# torchvision VideoResNet → Hara/MARS names (REFERENCE: identical outputs after renaming).
_TORCHVISION_RENAMES = (
    (re.compile(r"^stem\.0\."), "conv1."),
    (re.compile(r"^stem\.1\."), "bn1."),
    (re.compile(r"\.conv1\.0\."), ".conv1."),
    (re.compile(r"\.conv1\.1\."), ".bn1."),
    (re.compile(r"\.conv2\.0\."), ".conv2."),
    (re.compile(r"\.conv2\.1\."), ".bn2."),
)
_CLASSIFIER = ("fc.weight", "fc.bias")
_STEM_CONV = "conv1.weight"
_MAX_LISTED = 40  # keys shown per category in messages


class CheckpointError(UserError, RuntimeError):
    """A checkpoint cannot be read or does not fit the model; the message names the file first."""


@dataclass
class LoadReport:
    """What :func:`load_weights` did; ``str(report)`` is a one-paragraph summary."""

    origin: str
    source: str
    loaded: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"loaded {self.loaded} tensors from {self.origin} (source {self.source})"
        return "\n".join([head, *self.details()])

    def details(self) -> list[str]:
        """Notes and problem keys, one indented line each."""
        lines = [f"  {note}" for note in self.notes]
        for label, keys, sep in (
            ("missing", self.missing, ", "),
            ("unexpected", self.unexpected, ", "),
            ("mis-shaped", self.mismatched, "; "),
        ):
            if keys:
                shown = sep.join(keys[:_MAX_LISTED])
                more = f"{sep}… (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
                lines.append(f"  {label} ({len(keys)}): {shown}{more}")
        return lines


def _read(path: str | os.PathLike, what: str = "checkpoint", fix: str = "") -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file" + (f" ({fix})" if fix else ""))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path}: refusing to load it: it is not a plain weights file (it would import or run Python "
            f"objects beyond tensors and containers; torch.load(weights_only=True) said: "
            f"{str(err).splitlines()[0]})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        # torch's first sentence says what failed; the rest is generic advice
        detail = str(err).strip().split(". ")[0].splitlines()[0] if str(err).strip() else type(err).__name__
        hint = fix or "delete it and write it again"
        raise CheckpointError(
            f"{path}: cannot read this {what}: the file is truncated or corrupt ({detail}); {hint}"
        ) from err


def load_checkpoint(path: str | os.PathLike, what: str = "checkpoint", fix: str = "") -> dict[str, Any]:
    """Read a whole checkpoint (state dict + extras) safely, e.g. to resume training.

    Any torch file of ours (a run's scores, a fusion's weights) is read the same way: ``what`` names it and
    ``fix`` says how to recreate it in the error a missing, truncated or corrupt file gives.
    """
    obj = _read(path, what, fix)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict {what}, found {type(obj).__name__}")
    return obj


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra: Any) -> None:
    """Write ``{'model': state_dict, 'arch', 'model_config', **extra}`` atomically (temp + rename).

    ``extra`` must hold plain data (tensors, numbers, strings, lists, dicts; e.g. ``epoch``,
    ``optimizer=opt.state_dict()``) so the file stays loadable with ``weights_only=True``.
    DataParallel/DDP wrappers are unwrapped, so keys never start with ``module.``.
    """
    inner = getattr(model, "module", model)
    checkpoint: dict[str, Any] = {
        "format": "dualaction",
        "arch": getattr(inner, "arch", type(inner).__name__),
        "model_config": dict(getattr(inner, "config", {}) or {}),
        "model": inner.state_dict(),
        **extra,
    }
    atomic_save(path, lambda handle: torch.save(checkpoint, handle))


def map_torchvision_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename torchvision VideoResNet keys (``stem.0``, ``layer1.0.conv1.0`` …) to Hara/MARS names."""
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _TORCHVISION_RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


def _unwrap(obj: Any, origin: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Return (state_dict, metadata) from a bare state dict or a {'state_dict'|'model': …} wrapper."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{origin}: expected a state dict or checkpoint dict, got {type(obj).__name__}")
    meta: dict[str, Any] = {}
    for wrapper in ("state_dict", "model"):
        if isinstance(obj.get(wrapper), Mapping):
            meta = {k: v for k, v in obj.items() if k != wrapper and not isinstance(v, Mapping)}
            meta["wrapper"] = wrapper
            meta["native"] = obj.get("format") == "dualaction"
            obj = obj[wrapper]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    if not tensors:
        raise CheckpointError(f"{origin}: no tensors found (keys: {list(obj)[:10]})")
    if len(tensors) != len(obj):
        others = [k for k in obj if k not in tensors]
        raise CheckpointError(f"{origin}: entries that are not tensors: {others[:10]}")
    prefix = "module."
    if all(k.startswith(prefix) for k in tensors):
        tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
    return tensors, meta


def _detect(state: Mapping[str, Tensor], meta: Mapping[str, Any]) -> str:
    if any(k.startswith("stem.") or ".conv1.0." in k for k in state):
        return "torchvision"
    if not any(k.endswith("num_batches_tracked") for k in state):
        return "hara"  # PyTorch < 0.4.1 checkpoints (Hara's releases) lack num_batches_tracked
    if meta.get("wrapper") == "state_dict" and not meta.get("native"):
        return "mars"  # {'epoch', 'arch', 'state_dict', 'optimizer'}
    return "native"


def _adapt_in_channels(weight: Tensor, in_channels: int) -> Tensor:
    """Cross-modality init: average conv1 over its input channels, repeat to ``in_channels``."""
    mean = weight.mean(dim=1, keepdim=True)  # (C_out, 1, kT, kH, kW)
    return mean.expand(-1, in_channels, -1, -1, -1).clone()


def load_weights(
    model: nn.Module,
    weights: str | os.PathLike | Mapping[str, Any],
    source: Source = "auto",
    *,
    num_classes: int | None = None,
    adapt_in_channels: bool = False,
    strict: bool = True,
) -> LoadReport:
    """Load MARS / Hara / torchvision / native weights into ``model``; returns a report.

    Unwraps ``{'state_dict': …}`` / ``{'model': …}``, strips ``module.``, maps torchvision keys, tolerates
    a missing ``num_batches_tracked``.

    Args:
        weights: a file path (read with ``weights_only=True``) or a (wrapped) state dict.
        source: "auto" detects torchvision keys; "mars" / "hara" / "native" take Hara names as they are.
        num_classes: classes wanted after loading. If the checkpoint's ``fc`` has another size, ``fc`` is
            replaced by a fresh layer of this size (noted in the report). ``None``: ``fc`` must match.
        adapt_in_channels: if ``conv1`` has another number of input channels (e.g. RGB weights for a 2-channel
            flow model), use the mean over the checkpoint's channels, repeated (cross-modality init).
        strict: raise one :class:`CheckpointError` listing every missing, unexpected and mis-shaped key.
            With ``strict=False`` the matching tensors are loaded and the rest is only reported.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    origin = str(weights) if isinstance(weights, str | os.PathLike) else "<state dict>"
    obj = _read(weights) if isinstance(weights, str | os.PathLike) else weights
    state, meta = _unwrap(obj, origin)
    detected = _detect(state, meta)
    if source == "torchvision" or (source == "auto" and detected == "torchvision"):
        state = map_torchvision_keys(state)
    report = LoadReport(origin=origin, source=detected if source == "auto" else source)
    if "arch" in meta:
        report.notes.append(f"checkpoint arch {meta['arch']!r}")

    target = model.state_dict()
    fresh: tuple[str, ...] = ()  # keys deliberately left at their new initialisation
    if num_classes is not None:
        current = target["fc.weight"].shape[0] if "fc.weight" in target else None
        if current != num_classes:
            _resize_classifier(model, num_classes)
            target = model.state_dict()
        if "fc.weight" in state and state["fc.weight"].shape[0] != num_classes:
            report.notes.append(
                f"classifier replaced: checkpoint has {state['fc.weight'].shape[0]} classes, "
                f"model now has a fresh fc with {num_classes}"
            )
            state = {k: v for k, v in state.items() if k not in _CLASSIFIER}
            fresh = _CLASSIFIER
    if adapt_in_channels and _STEM_CONV in state and _STEM_CONV in target:
        have, want = state[_STEM_CONV].shape[1], target[_STEM_CONV].shape[1]
        if have != want:
            state[_STEM_CONV] = _adapt_in_channels(state[_STEM_CONV], want)
            report.notes.append(f"conv1 adapted from {have} to {want} input channels (mean over channels)")

    report.missing = [
        k for k in target if k not in state and k not in fresh and not k.endswith("num_batches_tracked")
    ]
    report.unexpected = [k for k in state if k not in target]
    misshaped = [k for k, v in state.items() if k in target and v.shape != target[k].shape]
    report.mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(target[k].shape)}" for k in misshaped
    ]
    if strict and (report.missing or report.unexpected or report.mismatched):
        hints = []
        if any(k.startswith("fc.") for k in misshaped):
            hints.append("pass num_classes=<classes wanted> to replace the classifier with a fresh one")
        if _STEM_CONV in misshaped:
            hints.append("pass adapt_in_channels=True to average conv1 over the input channels")
        raise CheckpointError(
            f"weights from {origin} (source {report.source}) do not fit {type(model).__name__} "
            f"'{getattr(model, 'arch', '?')}':\n"
            + "\n".join(report.details() + [f"  hint: {h}" for h in hints])
        )
    loadable = {k: v for k, v in state.items() if k in target and k not in misshaped}
    model.load_state_dict(loadable, strict=False)
    report.loaded = len(loadable)
    log.info("%s", report)
    return report


def _resize_classifier(model: nn.Module, num_classes: int) -> None:
    if hasattr(model, "reset_classifier"):
        model.reset_classifier(num_classes)
    elif isinstance(getattr(model, "fc", None), nn.Linear):
        model.fc = nn.Linear(model.fc.in_features, num_classes, device=model.fc.weight.device)
    else:
        raise CheckpointError(f"cannot replace the classifier of {type(model).__name__} (no fc)")

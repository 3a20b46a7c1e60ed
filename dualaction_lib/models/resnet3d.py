"""3D ResNets / ResNeXts with MARS/Hara key names, plus torchvision's r3d_18 architecture.

Contract: docs/architecture.md, "Models".

Key names are Hara's (``conv1, bn1, layerL.B.{conv1,bn1,conv2,bn2[,conv3,bn3]}, layerL.0.downsample.{0,1},
fc``), so MARS and Hara checkpoints load without renaming; torchvision keys are mapped by
:func:`dualaction_lib.models.checkpoints.load_weights`.

Layout of every model (shapes for ``resnext101`` on a 16×112² clip), with timm's feature contract:
``forward_features(x)`` is the last stage, ``forward_head(f)`` pools and classifies it,
``forward_intermediates(x, names)`` returns the named features below (what the losses read), and
``feature_info`` lists channels and reductions per stage::

    conv1 → bn1 → relu → maxpool           "stem"    (B, 64, 8, 28, 28)
    layer1 (stride 1)                      "layer1"  (B, 256, 8, 28, 28)
    layer2 (stride 2 in T, H, W)           "layer2"  (B, 512, 4, 14, 14)
    layer3 (stride 2)                      "layer3"  (B, 1024, 2, 7, 7)
    layer4 (stride 2)                      "layer4"  (B, 2048, 1, 4, 4)
    adaptive average pool + flatten        "pool"    (B, 2048)
    dropout → fc                           logits    (B, num_classes)

The pool is adaptive (MARS uses a fixed ``AvgPool3d``), so one set of weights runs on 16- and 64-frame clips.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dualaction_lib.feature_names import FEATURE_NAMES, STAGE_NAMES

__all__ = ["ARCHS", "FEATURE_NAMES", "BasicBlock", "Bottleneck", "ResNet3D", "build_model"]

_LAYERS = STAGE_NAMES[1:]  # "layer1" … "layer4": the residual stages

Shortcut = Literal["A", "B"]
Stride = int | tuple[int, int, int]  # one value for T, H and W, or (T, H, W)


def _triple(stride: Stride) -> tuple[int, int, int]:
    return (stride, stride, stride) if isinstance(stride, int) else tuple(stride)


class ZeroPadShortcut(nn.Module):
    """Hara's parameter-free shortcut "A": strided identity, new channels filled with zeros."""

    def __init__(self, out_planes: int, stride: Stride) -> None:
        super().__init__()
        self.out_planes = out_planes
        self.stride = _triple(stride)

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, T, H, W) → (B, C_out, T/s_t, H/s, W/s)
        st, sh, sw = self.stride
        out = x[:, :, ::st, ::sh, ::sw]
        return F.pad(out, (0, 0, 0, 0, 0, 0, 0, self.out_planes - out.shape[1]))


class BasicBlock(nn.Module):
    """Two 3×3×3 convolutions (ResNet-10/18/34, r3d_18)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: Stride = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64 (use a bottleneck arch)")
        self.conv1 = nn.Conv3d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = nn.Conv3d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += residual
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1×1 → 3×3×3 (grouped for ResNeXt, strided) → 1×1×1, expansion 4.

    Inner width ``int(planes · base_width / 64) · groups``: ResNeXt-101 32×4d gives 128/256/512/1024, exactly
    Hara's ``cardinality · planes / 32`` with his doubled planes and expansion 2.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: Stride = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        width = int(planes * base_width / 64) * groups
        if width <= 0:
            raise ValueError(f"bottleneck width is {width} for planes={planes}, base_width={base_width}")
        self.conv1 = nn.Conv3d(inplanes, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.conv2 = nn.Conv3d(
            width, width, kernel_size=3, stride=stride, padding=1, groups=groups, bias=False
        )
        self.bn2 = nn.BatchNorm3d(width)
        self.conv3 = nn.Conv3d(width, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += residual
        return self.relu(out)


class ResNet3D(nn.Module):
    """Generic 3D ResNet/ResNeXt (Hara et al., CVPR 2018) with named stage features.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. ``(3, 4, 23, 3)``.
        in_channels: 3 for RGB, 2 for optical flow (x, y).
        num_classes: classifier outputs.
        widths: per-stage ``planes`` (stage outputs are ``planes · block.expansion``); narrow values such as
            ``(16, 32, 64, 128)`` give tiny CPU models.
        stem_width: ``conv1`` output channels (default ``widths[0]``).
        stem_kernel_t / stem_stride_t: temporal kernel and stride of ``conv1`` (spatial is 7×7, stride 2).
        max_pool: 3×3×3 max-pool with stride 2 after the stem (halves T, H, W).
        stage_stride_t: temporal stride of stages 2–4 (spatial is 2). 1 keeps every frame through the
            network, which short clips of small frames need to keep their motion (cpu preset).
        shortcut: "B" = 1×1×1 conv + BN where shape changes (keys ``downsample.{0,1}``); "A" = zero padding.
        groups / base_width: ResNeXt cardinality and per-group width (bottleneck only).
        dropout: dropout probability before ``fc``.
    """

    arch: str = "custom"
    config: dict[str, Any]

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: Sequence[int],
        in_channels: int = 3,
        num_classes: int = 400,
        widths: Sequence[int] = (64, 128, 256, 512),
        stem_width: int | None = None,
        stem_kernel_t: int = 7,
        stem_stride_t: int = 1,
        max_pool: bool = True,
        stage_stride_t: int = 2,
        shortcut: Shortcut = "B",
        groups: int = 1,
        base_width: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.config = {}
        if len(layers) != 4 or len(widths) != 4:
            raise ValueError(f"need 4 stages, got layers={tuple(layers)} widths={tuple(widths)}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        self.inplanes = stem_width or widths[0]
        self.conv1 = nn.Conv3d(
            in_channels,
            self.inplanes,
            kernel_size=(stem_kernel_t, 7, 7),
            stride=(stem_stride_t, 2, 2),
            padding=(stem_kernel_t // 2, 3, 3),
            bias=False,
        )
        self.bn1 = nn.BatchNorm3d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d(kernel_size=3, stride=2, padding=1) if max_pool else nn.Identity()
        pool_stride = 2 if max_pool else 1
        reduction, reduction_t = 2 * pool_stride, stem_stride_t * pool_stride
        # timm's feature_info, one dict per stage output; reduction_t is the temporal stride (ours).
        self.feature_info: list[dict[str, Any]] = [
            {
                "num_chs": self.inplanes,
                "reduction": reduction,
                "reduction_t": reduction_t,
                "module": "maxpool",
            }
        ]
        for index, (name, planes, blocks) in enumerate(zip(_LAYERS, widths, layers, strict=True)):
            stride_t, stride = (1, 1) if index == 0 else (stage_stride_t, 2)
            stage = self._make_layer(
                block, planes, blocks, (stride_t, stride, stride), shortcut, groups, base_width
            )
            setattr(self, name, stage)
            reduction, reduction_t = reduction * stride, reduction_t * stride_t
            self.feature_info.append(
                {"num_chs": self.inplanes, "reduction": reduction, "reduction_t": reduction_t, "module": name}
            )
        self.num_features = self.inplanes
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(self.num_features, num_classes)
        self._init_weights()

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: tuple[int, int, int],
        shortcut: Shortcut,
        groups: int,
        base_width: int,
    ) -> nn.Sequential:
        out_planes = planes * block.expansion
        downsample: nn.Module | None = None
        if stride != (1, 1, 1) or self.inplanes != out_planes:
            if shortcut == "A":
                downsample = ZeroPadShortcut(out_planes, stride)
            else:
                downsample = nn.Sequential(
                    nn.Conv3d(self.inplanes, out_planes, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm3d(out_planes),
                )
        modules = [block(self.inplanes, planes, stride, downsample, groups, base_width)]
        self.inplanes = out_planes
        modules += [block(out_planes, planes, 1, None, groups, base_width) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def _init_weights(self) -> None:
        # As torchvision's VideoResNet (Hara uses the same conv/BN scheme).
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self._init_fc()

    def _init_fc(self) -> None:
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward_intermediates(self, x: Tensor, names: Iterable[str] | None = None) -> dict[str, Tensor]:
        """Named features in one pass: ``{"stem", "layer1", …, "layer4": (B, C, T, H, W), "pool": (B, C)}``.

        ``names`` (default: all of :data:`FEATURE_NAMES`) selects and orders the entries; the pass stops
        after the last stage needed.
        """
        wanted = FEATURE_NAMES if names is None else tuple(names)
        unknown = [n for n in wanted if n not in FEATURE_NAMES]
        if unknown:
            raise KeyError(f"unknown feature names {unknown}; available: {list(FEATURE_NAMES)}")
        last = max((FEATURE_NAMES.index(n) for n in wanted), default=-1)
        feats: dict[str, Tensor] = {}
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, C0, T', H/4, W/4)
        feats["stem"] = x
        for index, name in enumerate(_LAYERS, start=1):
            if index > last:
                break
            x = getattr(self, name)(x)  # (B, C_i, T_i, H_i, W_i)
            feats[name] = x
        if "pool" in wanted:
            feats["pool"] = self.forward_head(x, pre_logits=True)  # (B, C4)
        return {n: feats[n] for n in wanted}

    def forward_features(self, x: Tensor) -> Tensor:
        """The last stage's output: (B, C_in, T, H, W) → (B, num_features, T', H', W')."""
        return self.forward_intermediates(x, ("layer4",))["layer4"]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool, dropout, fc: (B, C, T', H', W') → logits (B, num_classes), or the pooled (B, C)."""
        x = self.avgpool(x).flatten(1)  # (B, C)
        if pre_logits:
            return x
        return self.fc(self.dropout(x))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` for a clip batch ``x`` of shape (B, C, T, H, W)."""
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace ``fc`` by a freshly initialised ``Linear(num_features, num_classes)``."""
        w = self.fc.weight
        self.fc = nn.Linear(self.num_features, num_classes, device=w.device, dtype=w.dtype)
        self._init_fc()
        if self.config:
            self.config["num_classes"] = num_classes


# arch → (block, blocks per stage, default options). Hara's naming; r3d_18 is torchvision's.
ARCHS: dict[str, tuple[type[BasicBlock | Bottleneck], tuple[int, int, int, int], dict[str, Any]]] = {
    "resnet10": (BasicBlock, (1, 1, 1, 1), {}),
    "resnet18": (BasicBlock, (2, 2, 2, 2), {}),
    "resnet34": (BasicBlock, (3, 4, 6, 3), {}),
    "resnet50": (Bottleneck, (3, 4, 6, 3), {}),
    "resnet101": (Bottleneck, (3, 4, 23, 3), {}),
    "resnet152": (Bottleneck, (3, 8, 36, 3), {}),
    "resnet200": (Bottleneck, (3, 24, 36, 3), {}),
    "resnext50": (Bottleneck, (3, 4, 6, 3), {"cardinality": 32, "base_width": 4}),
    "resnext101": (Bottleneck, (3, 4, 23, 3), {"cardinality": 32, "base_width": 4}),
    "resnext152": (Bottleneck, (3, 8, 36, 3), {"cardinality": 32, "base_width": 4}),
    "r3d_18": (BasicBlock, (2, 2, 2, 2), {"stem_kernel_t": 3, "max_pool": False}),
}


def build_model(arch: str, in_channels: int = 3, num_classes: int = 400, **options: Any) -> ResNet3D:
    """Build a 3D ResNet by name (docs/architecture.md, "Models").

    ``arch``: one of :data:`ARCHS` (``"resnext101"`` = MARS's network, ``"r3d_18"`` = torchvision's).
    ``options`` override the arch defaults: ``shortcut`` ("A"/"B"), ``stem_kernel_t``, ``stem_stride_t``,
    ``stage_stride_t``, ``max_pool``, ``cardinality``, ``base_width``, ``widths`` (4 stage planes),
    ``stem_width``, ``dropout``.
    The returned model carries ``arch`` and ``config`` (the arguments that rebuild it).
    """
    key = arch.lower().replace("-", "")
    key = {"resnext101_32x4d": "resnext101", "r3d18": "r3d_18"}.get(key, key)
    if key not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose from {sorted(ARCHS)}")
    block, layers, defaults = ARCHS[key]
    opts = {**defaults, **options}
    groups = opts.pop("cardinality", 1)
    if "widths" in opts:
        opts["widths"] = tuple(int(w) for w in opts["widths"])
    model = ResNet3D(block, layers, in_channels, num_classes, groups=groups, **opts)
    model.arch = key
    model.config = {"arch": key, "in_channels": in_channels, "num_classes": num_classes, **options}
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def feature_shapes(model: ResNet3D, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Shapes of every named feature for an input of ``input_shape`` (B, C, T, H, W), computed on meta."""
    x = torch.empty(*input_shape, device="meta")
    meta = model if next(model.parameters()).is_meta else _to_meta(model)
    return {k: tuple(v.shape) for k, v in meta.forward_intermediates(x).items()}


def _to_meta(model: ResNet3D) -> ResNet3D:
    if not model.config:
        raise ValueError("feature_shapes needs a model from build_model (or one already on the meta device)")
    config = dict(model.config)
    with torch.device("meta"):
        return build_model(config.pop("arch"), **config)

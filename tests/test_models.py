"""Backbones: MARS key names/shapes/parameter counts, feature shapes, options, torchvision r3d_18 parity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dualaction_lib.models import FEATURE_NAMES, build_model, count_parameters, feature_shapes, load_weights

TINY = {"widths": (4, 8, 8, 8)}  # BasicBlock / ResNet bottleneck toy widths


def mars_resnext101_shapes(in_channels: int, num_classes: int) -> dict[str, tuple[int, ...]]:
    """MARS/Hara ResNeXt-101 state_dict written out from Hara's code (planes 128·2^i, expansion 2)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["conv1.weight"] = (64, in_channels, 7, 7, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, (planes, blocks) in enumerate(zip((128, 256, 512, 1024), (3, 4, 23, 3), strict=True), 1):
        mid, out = 32 * (planes // 32), planes * 2  # cardinality 32
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            shapes[f"{p}.conv1.weight"] = (mid, inplanes if b == 0 else out, 1, 1, 1)
            bn(f"{p}.bn1", mid)
            shapes[f"{p}.conv2.weight"] = (mid, mid // 32, 3, 3, 3)
            bn(f"{p}.bn2", mid)
            shapes[f"{p}.conv3.weight"] = (out, mid, 1, 1, 1)
            bn(f"{p}.bn3", out)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (out, inplanes, 1, 1, 1)
                bn(f"{p}.downsample.1", out)
        inplanes = out
    shapes["fc.weight"] = (num_classes, 2048)
    shapes["fc.bias"] = (num_classes,)
    return shapes


@pytest.mark.parametrize(
    ("in_channels", "num_classes", "params"),
    [(2, 101, 47_706_213), (3, 51, 47_625_715), (2, 400, 48_318_864)],
)
def test_resnext101_matches_mars_keys_shapes_and_parameter_count(
    in_channels: int, num_classes: int, params: int
) -> None:
    with torch.device("meta"):
        model = build_model("resnext101", in_channels=in_channels, num_classes=num_classes)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = mars_resnext101_shapes(in_channels, num_classes)
    assert len(ours) == 626
    assert list(ours) == list(expected)  # same names, same order as MARS's state_dict
    assert ours == expected
    assert count_parameters(model) == params


def test_mars_feature_shapes_at_16_and_64_frames() -> None:
    with torch.device("meta"):
        model = build_model("resnext101", in_channels=3, num_classes=101)
    s16 = feature_shapes(model, (2, 3, 16, 112, 112))
    assert s16 == {
        "stem": (2, 64, 8, 28, 28),
        "layer1": (2, 256, 8, 28, 28),
        "layer2": (2, 512, 4, 14, 14),
        "layer3": (2, 1024, 2, 7, 7),
        "layer4": (2, 2048, 1, 4, 4),
        "pool": (2, 2048),
    }
    s64 = feature_shapes(model, (1, 3, 64, 112, 112))
    assert [s64[n][2] for n in ("stem", "layer1", "layer2", "layer3", "layer4")] == [32, 32, 16, 8, 4]
    assert [info["num_chs"] for info in model.feature_info] == [s16[n][1] for n in FEATURE_NAMES[:-1]]


@pytest.mark.parametrize(
    ("arch", "options"),
    [
        ("resnet10", TINY),
        ("resnet18", TINY),
        ("resnet34", TINY),
        ("resnet50", TINY),
        ("resnet101", TINY),
        ("resnet152", TINY),
        ("resnext101", {"widths": (16, 16, 16, 16), "cardinality": 4}),
        ("r3d_18", TINY),
    ],
)
def test_every_arch_runs_a_tiny_forward(arch: str, options: dict) -> None:
    model = build_model(arch, in_channels=2, num_classes=5, **options).eval()
    x = torch.randn(1, 2, 8, 32, 32)  # (B, C, T, H, W)
    with torch.no_grad():
        feats = model.forward_intermediates(x)
        logits = model(x)
        last = model.forward_features(x)
    assert list(feats) == list(FEATURE_NAMES)
    assert logits.shape == (1, 5)
    assert feats["pool"].shape == (1, model.num_features)
    torch.testing.assert_close(last, feats["layer4"])
    torch.testing.assert_close(logits, model.forward_head(last))
    torch.testing.assert_close(model.forward_head(last, pre_logits=True), feats["pool"])


@pytest.mark.parametrize(
    ("arch", "options"),
    [("resnet18", TINY), ("r3d_18", TINY), ("resnet10", {**TINY, "stem_stride_t": 2, "max_pool": False})],
)
def test_timm_feature_contract(arch: str, options: dict) -> None:
    """Code written for timm works: forward_head(forward_features(x)) == m(x); feature_info is honest."""
    model = build_model(arch, in_channels=3, num_classes=6, dropout=0.5, **options).eval()
    x = torch.randn(2, 3, 16, 64, 64)  # (B, C, T, H, W)
    outputs = {}  # feature_info's "module" is the module whose output is the stage feature (as timm)
    for info in model.feature_info:
        module = model.get_submodule(info["module"])
        module.register_forward_hook(lambda mod, args, out, key=info["module"]: outputs.setdefault(key, out))
    with torch.no_grad():
        features = model.forward_features(x)  # (B, C, T', H', W')
        torch.testing.assert_close(model.forward_head(features), model(x))
        outputs.clear()
        intermediates = model.forward_intermediates(x)
    assert features.dim() == 5 and features.shape[1] == model.num_features
    for name, info in zip(FEATURE_NAMES[:-1], model.feature_info, strict=True):
        t, hw = 16 // info["reduction_t"], 64 // info["reduction"]
        assert intermediates[name].shape == (2, info["num_chs"], t, hw, hw), name
        torch.testing.assert_close(outputs[info["module"]], intermediates[name])
    assert model.feature_info[-1]["num_chs"] == model.num_features


def test_same_weights_run_16_and_64_frames() -> None:
    model = build_model("resnext101", 3, 7, widths=(16, 16, 16, 16), cardinality=4).eval()
    with torch.no_grad():
        for frames in (16, 64):
            feats = model.forward_intermediates(torch.randn(1, 3, frames, 32, 32))
            assert feats["layer1"].shape[2] == frames // 2
            assert model.forward_head(feats["layer4"]).shape == (1, 7)


def test_forward_intermediates_subset_stops_early() -> None:
    model = build_model("resnet18", 3, 4, **TINY).eval()
    x = torch.randn(1, 3, 4, 32, 32)
    calls = []
    model.layer3.register_forward_hook(lambda *args: calls.append("layer3"))
    feats = model.forward_intermediates(x, names=("layer2", "stem"))
    assert list(feats) == ["layer2", "stem"] and calls == []
    with pytest.raises(KeyError, match="unknown feature"):
        model.forward_intermediates(x, names=("layer9",))


def test_options_shortcut_stem_maxpool_cardinality_dropout() -> None:
    a = build_model("resnet18", 3, 4, shortcut="A", **TINY)
    assert not any("downsample" in k for k in a.state_dict())
    b = build_model("resnet18", 3, 4, **TINY)
    assert (
        "layer2.0.downsample.0.weight" in b.state_dict()
        and "layer1.0.downsample.0.weight" not in b.state_dict()
    )
    x = torch.randn(1, 3, 8, 32, 32)
    assert a.eval()(x).shape == (1, 4)

    m = build_model("resnet10", 3, 4, stem_kernel_t=3, stem_stride_t=2, max_pool=False, **TINY)
    assert m.conv1.weight.shape == (4, 3, 3, 7, 7)
    assert m.forward_intermediates(x, ("stem",))["stem"].shape == (1, 4, 4, 16, 16)

    x = build_model("resnext50", 3, 4, widths=(16, 16, 16, 16), cardinality=8, base_width=8)
    assert x.layer1[0].conv2.groups == 8 and x.layer1[0].conv2.weight.shape[0] == 16

    d = build_model("resnet10", 3, 4, dropout=0.5, **TINY)
    assert isinstance(d.dropout, nn.Dropout) and d.dropout.p == 0.5
    assert d.config == {"arch": "resnet10", "in_channels": 3, "num_classes": 4, "dropout": 0.5, **TINY}
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("resnet11")


def test_r3d_18_equals_torchvision_after_loading_its_weights() -> None:
    from torchvision.models.video import r3d_18

    reference = r3d_18(weights=None)
    for module in reference.modules():  # non-trivial BN statistics and classifier
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.2, 0.2)
    nn.init.normal_(reference.fc.weight, 0, 0.1)
    reference.eval()
    ours = build_model("r3d_18", in_channels=3, num_classes=400).eval()
    assert count_parameters(ours) == count_parameters(reference) == 33_371_472

    report = load_weights(ours, reference.state_dict(), source="torchvision")
    assert report.loaded == len(reference.state_dict()) and not report.missing
    x = torch.randn(2, 3, 4, 16, 16)  # small: the full-width nets are compute-bound on a shared CPU
    with torch.no_grad():
        diff = (ours(x) - reference(x)).abs().max().item()
    assert diff <= 1e-5

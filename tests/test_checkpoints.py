"""Checkpoint loading (MARS, Hara, torchvision, native) and safe, atomic saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dualaction_lib.models import (
    CheckpointError,
    build_model,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)

# A narrow ResNeXt-101 with MARS's key structure (626 keys) that is cheap to save and load.
TINY_X101 = {"widths": (16, 16, 16, 16), "cardinality": 4}


def tiny(in_channels: int = 3, num_classes: int = 10) -> nn.Module:
    return build_model("resnext101", in_channels, num_classes, **TINY_X101)


def assert_same_weights(a: nn.Module, b: nn.Module, skip: tuple[str, ...] = ()) -> None:
    sb = b.state_dict()
    for key, value in a.state_dict().items():
        if not key.startswith(skip):
            torch.testing.assert_close(value, sb[key], msg=key)


def test_mars_style_file_with_module_prefix(tmp_path: Path) -> None:
    source = tiny(2, 101)
    mars = {
        "epoch": 250,
        "arch": "resnext-101",
        "state_dict": {f"module.{k}": v for k, v in source.state_dict().items()},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]},
    }
    assert len(mars["state_dict"]) == 626
    path = tmp_path / "Flow_UCF101_16f.pth"
    torch.save(mars, path)

    target = tiny(2, 101)
    report = load_weights(target, path)  # source="auto"
    assert report.source == "mars" and report.loaded == 626
    assert "resnext-101" in str(report) and str(path) in str(report)
    assert_same_weights(source, target)


def test_hara_file_without_num_batches_tracked(tmp_path: Path) -> None:
    source = tiny(3, 400)
    state = {f"module.{k}": v for k, v in source.state_dict().items() if "num_batches_tracked" not in k}
    path = tmp_path / "resnext-101-kinetics.pth"
    torch.save({"epoch": 1, "arch": "resnext-101", "state_dict": state}, path)
    target = tiny(3, 400)
    report = load_weights(target, path, source="hara")
    assert report.source == "hara" and not report.missing
    assert_same_weights(source, target)
    assert load_weights(tiny(3, 400), path).source == "hara"  # auto-detected


def test_torchvision_state_dict_is_mapped() -> None:
    from torchvision.models.video import r3d_18

    reference = r3d_18(weights=None)
    ours = build_model("r3d_18", 3, 400)
    report = load_weights(ours, reference.state_dict())
    assert report.source == "torchvision" and report.loaded == len(reference.state_dict())
    torch.testing.assert_close(ours.conv1.weight, reference.stem[0].weight)
    torch.testing.assert_close(ours.layer2[0].bn2.running_var, reference.layer2[0].conv2[1].running_var)
    torch.testing.assert_close(ours.layer3[0].downsample[0].weight, reference.layer3[0].downsample[0].weight)


def test_replace_classifier_and_adapt_conv1_from_rgb_to_flow() -> None:
    kinetics_rgb = tiny(3, 400)
    flow = tiny(2, 101)
    with pytest.raises(CheckpointError) as err:
        load_weights(flow, kinetics_rgb.state_dict())
    message = str(err.value)
    assert "fc.weight: checkpoint (400, 64) vs model (101, 64)" in message
    assert (
        "conv1.weight" in message and "num_classes=" in message and "adapt_in_channels=True" in message
    )  # names the keys and hints the fix

    report = load_weights(flow, kinetics_rgb.state_dict(), num_classes=51, adapt_in_channels=True)
    assert flow.fc.out_features == 51 and flow.config["num_classes"] == 51
    notes = " ".join(report.notes)
    assert "400" in notes and "51" in notes and "3 to 2 input channels" in notes
    mean = kinetics_rgb.conv1.weight.mean(dim=1, keepdim=True)  # (C_out, 1, kT, kH, kW)
    torch.testing.assert_close(flow.conv1.weight, mean.repeat(1, 2, 1, 1, 1))
    assert_same_weights(kinetics_rgb, flow, skip=("conv1.", "fc."))


def test_mismatch_lists_missing_unexpected_and_misshaped_in_one_error(tmp_path: Path) -> None:
    state = build_model("resnet10", 3, 5, widths=(4, 8, 8, 8)).state_dict()
    del state["layer1.0.bn2.weight"]
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    state["layer2.0.conv1.weight"] = torch.zeros(8, 4, 1, 1, 1)
    path = tmp_path / "broken.pt"
    torch.save({"state_dict": state}, path)
    model = build_model("resnet10", 3, 5, widths=(4, 8, 8, 8))
    with pytest.raises(CheckpointError) as err:
        load_weights(model, path)
    message = str(err.value)
    assert str(path) in message
    assert "missing (1): layer1.0.bn2.weight" in message
    assert "unexpected (1): layer5.0.conv1.weight" in message
    assert "layer2.0.conv1.weight: checkpoint (8, 4, 1, 1, 1) vs model (8, 4, 3, 3, 3)" in message

    report = load_weights(model, path, strict=False)  # loads the rest, reports the problems
    assert report.loaded == len(state) - 2 and report.missing == ["layer1.0.bn2.weight"]


class _TouchesAFile:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # unpickling would call open(target, "w") and create the file
        return (open, (str(self.target), "w"))


def test_pickle_with_code_is_refused_not_executed(tmp_path: Path) -> None:
    victim = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "payload": _TouchesAFile(victim)}, path)
    assert not victim.exists()
    for call in (lambda: load_weights(tiny(), path), lambda: load_checkpoint(path)):
        with pytest.raises(CheckpointError, match="evil.pth: refusing to load"):
            call()
    assert not victim.exists()

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated.pth: cannot read this checkpoint: .*truncated"):
        load_weights(tiny(), truncated)


def test_save_checkpoint_is_atomic_and_round_trips(tmp_path: Path) -> None:
    model = build_model("resnet10", 2, 6, widths=(4, 8, 8, 8))
    path = tmp_path / "run" / "checkpoint.pt"
    save_checkpoint(path, nn.DataParallel(model), epoch=3, optimizer={"lr": 0.1})
    ckpt = load_checkpoint(path)
    assert ckpt["epoch"] == 3 and ckpt["arch"] == "resnet10" and ckpt["model_config"]["num_classes"] == 6
    assert not any(k.startswith("module.") for k in ckpt["model"])

    fresh = build_model(**ckpt["model_config"])
    assert load_weights(fresh, path).source == "native"
    assert_same_weights(model, fresh)

    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - an unpicklable extra fails inside torch.save
        save_checkpoint(path, model, epoch=4, hook=lambda: None)
    assert path.read_bytes() == before  # the old checkpoint survives a failed write
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]  # no temp file left

"""The paper presets feed MARS's released flow checkpoints what MARS fed them: truncated flow levels
(``data.flow_rounding``, checked against the frames root), PIL's antialiased bilinear resize of the crops
(``data.resize``), and MARS's checkpoint keys (``distill.teacher_source``). Reference: MARS's
``dataset/preprocess_data.py`` crops, resizes (PIL BILINEAR), flips (FLIP_LEFT_RIGHT), then inverts flow-x."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageChops

from dualaction_lib.config import ConfigError, load_config
from dualaction_lib.data import transforms
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import evaluate, train
from dualaction_lib.rundir import RunDir

PAPER = ["paper_hmdb51_16f", "paper_hmdb51_64f", "paper_ucf101_16f", "paper_ucf101_64f"]
TINY = {
    "task": "objects",
    "num_classes": 2,
    "videos_per_class_train": 1,
    "videos_per_class_test": 1,
    "num_frames": 5,
    "frame_size": [40, 40],
}


def smoke(tmp: Path, frames_root: Path, rounding: str, **overrides):
    return load_config(
        "smoke",
        **{
            "data.root": str(tmp / "raw"),
            "data.frames_root": str(frames_root),
            "data.flow_rounding": rounding,
            "data.synthetic": TINY,
            "out_dir": str(tmp / "runs"),
            **overrides,
        },
    )


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """The tiny synthetic set auto-prepared by the engine twice: flow rounded, and truncated."""
    tmp = tmp_path_factory.mktemp("mars_inputs")
    for rounding in ("round", "truncate"):
        edata.ensure_prepared(smoke(tmp, tmp / rounding, rounding))
    return {"round": tmp / "round", "truncate": tmp / "truncate"}


# --------------------------------------------------------------------------- flow rounding


def test_auto_prepare_extracts_with_data_flow_rounding(roots):
    for rounding, root in roots.items():
        report = json.loads((root / "prepare_report.json").read_text())
        assert report["fingerprint"]["rounding"] == rounding and report["extracted"] == 4


@pytest.mark.parametrize("asked, found", [("truncate", "round"), ("round", "truncate")])
def test_train_refuses_frames_of_another_rounding_in_one_line(roots, tmp_path, asked, found):
    cfg = smoke(tmp_path, roots[found], asked)
    with pytest.raises(ConfigError) as err:
        train(cfg)
    assert str(err.value) == (
        f"data.flow_rounding: {asked!r}, but the flow of {roots[found]} was extracted with rounding "
        f"{found!r} ({roots[found] / 'prepare_report.json'}); re-extract it with `python -m dualaction_lib "
        f"prepare --data.flow_rounding {asked}` into another --out, or set data.flow_rounding to {found!r}"
    )
    assert not RunDir.of(cfg).path.exists()  # refused before anything is written


def test_evaluate_refuses_frames_of_another_rounding(roots, tmp_path):
    cfg = smoke(tmp_path, roots["round"], "truncate", method="flow")
    RunDir.of(cfg).write_config(cfg)
    with pytest.raises(ConfigError, match=r"^data\.flow_rounding: 'truncate', but the flow of .*'round'"):
        evaluate(RunDir.of(cfg).path)
    assert sorted(p.name for p in RunDir.of(cfg).path.iterdir()) == ["config.yaml"]


def test_the_cli_refusal_is_one_line(roots, tmp_path):
    args = ["--preset", "smoke", "--data.frames_root", str(roots["round"]), "--out_dir", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, "-m", "dualaction_lib", "train", *args, "--data.flow_rounding", "truncate"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert (
        lines[0].startswith("error: data.flow_rounding: 'truncate'")
        and "--data.flow_rounding truncate" in lines[0]
    )


def test_matching_rounding_and_roots_without_a_report_are_accepted(roots, tmp_path):
    for rounding, root in roots.items():
        cfg = smoke(tmp_path, root, rounding)
        edata.check_prepared(cfg)
        edata.ensure_prepared(cfg)  # prepared: checked, nothing extracted again
        assert len(list(root.glob("prepare_report*.json"))) == 1
    elsewhere = tmp_path / "mars_frames"  # folders extracted by MARS itself record nothing
    elsewhere.mkdir()
    edata.check_prepared(smoke(tmp_path, elsewhere, "truncate"))


# --------------------------------------------------------------------------- resize


def mars_crop(image: np.ndarray, box: transforms.CropBox, size: int) -> Image.Image:
    """MARS's MultiScaleCornerCrop on one PIL image: crop, then resize with BILINEAR."""
    crop = (box.x, box.y, box.x + box.width, box.y + box.height)
    return Image.fromarray(image).crop(crop).resize((size, size), Image.BILINEAR)


@pytest.fixture
def clip() -> dict[str, np.ndarray]:
    """A small synthetic clip: smooth ramps plus noise, RGB (T, H, W, 3) and flow (T, H, W, 2)."""
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.linspace(0, 120, 48), np.linspace(0, 120, 64))[None, :, :, None]
    noise = rng.normal(0, 30, (3, 48, 64, 5))
    both = np.clip(ramp + noise + 60, 0, 255).astype(np.uint8)
    return {"rgb": both[..., :3].copy(), "flow": both[..., 3:].copy()}


def test_pil_bilinear_equals_pils_resize_for_rgb_and_each_flow_axis(clip):
    box = transforms.CropBox(5, 9, 40, 40)
    rgb = transforms.crop_resize(clip["rgb"], box, 28, resize="pil_bilinear")
    flow = transforms.crop_resize(clip["flow"], box, 28, flow=True, resize="pil_bilinear")
    assert rgb.shape == (3, 28, 28, 3) and flow.shape == (3, 28, 28, 2) and flow.dtype == np.uint8
    for t in range(3):
        assert np.array_equal(rgb[t], np.asarray(mars_crop(clip["rgb"][t], box, 28)))  # one 'RGB' image
        for axis in (0, 1):  # TVL1jpg_x / _y, each an 8-bit 'L' image
            expect = mars_crop(clip["flow"][t, ..., axis], box, 28)
            assert expect.mode == "L" and np.array_equal(flow[t, ..., axis], np.asarray(expect))
    linear = transforms.crop_resize(clip["rgb"], box, 28)
    assert not np.array_equal(linear, rgb)  # the two filters are different
    with pytest.raises(ValueError, match="resize must be one of"):
        transforms.crop_resize(clip["rgb"], box, 28, resize="bicubic")


def test_a_downscaled_checkerboard_is_grey_with_pil_bilinear_and_aliased_with_linear():
    board = ((np.indices((256, 256)).sum(0) % 2) * 255).astype(np.uint8)  # 1-px squares, mean 127.5
    frames = np.repeat(board[None, :, :, None], 2, axis=0)
    box = transforms.CropBox(0, 0, 256, 256)
    pil = transforms.crop_resize(frames, box, 112, flow=True, resize="pil_bilinear")
    linear = transforms.crop_resize(frames, box, 112, flow=True, resize="linear")
    assert abs(pil.mean() - 127.5) < 1 and pil.std() < 1  # antialiased: 0.38
    assert linear.std() > 30  # moiré: 41.6


def test_flip_after_pil_bilinear_gives_mars_values(clip):
    box = transforms.CropBox(4, 20, 44, 44, flip=True)
    flow = transforms.crop_resize(clip["flow"], box, 28, flow=True, resize="pil_bilinear")
    rgb = transforms.crop_resize(clip["rgb"], box, 28, resize="pil_bilinear")
    unflipped = transforms.crop_resize(
        clip["flow"], transforms.CropBox(4, 20, 44, 44), 28, True, "pil_bilinear"
    )
    assert np.array_equal(flow[..., 0], 255 - unflipped[:, :, ::-1, 0])  # mirrored, then u -> -u
    assert np.array_equal(flow[..., 1], unflipped[:, :, ::-1, 1])
    for t in range(3):  # MARS: crop + resize, FLIP_LEFT_RIGHT, then ImageChops.invert on flow-x only
        x, y = (mars_crop(clip["flow"][t, ..., a], box, 28).transpose(Image.FLIP_LEFT_RIGHT) for a in (0, 1))
        assert np.array_equal(flow[t, ..., 0], np.asarray(ImageChops.invert(x)))
        assert np.array_equal(flow[t, ..., 1], np.asarray(y))
        mirrored = mars_crop(clip["rgb"][t], box, 28).transpose(Image.FLIP_LEFT_RIGHT)
        assert np.array_equal(rgb[t], np.asarray(mirrored))


def test_the_engines_datasets_resize_with_data_resize(roots, tmp_path):
    samples = {}
    for resize in transforms.RESIZES:
        cfg = smoke(tmp_path, roots["round"], "round", **{"data.resize": resize, "data.val_fraction": 0.0})
        ds = edata.open_data(cfg.data, "rgb+flow", test=cfg.eval).test  # 40 px frames, 32 px crops
        assert ds.options.resize == resize
        samples[resize] = ds[0]
    for key in ("rgb", "flow"):
        a, b = samples["linear"][key], samples["pil_bilinear"][key]
        assert a.shape == b.shape and not torch.equal(a, b)


# --------------------------------------------------------------------------- presets


@pytest.mark.parametrize("name", PAPER)
def test_paper_presets_ask_for_marss_inputs(name):
    cfg = load_config(name)
    assert (cfg.data.flow_rounding, cfg.data.resize, cfg.distill.teacher_source) == (
        "truncate",
        "pil_bilinear",
        "mars",
    )


def test_cpu_and_smoke_keep_round_and_linear():
    for name in ("cpu", "smoke"):
        cfg = load_config(name)
        assert (cfg.data.flow_rounding, cfg.data.resize) == ("round", "linear")


def test_paper_teacher_loads_a_mars_file_with_source_mars(tmp_path, monkeypatch):
    from dualaction_lib import models
    from dualaction_lib.engine.modeling import load_teacher

    widths = (32, 32, 32, 32)  # a narrow ResNeXt-101 with MARS's key names
    source = models.build_model("resnext101", 2, 101, widths=widths)
    path = tmp_path / "Flow_UCF101_16f.pth"
    state = {f"module.{k}": v for k, v in source.state_dict().items()}  # saved from DataParallel
    torch.save({"epoch": 250, "arch": "resnext-101", "state_dict": state, "optimizer": {}}, path)
    calls = []
    real = models.load_weights

    def spy(model, file, **kwargs):
        calls.append(kwargs["source"])
        return real(model, file, **kwargs)

    monkeypatch.setattr(models, "load_weights", spy)
    cfg = load_config("paper_ucf101_16f", **{"distill.teacher": str(path), "distill.teacher_widths": widths})
    teacher = load_teacher(cfg, 101, torch.device("cpu"))
    assert calls == ["mars"]
    for key, value in source.state_dict().items():
        torch.testing.assert_close(teacher.state_dict()[key], value, msg=key)

"""The paper presets' recipe: Kinetics init from MARS's files, one schedule for every method (plateau on
the validation CE), the flow stream from MARS's checkpoint, fusion fitted on held-out scores, 256 × 256
frames. Every refusal is checked as the one line the user sees."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fakes import NUM_CLASSES, smoke

from dualaction_lib.__main__ import main
from dualaction_lib.config import ConfigError, load_config
from dualaction_lib.data.decode import _resize
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import fuse, train
from dualaction_lib.engine.fuse import FusionInputError
from dualaction_lib.errors import one_line
from dualaction_lib.models import build_model

train_module = importlib.import_module("dualaction_lib.engine.train")  # the package exports train()
PAPER = ["paper_hmdb51_16f", "paper_hmdb51_64f", "paper_ucf101_16f", "paper_ucf101_64f"]
TINY = (4, 8, 8, 16)  # resnet10 widths of the fake-data runs


@pytest.mark.parametrize("name", PAPER)
def test_paper_presets_start_students_from_marss_kinetics_model(name):
    frames = 16 if name.endswith("16f") else 64
    dataset = name.split("_")[1]
    cfg = load_config(name, method="ds")
    assert (cfg.model.arch, cfg.model.init) == ("resnext101", "pretrained")
    assert cfg.model.pretrained_source == "mars"
    assert cfg.model.pretrained == f"checkpoints/mars/RGB_Kinetics_{frames}f.pth"
    assert not cfg.model.keep_classifier and cfg.model.finetune_from == "stem"
    o = cfg.optim
    assert (o.lr, o.momentum, o.dampening, o.weight_decay) == (0.1, 0.9, 0.9, 1e-5)
    assert (o.scheduler, o.patience, o.factor) == ("plateau", 10, 0.1) and cfg.data.val_fraction == 0.1
    assert cfg.data.frame_size == (256, 256) and (cfg.data.clip_len, cfg.data.crop_size) == (frames, 112)
    assert cfg.distill.alpha == 50.0 and cfg.distill.teacher == "auto" and cfg.distill.teacher_seeds == 1
    flow = load_config(name, method="flow")  # the flow stream: MARS's released model, evaluated as it is
    assert flow.model.pretrained == f"checkpoints/mars/Flow_{dataset.upper()}_{frames}f.pth"
    assert flow.model.keep_classifier and flow.optim.epochs == 0
    students = {m: load_config(name, method=m).optim for m in ("rgb", "mars", "ds", "ds_mae", "ds_gram")}
    assert all(o == students["rgb"] for o in students.values()), "one schedule and budget for every student"


def test_every_paper_preset_line_states_its_source():
    from dualaction_lib.config import CONFIG_DIR

    sections = ("data:", "model:", "optim:", "distill:", "eval:", "method_overrides:", "flow:")
    for name in PAPER:
        lines = (CONFIG_DIR / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
        keys = [n for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
        unsourced = [
            lines[n]
            for n in keys
            if lines[n].strip() not in sections
            and "#" not in lines[n]
            and not lines[n - 1].lstrip().startswith("#")
        ]
        assert not unsourced, f"{name}: lines without a source or reason: {unsourced}"


def test_missing_kinetics_checkpoint_is_one_line_naming_file_and_origin(tmp_path, capfd):
    out = tmp_path / "runs"
    code = main(["train", "--preset", "paper_ucf101_16f", "--method", "ds", "--out_dir", str(out)])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0] == (
        "error: model.pretrained: checkpoints/mars/RGB_Kinetics_16f.pth does not exist; it is one of MARS's "
        "released models (github.com/craston/MARS, README 'Models', e.g. RGB_Kinetics_16f.pth, "
        "Flow_UCF101_16f.pth): download it to that path, or start from random weights with --model.init "
        "scratch"
    )
    assert not out.exists(), "refused before anything is written"


def test_plateau_without_a_validation_split_is_refused(tmp_path, fake_data):
    cfg = smoke(tmp_path, **{"optim.scheduler": "plateau"})
    with pytest.raises(ConfigError) as err:
        train(cfg)
    assert str(err.value) == (
        "optim.scheduler: plateau steps on the validation CE, but data.val_fraction is 0 (no validation "
        "split); hold one out with --data.val_fraction 0.1, or choose a fixed schedule with "
        "--optim.scheduler cosine (or step, none)"
    )
    assert not (tmp_path / "runs").exists()


def _epochs(run) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "epoch"]


def test_plateau_steps_on_the_validation_ce_the_same_for_every_method(tmp_path, fake_data, monkeypatch):
    losses = iter([1.0, 2.0, 3.0] * 2)  # improves once, then never: patience 0 decays at epochs 1 and 2
    monkeypatch.setattr(train_module, "_validation_loss", lambda *args: next(losses))
    plateau = {"optim.scheduler": "plateau", "optim.patience": 0, "optim.epochs": 3}
    plateau["data.val_fraction"] = 0.25
    lrs = {}
    for method in ("rgb", "ds"):  # ds's training loss adds α·(MAE + Gram); its schedule must not move
        teacher = {"distill.teacher": str(train(smoke(tmp_path, method="flow")))} if method == "ds" else {}
        run = train(smoke(tmp_path, method=method, **plateau, **teacher))
        records = _epochs(run)
        assert [r["val_loss"] for r in records] == [1.0, 2.0, 3.0]
        lrs[method] = [r["lr"] for r in records]
    assert lrs["rgb"] == lrs["ds"] == pytest.approx([0.01, 0.01, 0.001])


def test_validation_loss_is_the_ce_of_the_validation_scores(tmp_path, fake_data):
    cfg = smoke(tmp_path, method="rgb", **{"optim.scheduler": "plateau", "data.val_fraction": 0.25})
    run = train(cfg)
    last = _epochs(run)[-1]["val_loss"]
    val = torch.load(run / "scores.pt", weights_only=True)["val"]  # the final model's validation scores
    assert last == pytest.approx(float(F.cross_entropy(val["scores"], val["labels"])), rel=1e-5)


def _mars_file(path, in_channels: int, num_classes: int) -> dict:
    """A checkpoint as MARS saved it (DataParallel keys, its wrapper), random weights."""
    model = build_model("resnet10", in_channels, num_classes, widths=TINY)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": 250, "arch": "resnet-10", "state_dict": state, "optimizer": {}}, path)
    return model.state_dict()


def test_flow_stream_is_the_released_checkpoint_evaluated_with_its_classifier(tmp_path, fake_data):
    released = _mars_file(tmp_path / "Flow_UCF101_16f.pth", 2, NUM_CLASSES)
    init = {"model.init": "pretrained", "model.pretrained": str(tmp_path / "Flow_UCF101_16f.pth")}
    init |= {"model.pretrained_source": "mars", "model.keep_classifier": True, "optim.epochs": 0}
    run = train(smoke(tmp_path, method="flow", **init))
    weights = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    for key, value in released.items():
        torch.testing.assert_close(weights[key], value, msg=key)
    assert json.loads((run / "eval.json").read_text())["num_videos"] == 8
    assert not (run / "metrics.jsonl").exists() or not _epochs(run), "no epoch trained"
    fresh = train(smoke(tmp_path, method="flow", name="fresh_fc", **{**init, "model.keep_classifier": False}))
    fc = torch.load(fresh / "checkpoint.pt", weights_only=True)["model"]["fc.weight"]
    assert not torch.equal(fc, released["fc.weight"]), "a pretrained init replaces the classifier"


def _scores(run, splits) -> None:
    run.mkdir(parents=True)
    labels = torch.tensor([0, 1])
    scored = {"video_ids": ["a", "b"], "labels": labels, "scores": torch.eye(2)}
    torch.save({"classes": ["x", "y"], **{split: scored for split in splits}}, run / "scores.pt")


def test_attention_fusion_without_validation_scores_is_one_line(tmp_path, capfd):
    _scores(tmp_path / "ds_seed1", ("test", "val"))
    _scores(tmp_path / "flow_seed0", ("test", "train"))  # train scores only: memorised videos
    with pytest.raises(FusionInputError) as err:
        fuse(tmp_path / "ds_seed1", tmp_path / "flow_seed0", method="attention")
    assert (
        one_line(err.value)
        == str(err.value)
        == (
            f"fuse --method attention: {tmp_path / 'flow_seed0'} has no validation scores to fit the "
            f"fusion on (scores.pt holds no 'val' split); train it with data.val_fraction > 0 (videos held "
            f"out of training), or fuse with --method average"
        )
    )
    code = main(["fuse", str(tmp_path / "ds_seed1"), str(tmp_path / "flow_seed0")])
    assert code == 1 and capfd.readouterr().err.strip() == f"error: {err.value}"
    assert fuse(tmp_path / "ds_seed1", tmp_path / "flow_seed0", method="average").is_dir()
    fitted = fuse(tmp_path / "flow_seed0", tmp_path / "flow_seed0", method="attention", fit_on="train")
    assert json.loads((fitted / "eval.json").read_text())["fit_on"] == "train", "only when asked for"


def test_frame_size_resizes_every_frame_exactly_and_short_side_keeps_the_aspect():
    frame = np.zeros((240, 320, 3), np.uint8)
    assert _resize(frame, 256, (256, 256)).shape == (256, 256, 3)  # the paper's 256 × 256
    assert _resize(frame, 256).shape == (256, 341, 3)
    assert _resize(frame, 0, (120, 160)).shape == (120, 160, 3)


def test_frames_of_another_size_are_refused(tmp_path):
    root = tmp_path / "frames"
    (root / "splits").mkdir(parents=True)  # a prepared root: split files and a report
    report = {"fingerprint": {"rounding": "truncate", "frame_size": None, "short_side": 256}}
    (root / "prepare_report.json").write_text(json.dumps(report))
    cfg = load_config("paper_ucf101_16f", **{"data.frames_root": str(root)})
    with pytest.raises(ConfigError) as err:
        edata.check_prepared(cfg)
    assert str(err.value) == (
        f"data.frame_size: [256, 256], but the frames of {root} were extracted at frame_size None "
        f"({root / 'prepare_report.json'}); re-extract them with `python -m dualaction_lib prepare "
        f"--data.frame_size 256x256` into another --out, or set data.frame_size to None"
    )
    report["fingerprint"]["frame_size"] = [256, 256]
    (root / "prepare_report.json").write_text(json.dumps(report))
    edata.check_prepared(cfg)  # the paper's frames: accepted


def test_a_diverged_network_is_refused_at_evaluation_not_scored(tmp_path, fake_data):
    from fakes import Entry, FakeVideos

    from dualaction_lib.engine import distributed as D

    evaluate = importlib.import_module("dualaction_lib.engine.evaluate")  # the package exports evaluate()

    class Diverged(torch.nn.Module):
        def forward(self, x):  # what inf BatchNorm statistics give: NaN logits
            return torch.full((x.shape[0], NUM_CLASSES), float("nan"))

    cfg = smoke(tmp_path, method="rgb")
    entries = [Entry(f"c{i % NUM_CLASSES}/t{i}", i % NUM_CLASSES, "test") for i in range(8)]
    videos = FakeVideos(entries, "rgb", "test")
    with pytest.raises(evaluate.NonFiniteScoresError) as err:
        evaluate.score_dataset(Diverged(), videos, cfg, D.setup_runtime("cpu", "off"), desc="test")
    assert one_line(err.value) == (
        "test: 8 of 8 videos got non-finite scores from rgb: its weights or BatchNorm statistics diverged; "
        "lower optim.lr or distill.alpha (the loss balance in the run's training log shows which term "
        "pulls hardest)"
    )

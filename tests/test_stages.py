"""The cpu regime's stages: pretraining init, teachers by seed, the validation split, run groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fakes import NUM_CLASSES, Entry, smoke

from dualaction_lib.config import ConfigError, load_config
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import train
from dualaction_lib.io import read_jsonl
from dualaction_lib.rundir import RunDir, source_run, teacher_run


def test_validation_holds_out_whole_ucf_groups_and_hashes_the_rest():
    ucf = [
        Entry(f"C{c}/v_C{c}_g{g:02d}_c{k:02d}", c, "train")
        for c in range(2)
        for g in range(8, 26)
        for k in (1, 2)
    ]
    train, val = edata.validation_split(ucf, 0.2)  # every 5th group: 10, 15, 20, 25
    groups = {int(e.video_id.split("_g")[1][:2]) for e in val}
    assert groups == {10, 15, 20, 25} and len(val) == 2 * 4 * 2 and len(train) + len(val) == len(ucf)
    assert not {e.video_id.split("_c0")[0] for e in train} & {e.video_id.split("_c0")[0] for e in val}
    hmdb = [Entry(f"walk/clip{i}.avi", 0, "train") for i in range(400)]
    train, val = edata.validation_split(hmdb, 0.25)
    assert 60 < len(val) < 140 and edata.validation_split(hmdb, 0.25)[1] == val  # stable
    assert edata.validation_split(hmdb, 0.0) == (hmdb, [])


def test_students_distill_from_teacher_seed_mod_teacher_seeds(tmp_path):
    cfg = load_config("cpu", method="ds", seed=12, out_dir=str(tmp_path))  # teacher_seeds 12: one per seed
    assert cfg.teacher_seed == 0 and teacher_run(cfg) == tmp_path / "cpu" / "flow_seed0"
    assert load_config("cpu", seed=5).teacher_seed == 5
    assert load_config("cpu", seed=4, **{"distill.teacher_seed": 0}).teacher_seed == 0


def test_the_flow_teacher_gets_its_own_budget_and_students_share_one():
    teacher, student = load_config("cpu", method="flow"), load_config("cpu", method="rgb")
    assert (teacher.optim.epochs, teacher.optim.lr) == (66, 0.05)
    assert (student.optim.epochs, student.optim.lr) == (33, 0.02)
    assert {load_config("cpu", method=m).optim.epochs for m in ("mars", "ds", "ds_mae", "ds_gram")} == {33}
    assert load_config("cpu", method="flow", **{"optim.epochs": 5}).optim.epochs == 5  # the user wins


def test_runs_on_other_data_live_in_their_own_group(tmp_path):
    default = load_config("cpu", method="rgb")
    other = load_config("cpu", method="rgb", **{"data.dataset": "ucf101", "data.frames_root": "/x/heldout"})
    assert RunDir.of(default).path == Path("runs/cpu/rgb_seed0")
    assert RunDir.of(other).path == Path("runs/cpu-heldout/rgb_seed0")
    assert teacher_run(load_config("cpu", method="ds", **{"data.frames_root": "/x/heldout"})) == Path(
        "runs/cpu-heldout/flow_seed0"
    )
    # the pretraining stage does not depend on the target data
    assert source_run(other) == Path("runs/cpu_source/rgb_seed0")


def test_init_switch_is_checked():
    assert source_run(load_config("cpu", method="flow")) == Path("runs/cpu_source/flow_seed0")
    assert source_run(load_config("cpu", **{"model.init": "scratch"})) is None
    with pytest.raises(ConfigError, match="model.pretrained"):
        load_config("cpu", **{"model.pretrained": ""})


def test_pretrained_auto_trains_the_source_run_first_and_resets_the_classifier(tmp_path, fake_data):
    cfg = smoke(tmp_path, method="rgb", **{"model.init": "pretrained", "model.pretrained": "auto"})
    run = train(cfg)
    source = tmp_path / "runs" / "smoke_source" / "rgb_seed0"
    assert (source / "eval.json").exists() and json.loads((run / "eval.json").read_text())["method"] == "rgb"
    src = torch.load(source / "checkpoint.pt", weights_only=True)["model"]
    start = torch.load(source / "checkpoint.pt", weights_only=True)["config"]
    assert start["model"]["init"] == "scratch" and start["seed"] == 0
    # the student's first step started from the source weights: its conv1 moved only by training
    end = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    assert src["conv1.weight"].shape == end["conv1.weight"].shape
    assert (src["conv1.weight"] - end["conv1.weight"]).abs().max() < src["conv1.weight"].abs().max()
    assert train(cfg) == run  # complete: nothing retrained


def test_distilling_logs_the_loss_balance_every_epoch(tmp_path, fake_data):
    teacher = train(smoke(tmp_path, method="flow", **{"optim.epochs": 1}))
    run = train(
        smoke(
            tmp_path, method="ds", **{"distill.normalize": "step0", "distill.alpha": 2.0, "optim.epochs": 2}
        )
    )
    records = read_jsonl(run / "metrics.jsonl")
    balance = [r for r in records if r["kind"] == "balance"]
    assert [r["epoch"] for r in balance] == [0, 1] and balance[0]["step"] == 0
    assert set(balance[0]["grad_share"]) == {"ce", "mae", "gram"}
    scales = [r for r in records if r["kind"] == "scales"]
    assert len(scales) == 1 and set(scales[0]["scales"]) == {"mae", "gram"}
    # at step 0 the summed weighted distillation terms equal α·CE (step0 normalization)
    w = balance[0]["weighted"]
    assert w["mae"] + w["gram"] == pytest.approx(2 * w["ce"], rel=1e-4)
    # the run's first batch also measures every level of MAE and Gram; later epochs only the terms
    levels = {f"{t}/{n}" for t in ("mae", "gram") for n in ("layer1", "layer2", "layer3", "layer4", "pool")}
    assert set(balance[0]["level_grad_share"]) == {"ce"} | levels and "level_grad_share" not in balance[1]
    assert sum(balance[0]["level_grad_share"].values()) == pytest.approx(1.0)
    level_sum = sum(v for k, v in balance[0]["level_weighted"].items() if k.startswith("gram/"))
    assert level_sum == pytest.approx(w["gram"], rel=1e-4)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["loss_scales"] == pytest.approx(scales[0]["scales"])
    assert teacher.name == "flow_seed0" and NUM_CLASSES == 4

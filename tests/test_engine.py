"""Training loop, run directory, determinism, resume, distillation, NaN guard, evaluation, fusion, CLI.

These tests swap the data package for a tiny in-memory stand-in (same item dicts as VideoDataset), so
they take seconds; tests/test_engine_data.py runs the real synthetic benchmark end to end.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from fakes import NUM_CLASSES, S, T, smoke

from dualaction_lib.engine import NonFiniteLossError, evaluate, fuse, train
from dualaction_lib.engine import data as edata
from dualaction_lib.io import read_jsonl
from dualaction_lib.rundir import RunDir

etrain = importlib.import_module("dualaction_lib.engine.train")


def epoch_records(run_dir: Path) -> list[dict]:
    out = []
    for r in read_jsonl(run_dir / "metrics.jsonl"):
        if r["kind"] == "epoch":
            out.append({k: v for k, v in r.items() if k != "seconds"})
    return out


def step_losses(run_dir: Path) -> list[tuple]:
    return [
        (r["epoch"], r["step"], r["loss"])
        for r in read_jsonl(run_dir / "metrics.jsonl")
        if r["kind"] == "step"
    ]


# ----------------------------------------------------------------------------------------------- run dir
def test_train_writes_run_directory(tmp_path, fake_data):
    run = train(smoke(tmp_path, method="rgb", seed=3, log_every=3, **{"eval.train_scores": True}))
    assert run == tmp_path / "runs" / "smoke" / "rgb_seed3"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["method"] == "rgb" and cfg["optim"]["epochs"] == 2 and cfg["data"]["clip_len"] == T
    records = read_jsonl(run / "metrics.jsonl")
    steps = [r for r in records if r["kind"] == "step"]
    epochs = [r for r in records if r["kind"] == "epoch"]
    # 4 steps per epoch, one record per 3 steps and one for the rest of each epoch
    assert [(r["first_step"], r["step"]) for r in steps] == [(0, 2), (3, 3), (4, 6), (7, 7)]
    assert {"epoch", "first_step", "step", "loss", "ce", "lr", "time"} <= set(steps[0])
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert {"train_loss", "train_acc", "seconds"} <= set(epochs[0])
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "rng_state", "config"} <= set(ckpt) and ckpt[
        "epoch"
    ] == 1
    ev = json.loads((run / "eval.json").read_text())
    assert {"video_top1", "video_top5", "clip_top1", "num_videos", "num_clips", "protocol", "seconds"} <= set(
        ev
    )
    assert ev["num_videos"] == 8 and ev["num_clips"] == 16 and ev["protocol"] == "mars"
    scores = torch.load(run / "scores.pt", weights_only=True)
    assert scores["classes"] == ["c0", "c1", "c2", "c3"]
    assert scores["test"]["scores"].shape == (8, NUM_CLASSES) and scores["test"]["labels"].dtype == torch.long
    assert len(scores["test"]["video_ids"]) == 8 and scores["train"]["scores"].shape == (16, NUM_CLASSES)


def test_same_seed_same_metrics(tmp_path, fake_data):
    a = train(smoke(tmp_path, method="rgb", name="a"))
    b = train(smoke(tmp_path, method="rgb", name="b"))
    c = train(smoke(tmp_path, method="rgb", name="c", seed=1))
    assert step_losses(a) == step_losses(b) and epoch_records(a) == epoch_records(b)
    assert step_losses(a) != step_losses(c)


def test_resume_after_kill_matches_uninterrupted(tmp_path, fake_data):
    """With a loader worker: the training items draw their noise in the worker process."""
    three = {"optim.epochs": 3, "data.num_workers": 1}
    full = train(smoke(tmp_path, method="rgb", name="full", **three))

    def kill(epoch, record):
        if epoch == 0:
            raise KeyboardInterrupt  # the process dies right after its first epoch's checkpoint

    cfg = smoke(tmp_path, method="rgb", name="killed", **three)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, on_epoch_end=kill)
    killed = RunDir.of(cfg).path
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["epoch"] == 0
    assert not (killed / "eval.json").exists()
    train(cfg)  # resumes from epoch 1
    assert epoch_records(killed) == epoch_records(full)
    assert step_losses(killed) == step_losses(full)
    weights = [torch.load(r / "checkpoint.pt", weights_only=True)["model"] for r in (full, killed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    keys = ("video_top1", "clip_top1", "video_top5")
    ev_full, ev_killed = (json.loads((r / "eval.json").read_text()) for r in (full, killed))
    assert [ev_full[k] for k in keys] == [ev_killed[k] for k in keys]
    sa, sb = (torch.load(r / "scores.pt", weights_only=True)["test"]["scores"] for r in (full, killed))
    assert torch.equal(sa, sb)


def test_complete_run_is_skipped_and_changed_config_refused(tmp_path, fake_data):
    cfg = smoke(tmp_path, method="rgb")
    run = train(cfg)
    mtime = (run / "checkpoint.pt").stat().st_mtime_ns
    assert train(cfg) == run and (run / "checkpoint.pt").stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="optim.lr"):
        train(smoke(tmp_path, method="rgb", **{"optim.lr": 0.5}))
    train(smoke(tmp_path, method="rgb", resume=False, **{"optim.lr": 0.5}))  # overwrite on request


# ----------------------------------------------------------------------------------------------- distill
@pytest.fixture
def teacher_run(tmp_path, fake_data):
    return train(smoke(tmp_path, method="flow", **{"optim.epochs": 3, "optim.lr": 0.05}))


@pytest.mark.parametrize(
    ("method", "terms"),
    [("ds", {"mae", "gram"}), ("mars", {"mse"}), ("ds_mae", {"mae"}), ("ds_gram", {"gram"})],
)
def test_distillation_methods_log_their_terms(tmp_path, teacher_run, method, terms):
    run = train(smoke(tmp_path, method=method, **{"optim.epochs": 1}))
    step = next(r for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "step")
    assert terms <= set(step) and not ({"mae", "gram", "mse"} - terms) & set(step)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["distill"]["teacher"] == "auto"


def test_teacher_frozen_eval_no_grad_one_pass(tmp_path, teacher_run, monkeypatch):
    from dualaction_lib.engine import modeling

    seen = {}
    real_load = modeling.load_teacher

    def spy_load(cfg, num_classes, device):
        teacher = real_load(cfg, num_classes, device)
        before = {k: v.clone() for k, v in teacher.state_dict().items()}
        calls = []
        real_ff = teacher.forward_intermediates

        def counting_ff(x, names=None):
            calls.append((teacher.training, torch.is_grad_enabled(), tuple(names or ())))
            return real_ff(x, names)

        teacher.forward_intermediates = counting_ff
        seen.update(teacher=teacher, before=before, calls=calls)
        return teacher

    monkeypatch.setattr(etrain, "load_teacher", spy_load)
    run = train(smoke(tmp_path, method="ds", **{"optim.epochs": 1}))
    steps = [r for r in read_jsonl(run / "metrics.jsonl") if r["kind"] == "step"]
    assert len(seen["calls"]) == sum(r["step"] - r["first_step"] + 1 for r in steps)  # one pass per batch
    assert all(not training and not grad for training, grad, _ in seen["calls"])
    assert seen["calls"][0][2] == ("layer1", "layer2", "layer3", "layer4", "pool")
    assert all(not p.requires_grad for p in seen["teacher"].parameters())
    for k, v in seen["teacher"].state_dict().items():
        assert torch.equal(v, seen["before"][k]), k  # weights and BN statistics untouched


def test_auto_teacher_is_trained_first(tmp_path, fake_data):
    run = train(smoke(tmp_path, method="mars", **{"optim.epochs": 1}))
    assert (run.parent / "flow_seed0" / "eval.json").exists() and (run / "eval.json").exists()


def test_nan_loss_stops_with_step_and_term(tmp_path, teacher_run, monkeypatch):
    real = etrain.build_loss

    def poisoned(cfg):
        loss_fn = real(cfg)
        raw_terms = loss_fn.raw_terms

        def nan_gram(*args):
            return {k: v * math.nan if k == "gram" else v for k, v in raw_terms(*args).items()}

        loss_fn.raw_terms = nan_gram
        return loss_fn

    monkeypatch.setattr(etrain, "build_loss", poisoned)
    # checked once per interval (log_every 10 > 4 steps: at the epoch's end), naming where it started
    message = r"epoch 0, steps 0-3 \(checked every 10 steps\): term 'gram' first not finite at step 0"
    with pytest.raises(NonFiniteLossError, match=message):
        train(smoke(tmp_path, method="ds", **{"optim.epochs": 1}))
    run = RunDir.of(smoke(tmp_path, method="ds", **{"optim.epochs": 1})).path
    assert not (run / "checkpoint.pt").exists(), "the bad weights never reach a checkpoint"


def test_finetune_trains_only_layer4_and_fc(tmp_path, teacher_run):
    from dualaction_lib.engine.modeling import build_student

    cfg = smoke(
        tmp_path,
        method="flow",
        name="ft",
        recipe="mars_finetune",
        **{
            "model.init": "pretrained",
            "model.pretrained": str(teacher_run / "checkpoint.pt"),
            "optim.epochs": 1,
            "data.val_fraction": 0.25,  # MARS's plateau schedule watches the validation CE
        },
    )
    assert cfg.model.finetune_from == "layer4" and cfg.optim.dampening == 0.9
    model = build_student(cfg, NUM_CLASSES)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer4", "fc"}
    run = train(cfg)
    start = torch.load(teacher_run / "checkpoint.pt", weights_only=True)["model"]
    end = torch.load(run / "checkpoint.pt", weights_only=True)["model"]
    changed = {k.split(".")[0] for k in start if k.endswith("weight") and not torch.equal(start[k], end[k])}
    assert changed == {"layer4", "fc"}


# ----------------------------------------------------------------------------------------------- eval
def test_evaluate_reproduces_and_multiclip_is_separate(tmp_path, fake_data):
    run = train(smoke(tmp_path, method="rgb"))
    before = json.loads((run / "eval.json").read_text())
    again = evaluate(run)
    assert again["video_top1"] == before["video_top1"] and again["clip_top1"] == before["clip_top1"]
    multi = evaluate(run, protocol="multiclip")
    assert multi["protocol"] == "multiclip" and (run / "eval_multiclip.json").exists()
    assert json.loads((run / "eval.json").read_text())["protocol"] == "mars"


def test_video_score_is_mean_of_clip_logits():
    from dualaction_lib.engine.evaluate import summarize, topk

    scores = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]])
    assert topk(scores, torch.tensor([0, 1]), 1) == 0.5 and topk(scores, torch.tensor([0, 1]), 2) == 1.0
    res = summarize(
        {
            "video_ids": ["a", "b"],
            "labels": torch.tensor([0, 1]),
            "scores": scores,
            "clip_correct": 3,
            "num_clips": 4,
        }
    )
    assert res["clip_top1"] == 0.75 and res["video_top1"] == 0.5


def test_fuse_average_and_attention(tmp_path, fake_data):
    held_out = {"data.val_fraction": 0.25}  # fusion is fitted on videos neither stream trained on
    a = train(smoke(tmp_path, method="flow", **{"optim.epochs": 3, "optim.lr": 0.05, **held_out}))
    b = train(smoke(tmp_path, method="rgb", **held_out))
    avg = fuse(a, b, method="average")
    assert avg == a.parent / "fusion_flow_seed0+rgb_seed0_average"
    att = fuse(a, b, method="attention", steps=50)
    res = json.loads((att / "eval.json").read_text())
    assert 0 <= res["video_top1"] <= 1 and res["num_videos"] == 8 and res["fit_on"] == "val"
    val_ids = torch.load(a / "scores.pt", weights_only=True)["val"]["video_ids"]
    trained = set(edata.open_run_data(smoke(tmp_path, method="rgb", **held_out)).train.video_ids)
    assert val_ids and not trained & set(val_ids)
    payload = torch.load(att / "fusion.pt", weights_only=True)
    assert payload["weights"].shape == (8, 2) and torch.allclose(payload["weights"].sum(1), torch.ones(8))
    assert "net.0.weight" in payload["state_dict"]
    sa = torch.load(a / "scores.pt", weights_only=True)["test"]["scores"]
    sb = torch.load(b / "scores.pt", weights_only=True)["test"]["scores"]
    avg_payload = torch.load(avg / "fusion.pt", weights_only=True)
    assert torch.allclose(avg_payload["scores"], (sa + sb) / 2)


# ----------------------------------------------------------------------------------------------- CLI
def test_cli_train_evaluate_fuse_print_run_dir(tmp_path, fake_data, capsys):
    from dualaction_lib.engine import cli
    from dualaction_lib.errors import ArgumentParser

    parser = ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    out = str(tmp_path / "runs")
    for method in ("flow", "rgb"):
        args = parser.parse_command(
            [
                "train",
                "--preset",
                "smoke",
                "--method",
                method,
                "--seed",
                "0",
                "--out_dir",
                out,
                "--data.crop_size",
                str(S),
                "--data.clip_len",
                str(T),
                "--optim.epochs",
                "1",
            ]
        )
        assert args.func(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(tmp_path / "runs" / "smoke" / "rgb_seed0")
    args = parser.parse_command(["evaluate", lines[-1]])
    assert args.func(args) == 0 and capsys.readouterr().out.strip().splitlines()[-1] == lines[-1]
    args = parser.parse_args(
        ["fuse", lines[-1], str(tmp_path / "runs/smoke/flow_seed0"), "--method", "average"]
    )
    assert args.func(args) == 0 and "fusion_rgb_seed0+flow_seed0_average" in capsys.readouterr().out
    from dualaction_lib.__main__ import main

    assert main(["train", "--preset", "smoke", "--optim.lrr", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: optim.lrr: unknown config key") and err.count("\n") == 1


# ----------------------------------------------------------------------------------------------- runtime
def test_runtime_device_amp_and_rng_state(tmp_path):
    from dualaction_lib.engine import distributed as D

    rt = D.setup_runtime("auto", "auto")
    assert rt.device.type == "cpu" and rt.amp_dtype is None and rt.world_size == 1 and rt.is_main
    cuda = torch.device("cuda", 0)
    assert D.resolve_amp("bf16", cuda) == torch.bfloat16 and D.resolve_amp("fp16", cuda) == torch.float16
    assert D.resolve_amp("off", cuda) is None and D.resolve_amp("bf16", torch.device("cpu")) is None
    state = D.rng_state()
    torch.save(state, tmp_path / "rng.pt")
    D.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))  # primitives + tensors only
    a = torch.rand(3)
    D.set_rng_state(state)
    assert torch.equal(a, torch.rand(3))


def test_per_class_top1_counts_each_class_on_its_own_videos() -> None:
    from dualaction_lib.engine.evaluate import per_class_top1

    scores = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5], [0.0, 0.0, 1.0]])  # (V, K)
    labels = torch.tensor([0, 0, 2, 2])  # predictions 0, 1, 0, 2: class a 1/2 right, c 1/2; b has no video
    assert per_class_top1(scores, labels, ["a", "b", "c"]) == {"a": 0.5, "c": 0.5}

"""Video-level evaluation (MARS protocol or multi-clip), clip accuracy, per-video scores for fusion.

Video scores are the mean of the raw clip logits (MARS). ``clip_top1`` is the accuracy of single clips and
is reported separately: it is NOT the video accuracy papers quote (MARS issues #24, #35).

    from dualaction_lib.engine import evaluate
    result = evaluate("runs/cpu/ds_seed0")                      # re-score from its checkpoint
    result = evaluate("runs/cpu/ds_seed0", protocol="multiclip")  # → eval_multiclip.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from dualaction_lib.config import Config, override
from dualaction_lib.engine import data as edata
from dualaction_lib.engine import distributed as D
from dualaction_lib.errors import UserError
from dualaction_lib.rundir import RunDir


class NonFiniteScoresError(UserError, FloatingPointError):
    """A network scored a video NaN or inf: it diverged (its training losses may still have been finite)."""


@torch.no_grad()
def score_dataset(model: nn.Module, dataset: Any, cfg: Config, rt: D.Runtime, desc: str = "eval") -> dict:
    """Score every video of a test-mode dataset (items carry a leading clip axis).

    Returns {"video_ids": list[str], "labels": LongTensor (V,), "scores": FloatTensor (V, K),
    "clip_correct": int, "num_clips": int}.
    """
    model.eval()
    key = cfg.input_modality
    video_ids = list(dataset.video_ids)
    ids, labels, scores = [], [], []
    clip_correct = num_clips = 0
    pending: list[tuple[int, Tensor, int]] = []  # (dataset index, clips (K, C, T, H, W), label)

    def flush() -> None:
        nonlocal clip_correct, num_clips
        clips = torch.cat([c for _, c, _ in pending]).to(rt.device)  # (ΣK, C, T, H, W)
        with D.autocast(rt):
            logits = model(clips).float().cpu()  # (ΣK, num_classes)
        start = 0
        for index, c, label in pending:
            clip_logits = logits[start : start + c.shape[0]]  # (K, num_classes)
            start += c.shape[0]
            clip_correct += int((clip_logits.argmax(1) == label).sum())
            num_clips += c.shape[0]
            ids.append(str(video_ids[index]))
            labels.append(label)
            scores.append(clip_logits.mean(0))  # (num_classes,) mean of raw logits
        pending.clear()

    loader = edata.item_loader(dataset, cfg)
    bar = tqdm(
        loader,
        desc=desc,
        total=len(video_ids),
        leave=False,
        disable=not (cfg.progress and rt.is_main),
        mininterval=cfg.progress_interval,
    )
    for item in bar:
        clips = item[key]  # (K, C, T, H, W)
        pending.append((int(item["index"]), clips, int(item["label"])))
        if sum(c.shape[0] for _, c, _ in pending) >= cfg.eval.batch_size:
            flush()
    if pending:
        flush()
    stacked = torch.stack(scores) if scores else torch.zeros(0, 0)  # (V, K)
    bad = int((~torch.isfinite(stacked)).any(1).sum())
    if bad:  # a diverged network scores NaN/inf: no accuracy, fusion or schedule can read that
        raise NonFiniteScoresError(
            f"{desc}: {bad} of {len(ids)} videos got non-finite scores from {cfg.method}: its weights or "
            f"BatchNorm statistics diverged; lower optim.lr or distill.alpha (the loss balance in the "
            f"run's training log shows which term pulls hardest)"
        )
    return {
        "video_ids": ids,
        "labels": torch.tensor(labels, dtype=torch.long),
        "scores": stacked,
        "clip_correct": clip_correct,
        "num_clips": num_clips,
    }


def topk(scores: Tensor, labels: Tensor, k: int) -> float:
    """Fraction of rows whose label is among the k highest scores ((V, K), (V,))."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    return float((scores.topk(k, dim=1).indices == labels[:, None]).any(1).float().mean())


def per_class_top1(scores: Tensor, labels: Tensor, classes) -> dict[str, float]:
    """Video top-1 of each class that has test videos ((V, K) scores, (V,) labels), class name → fraction."""
    right = scores.argmax(1) == labels
    return {
        name: float(right[labels == k].float().mean())
        for k, name in enumerate(classes)
        if (labels == k).any()
    }


def summarize(scored: dict) -> dict[str, Any]:
    return {
        "video_top1": topk(scored["scores"], scored["labels"], 1),
        "video_top5": topk(scored["scores"], scored["labels"], 5),
        "clip_top1": scored["clip_correct"] / max(1, scored["num_clips"]),
        "num_videos": len(scored["video_ids"]),
        "num_clips": scored["num_clips"],
    }


def evaluate_model(
    model: nn.Module,
    cfg: Config,
    rd: RunDir,
    rt: D.Runtime,
    data: edata.RunData,
    *,
    train_seconds: float | None = None,
    protocol: str = "",
) -> dict[str, Any]:
    """Score the test split, the validation split (if any) and optionally the train split of ``data``
    (:func:`dualaction_lib.engine.data.open_data`); write the run's evaluation and scores (``protocol``:
    another protocol's, next to the run's own)."""
    t0 = time.time()
    test = score_dataset(model, data.test, cfg, rt, desc="test")
    result = {
        **summarize(test),
        "protocol": cfg.eval.protocol,
        "method": cfg.method,
        "num_classes": len(data.classes),
        "per_class_top1": per_class_top1(test["scores"], test["labels"], data.classes),
    }
    # listed = evaluated (num_videos) + left out (skipped, missing, damaged)
    result.update(
        num_videos_listed=data.listed["test"],
        num_videos_left_out=len(data.left_out["test"]),
        left_out=data.left_out["test"],
        train_videos_left_out=len(data.left_out["train"]),
    )
    payload: dict[str, Any] = {"classes": list(data.classes), "test": _pack(test)}
    if data.val is not None:  # held-out training videos: fusion is fitted on these scores
        val = score_dataset(model, data.val, cfg, rt, desc="val scores")
        payload["val"] = _pack(val)
        result["val_video_top1"] = summarize(val)["video_top1"]
        result["num_val_videos"] = len(val["video_ids"])
    if data.train_scores is not None:
        train = score_dataset(model, data.train_scores, cfg, rt, desc="train scores")
        payload["train"] = _pack(train)
        result["train_video_top1"] = summarize(train)["video_top1"]
    result["seconds"] = round(time.time() - t0, 3)
    if train_seconds is not None:
        result["train_seconds"] = round(train_seconds, 3)
    rd.save_scores(lambda f: torch.save(payload, f), protocol)
    rd.write_eval(result, protocol)
    return result


def _pack(scored: dict) -> dict[str, Any]:
    return {"video_ids": scored["video_ids"], "labels": scored["labels"], "scores": scored["scores"]}


def evaluate(run_dir: str | Path, protocol: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Re-evaluate a trained run from its checkpoint.

    With the run's own protocol the result replaces its evaluation and scores; another protocol writes
    eval_<protocol>.json / scores_<protocol>.pt next to them. Returns the result dict.
    """
    from dualaction_lib.engine.modeling import load_run_model

    rd = RunDir(run_dir)
    if not rd.is_run():
        what = (
            "does not exist"
            if not rd.path.exists()
            else f"holds no {rd.config_path.name} (not a run directory)"
        )
        raise FileNotFoundError(f"evaluate: {rd.path} {what}; pass a folder written by `train`")
    cfg = rd.read_config()
    own = cfg.eval.protocol
    if protocol is not None:
        overrides["eval.protocol"] = protocol
    if overrides:
        cfg = override(cfg, **overrides)
    # Locked like training: a run being trained (or evaluated) elsewhere is not rewritten under it.
    with rd.lock("evaluation"), D.determinism(cfg.deterministic, cfg.deterministic_warn_only):
        rt = D.setup_runtime(cfg.device, cfg.amp)
        edata.ensure_prepared(cfg)
        data = edata.open_run_data(cfg)
        model = load_run_model(rd.path, cfg).to(rt.device)
        protocol = "" if cfg.eval.protocol == own else cfg.eval.protocol
        seconds = rd.read_eval().get("train_seconds")
        return evaluate_model(model, cfg, rd, rt, data, protocol=protocol, train_seconds=seconds)

"""GPU check: one command, at most 8 minutes on one GPU, one JSON of what the paper's runs depend on.

    .venv/bin/python bench/gpu_check.py                          # on the GPU (device auto)
    .venv/bin/python bench/gpu_check.py --device cpu --tiny      # the same code path at tiny sizes (tests)
    .venv/bin/python bench/gpu_check.py --device cpu --only balance --out bench/results/x.json

Sections (``--only`` picks some):

- ``flow``: torch TV-L1 on the device vs OpenCV's TV-L1 on the CPU, on the same frame pairs with known
  flow (real frames warped by smooth random flows): EPE of each against the truth, EPE between the two,
  pairs/s of each.
- ``train_step``: the paper student's training step (paper_ucf101_16f: ResNeXt-101 student and
  flow teacher, 16×112² clips, the preset's batch, AMP as the preset sets it) for MARS and DS: clips/s
  and peak memory (``engine.estimate.time_train_step``, random weights).
- ``determinism``: the deterministic-mode switch (``engine.distributed.determinism``) turns torch's
  deterministic algorithms on and restores them; two seeded DS steps from the same weights end with the
  same weights (max |difference|), and the ops that warned for lack of a deterministic kernel are listed.
- ``smoke_run``: a 30-step run of the paper preset (method ds; its model, loss, α, optimizer, AMP) on a
  generated synthetic set, with a random flow teacher written in MARS's checkpoint format
  (``module.`` keys) and the student from scratch; every stage runs (prepare, train, evaluate).
- ``balance``: the paper preset's step-0 loss balance (DS and MARS, α as in the preset, random weights,
  one batch of ``--balance-batch`` clips): each term's value, weighted value and share of the gradient
  norm, and the same per level (layer1 … layer4, pool) for MAE and Gram (``engine.balance``). Inputs are
  normalised as the preset normalises real data: RGB pixels uniform in [0, 255], flow 127.5 + N(0, 8²)
  (about ±1.3 px at bound 20), so feature magnitudes have the scale of real inputs.

``--tiny`` shrinks the networks (resnet10, widths 4–16), clips (4×32²), pairs and the synthetic set; the
code path stays the same. A failing section records its error and the command exits 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see bench/flow.py
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts: deterministic cuBLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dualaction_lib.config import load_config  # noqa: E402
from dualaction_lib.engine import distributed as D  # noqa: E402

PRESET = "paper_ucf101_16f"
SECTIONS = ("flow", "train_step", "determinism", "smoke_run", "balance")
TINY_MODEL = {
    "model.arch": "resnet10",
    "model.widths": [4, 8, 8, 16],
    "data.clip_len": 4,
    "data.crop_size": 32,
}
TINY_TEACHER = {"distill.teacher_arch": "resnet10", "distill.teacher_widths": [4, 8, 8, 16]}
CHEAP_TVL1 = {"nscales": 1, "warps": 1, "outer_iterations": 2, "inner_iterations": 3, "median_filtering": 1}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto | cuda | cuda:1 | cpu")
    p.add_argument("--tiny", action="store_true", help="tiny sizes (the test suite's CPU run)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--balance-batch", type=int, default=2, help="clips of the step-0 balance batch")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return p.parse_args(argv)


def paper_config(args: argparse.Namespace, method: str = "ds", **overrides):
    """The paper preset with the check's device, at tiny sizes with --tiny (sizes only)."""
    tiny = {**TINY_MODEL, **TINY_TEACHER, "optim.batch_size": 2} if args.tiny else {}
    values = {"method": method, "device": args.device, "progress": False, **tiny, **overrides}
    return load_config(PRESET, **values)


# ----------------------------------------------------------------------------------------------- flow
def check_flow(args: argparse.Namespace, device: torch.device) -> dict:
    from dualaction_lib.flow import tvl1
    from dualaction_lib.flow.synthetic_pairs import endpoint_error, make_gt_pairs

    pairs, size = (2, (64, 48)) if args.tiny else (16, (320, 240))
    params = CHEAP_TVL1 if args.tiny else {}
    prev, nxt, truth = make_gt_pairs(pairs, size=size, seed=0)
    border = 4 if args.tiny else 8
    out = {"pairs": pairs, "size": list(size), "params": params or "OpenCV defaults"}
    flows = {}
    for name, backend, where in (("torch", "torch", device), ("opencv", "opencv", None)):
        kwargs = {"device": where} if where is not None else {}
        tvl1(prev[:1], nxt[:1], backend=backend, **kwargs, **params)  # warm-up (CUDA kernels, allocator)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        flows[name] = np.asarray(tvl1(prev, nxt, backend=backend, **kwargs, **params))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        out[name] = {
            "device": str(where or "cpu"),
            "epe_vs_truth": endpoint_error(flows[name], truth, border),
            "pairs_per_second": pairs / seconds,
        }
    out["epe_torch_vs_opencv"] = endpoint_error(flows["torch"], flows["opencv"], border)
    out["speedup_torch_over_opencv"] = out["torch"]["pairs_per_second"] / out["opencv"]["pairs_per_second"]
    return out


# ----------------------------------------------------------------------------------------------- steps
def _amp_name(amp: str, device: str) -> str:
    dtype = D.resolve_amp(amp, torch.device(device))
    return "off" if dtype is None else str(dtype).removeprefix("torch.")


def check_train_step(args: argparse.Namespace) -> dict:
    from dualaction_lib.engine.estimate import time_train_step

    out = {}
    for method in ("mars", "ds"):
        cfg = paper_config(args, method)
        timing = time_train_step(cfg, steps=2 if args.tiny else 5, cpu_batch=cfg.optim.batch_size)
        out[method] = {
            "student": cfg.model.arch, "teacher": cfg.distill.teacher_arch or cfg.model.arch,
            "clip": [cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size], "batch": timing.batch,
            "amp": _amp_name(cfg.amp, timing.device), "device": timing.device,
            "seconds_per_step": timing.seconds, "clips_per_second": timing.clips_per_second,
            "peak_memory_mb": timing.peak_memory_mb,
        }  # fmt: skip
    return out


def _one_seeded_step(cfg) -> list[torch.Tensor]:
    """The student's weights after one training step from seed 0 (same weights, same batch every call)."""
    from dualaction_lib.engine.estimate import train_step

    step, head, _ = train_step(cfg, cfg.optim.batch_size, seed=0)
    step()
    return [p.detach().clone() for p in head.parameters()]


def check_determinism(args: argparse.Namespace) -> dict:
    before = torch.are_deterministic_algorithms_enabled()
    cfg = paper_config(args, "ds", **{"optim.batch_size": 2})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with D.determinism(True, warn_only=True):
            inside = torch.are_deterministic_algorithms_enabled()
            cudnn = torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
            first, second = _one_seeded_step(cfg), _one_seeded_step(cfg)
    diff = max(float((a.float() - b.float()).abs().max()) for a, b in zip(first, second, strict=True))
    messages = [str(w.message) for w in caught if "deterministic" in str(w.message)]
    ops = sorted({m.split(" does not have")[0] for m in messages})
    return {
        "enabled_inside": inside, "cudnn_deterministic_inside": cudnn,
        "restored_after": torch.are_deterministic_algorithms_enabled() == before,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "max_abs_weight_difference": diff, "identical_weights": diff == 0.0, "ops_without_kernel": ops,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------- smoke
def write_mars_teacher(cfg, path: Path, num_classes: int) -> None:
    """A random flow network of the teacher's architecture, saved as MARS saved its checkpoints."""
    from dualaction_lib.engine.modeling import model_options
    from dualaction_lib.models import build_model

    d = cfg.distill
    net = build_model(
        d.teacher_arch or cfg.model.arch, 2, num_classes, **model_options(d.teacher_widths, 0.0, {})
    )
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)


def check_smoke_run(args: argparse.Namespace, steps: int = 30) -> dict:
    from dualaction_lib.engine import data as edata
    from dualaction_lib.engine import train
    from dualaction_lib.engine.estimate import steps_per_run, train_videos
    from dualaction_lib.io import read_jsonl

    classes, per_class = (4, 4) if args.tiny else (6, 10)
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        tmp = Path(tmp)
        base = paper_config(args, "ds")
        batch = 2 if args.tiny else 4
        frames = base.data.clip_len + 4
        side = base.data.crop_size + (8 if args.tiny else 16)
        synthetic = {
            "task": "objects", "num_classes": classes, "videos_per_class_train": per_class,
            "videos_per_class_test": 1, "num_frames": frames, "frame_size": [side, side],
        }  # fmt: skip
        overrides = {
            "data.dataset": "synthetic", "data.root": str(tmp / "raw"),
            "data.frames_root": str(tmp / "frames"), "data.auto_prepare": True, "data.synthetic": synthetic,
            "data.short_side": 0,  # the preset's validation split stays: its plateau schedule watches it
            "data.num_workers": 0 if args.tiny else 2, "data.flow_params": CHEAP_TVL1 if args.tiny else {},
            "data.prepare_workers": 1 if args.tiny else 2,
            "optim.batch_size": batch, "model.init": "scratch",
            "distill.teacher": str(tmp / "Flow_synthetic.pth"), "eval.every": 0, "eval.batch_size": 1,
            "out_dir": str(tmp / "runs"), "name": "ds_smoke",
        }  # fmt: skip
        start = time.perf_counter()
        edata.ensure_prepared(paper_config(args, "ds", **overrides))  # the held-out videos are then known
        per_epoch = math.ceil(train_videos(paper_config(args, "ds", **overrides)) / batch)
        cfg = paper_config(args, "ds", **overrides, **{"optim.epochs": math.ceil(steps / per_epoch)})
        planned = steps_per_run(cfg)
        write_mars_teacher(cfg, tmp / "Flow_synthetic.pth", classes)
        run = train(cfg)
        seconds = time.perf_counter() - start
        records = read_jsonl(run / "metrics.jsonl")
        result = json.loads((run / "eval.json").read_text(encoding="utf-8"))
    logged = [r for r in records if r["kind"] == "step"]
    return {
        "steps": logged[-1]["step"] + 1 if logged else 0, "planned_steps": planned,
        "epochs": cfg.optim.epochs, "batch": batch, "videos": classes * per_class,
        "final_loss": logged[-1]["loss"] if logged else None,
        "finite": all(math.isfinite(r["loss"]) for r in logged), "test_video_top1": result.get("video_top1"),
        "seconds_with_prepare": seconds,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------- balance
def balance_inputs(cfg, batch: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(RGB, flow) clips normalised as the preset normalises real data (see the module docstring)."""
    from dualaction_lib.data.transforms import normalize_flow, normalize_rgb

    rng = np.random.default_rng(seed)
    t, s = cfg.data.clip_len, cfg.data.crop_size
    rgb = rng.integers(0, 256, (batch, t, s, s, 3)).astype(np.uint8)
    flow = np.clip(np.rint(127.5 + rng.normal(0, 8, (batch, t, s, s, 2))), 0, 255).astype(np.uint8)
    rgb = np.stack([normalize_rgb(clip, cfg.data.norm) for clip in rgb])  # (B, 3, T, H, W)
    flow = np.stack([normalize_flow(clip, cfg.data.norm) for clip in flow])  # (B, 2, T, H, W)
    return torch.from_numpy(rgb), torch.from_numpy(flow)


def step0_balance(cfg, rgb: torch.Tensor, flow: torch.Tensor, device: torch.device) -> dict:
    """One method's step-0 balance record (terms and, for DS, levels) with shares, as floats."""
    from dualaction_lib.engine.balance import balance_record, level_balance, loss_balance
    from dualaction_lib.engine.estimate import build_networks
    from dualaction_lib.engine.modeling import teacher_layers

    D.seed_everything(0, False)
    head, teacher, loss_fn = build_networks(cfg, 101, device)
    layers = teacher_layers(cfg)
    y = torch.arange(rgb.shape[0], device=device) % 101
    logits, feats = head(rgb.to(device))
    with torch.no_grad():
        t_feats = teacher.forward_intermediates(flow.to(device), layers)
    terms = loss_fn.raw_terms(logits.float(), y, feats, t_feats)
    _, weighted = loss_fn.combine(terms)
    params = [p for p in head.parameters() if p.requires_grad]
    measured = loss_balance(weighted, terms, params) | level_balance(
        loss_fn, terms["ce"], feats, t_feats, params
    )
    floats = {section: {k: float(v) for k, v in values.items()} for section, values in measured.items()}
    return balance_record({"method": cfg.method, "alpha": cfg.distill.alpha, **floats})


def check_balance(args: argparse.Namespace, device: torch.device) -> dict:
    out = {}
    for method in ("ds", "mars"):
        cfg = paper_config(args, method)
        rgb, flow = balance_inputs(cfg, args.balance_batch)
        out[method] = step0_balance(cfg, rgb, flow, device)
    cfg = paper_config(args, "ds")
    out["setup"] = {
        "student": cfg.model.arch, "teacher": cfg.distill.teacher_arch or cfg.model.arch,
        "clip": [cfg.data.clip_len, cfg.data.crop_size, cfg.data.crop_size], "batch": args.balance_batch,
        "weights": "random (seed 0)", "norm": cfg.data.norm, "layers": list(cfg.distill.layers),
    }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = D.setup_runtime(args.device, "off").device
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    report = {"preset": PRESET, "tiny": args.tiny, "device": str(device), "gpu": gpu,
              "torch": torch.__version__, "python": platform.python_version()}  # fmt: skip
    checks = {
        "determinism": lambda: check_determinism(args),  # first: CUBLAS_WORKSPACE_CONFIG before cuBLAS work
        "flow": lambda: check_flow(args, device),
        "train_step": lambda: check_train_step(args),
        "smoke_run": lambda: check_smoke_run(args),
        "balance": lambda: check_balance(args, device),
    }
    failed = False
    total = time.perf_counter()
    for name, check in checks.items():
        if name not in args.only:
            continue
        start = time.perf_counter()
        try:
            report[name] = check()
        except Exception as err:  # a GPU day should see every section: record it, exit 1 at the end
            failed = True
            report[name] = {
                "error": f"{type(err).__name__}: {err}",
                "traceback": traceback.format_exc(limit=3),
            }
        report[name]["section_seconds"] = time.perf_counter() - start
        print(f"[gpu_check] {name}: {report[name]['section_seconds']:.1f}s", file=sys.stderr, flush=True)
    report["seconds"] = time.perf_counter() - total
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        from dualaction_lib.io import atomic_write_text

        atomic_write_text(args.out, text + "\n")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())

"""Train-step benchmark: DS vs MARS vs plain CE, our r3d_18 vs torchvision's, peak memory.

One process, one fixed batch; the variants are interleaved round-robin and the median step time is kept, so
load from other processes on a shared machine hits every variant alike. Ratios are what to read.

    .venv/bin/python bench/train_step.py                 # defaults: resnet18, 8x112x112, batch 4
    .venv/bin/python bench/train_step.py --clip 16 --batch 8 --device cuda

Peak memory: torch.cuda.max_memory_allocated on CUDA; on CPU the process's peak RSS (VmHWM), reset before
each variant through /proc/self/clear_refs (Linux), else resource.ru_maxrss (monotonic, upper bound).
``step_peak_mb`` is that peak minus the memory in use before the variant's first step (activations,
gradients, optimizer state of one step); ``peak_mb`` is the whole process.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from dualaction_lib.feature_names import DISTILL_LAYERS
from dualaction_lib.losses import DualActionLoss
from dualaction_lib.models import build_model

RESULTS = Path(__file__).parent / "results" / "train_step.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet18", help="student/teacher arch for the loss comparison")
    p.add_argument("--clip", type=int, default=8)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--classes", type=int, default=101)
    p.add_argument("--reps", type=int, default=5, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------- steps
def distill_step(method: str, args: argparse.Namespace, device: torch.device) -> Callable[[], None]:
    """One optimizer step of rgb (CE) / mars (CE + α·MSE) / ds (CE + α(MAE + Gram)) on a fixed batch."""
    torch.manual_seed(0)
    student = build_model(args.arch, in_channels=3, num_classes=args.classes).to(device).train()
    opt = torch.optim.SGD(student.parameters(), lr=1e-3, momentum=0.9)
    rgb = torch.randn(args.batch, 3, args.clip, args.size, args.size, device=device)  # (B, 3, T, S, S)
    flow = torch.randn(args.batch, 2, args.clip, args.size, args.size, device=device)  # (B, 2, T, S, S)
    y = torch.randint(0, args.classes, (args.batch,), device=device)
    teacher = None
    if method != "rgb":
        teacher = build_model(args.arch, in_channels=2, num_classes=args.classes).to(device).eval()
        teacher.requires_grad_(False)
    layers = ("pool",) if method == "mars" else DISTILL_LAYERS
    loss_fn = DualActionLoss(
        alpha=50.0, mae=method == "ds", gram=method == "ds", mse=method == "mars", layers=layers
    )

    def step() -> None:
        names = (*layers, "layer4") if method != "rgb" else ("layer4",)
        feats = student.forward_intermediates(rgb, names)  # one pass: loss features + last stage
        logits = student.forward_head(feats["layer4"])  # (B, K)
        if teacher is None:
            loss = F.cross_entropy(logits, y)
        else:
            with torch.no_grad():
                t_feats = teacher.forward_intermediates(flow, layers)
            loss, _ = loss_fn(logits, y, feats, t_feats)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def r3d_step(ours: bool, args: argparse.Namespace, device: torch.device) -> Callable[[], None]:
    """Plain CE step of r3d_18: ours (build_model) or torchvision.models.video.r3d_18."""
    from torchvision.models.video import r3d_18

    torch.manual_seed(0)
    model = (
        build_model("r3d_18", in_channels=3, num_classes=args.classes)
        if ours
        else r3d_18(num_classes=args.classes)
    )
    model = model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(args.batch, 3, args.clip, args.size, args.size, device=device)
    y = torch.randint(0, args.classes, (args.batch,), device=device)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


# ----------------------------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    gc.collect()
    if sys.platform.startswith("linux"):  # hand freed heap back to the OS so the next peak is its own
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    clear_refs = Path("/proc/self/clear_refs")
    if clear_refs.exists():  # otherwise peak_mb falls back to ru_maxrss (an upper bound over the whole run)
        clear_refs.write_text("5")  # resets VmHWM (Linux >= 4.0)


def _proc_status(field: str) -> float | None:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def current_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    return _proc_status("VmRSS") or 0.0


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    hwm = _proc_status("VmHWM")
    if hwm is not None:
        return hwm
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def run(variants: dict[str, Callable[[], None]], args: argparse.Namespace, device: torch.device) -> dict:
    """Warm up each variant (recording peak memory), then time them round-robin; median seconds per step."""
    memory, times = {}, {name: [] for name in variants}
    for name, step in variants.items():
        reset_peak(device)
        base = current_mb(device)  # every variant's model, optimizer and batch are alive from the start
        for _ in range(args.warmup + 1):
            step()
        sync(device)
        memory[name] = (round(peak_mb(device), 1), round(peak_mb(device) - base, 1))
    order = list(variants.items())
    for rep in range(args.reps):
        for name, step in order if rep % 2 == 0 else order[::-1]:  # alternate to cancel order effects
            t0 = time.perf_counter()
            step()
            sync(device)
            times[name].append(time.perf_counter() - t0)
    return {
        name: {
            "step_s": round(statistics.median(ts), 4),
            "min_s": round(min(ts), 4),
            "peak_mb": memory[name][0],
            "step_peak_mb": memory[name][1],
        }
        for name, ts in times.items()
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    variants = {m: distill_step(m, args, device) for m in ("rgb", "mars", "ds")}
    variants["r3d_18 (ours)"] = r3d_step(True, args, device)
    variants["r3d_18 (torchvision)"] = r3d_step(False, args, device)
    res = run(variants, args, device)
    t = {k: v["step_s"] for k, v in res.items()}
    ratios = {
        "ds_vs_mars": round(t["ds"] / t["mars"], 3),
        "ds_vs_rgb": round(t["ds"] / t["rgb"], 3),
        "mars_vs_rgb": round(t["mars"] / t["rgb"], 3),
        "ds_extra_loss_fraction": round((t["ds"] - t["mars"]) / t["ds"], 3),  # MAE + Gram share of a DS step
        "r3d18_ours_vs_torchvision": round(t["r3d_18 (ours)"] / t["r3d_18 (torchvision)"], 3),
    }
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    out = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg": load,
        "results": res,
        "ratios": ratios,
    }
    print(f"{'variant':24s} {'step s':>8s} {'min s':>8s} {'peak MB':>9s} {'step +MB':>9s}")
    for name, r in res.items():
        print(f"{name:24s} {r['step_s']:8.3f} {r['min_s']:8.3f} {r['peak_mb']:9.1f} {r['step_peak_mb']:9.1f}")
    for name, value in ratios.items():
        print(f"{name:28s} {value:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()

"""The cpu preset's speed and learning levers, measured in one run (ratios are what to read).

Step time of the cpu student (resnet10, widths 16-32-64-128, batch 16 of 8x40x40 RGB clips), one process,
variants interleaved round-robin, median of ``--reps`` steps:
  default (the preset: stem max-pool, temporal stride 2), channels-last 3D, torch.compile, two threads,
  no stem max-pool, temporal stride 1 in every stage, and both.
Loader: three epochs of the preset's train loader (RGB+flow clips from the JPEG frames): 0 vs 1 worker, and
the in-memory cache of decoded frames (``data.cache``).
``--accuracy``: the RGB student with each architecture lever, trained with the preset's recipe and scored on
the validation split (never the test split); this is how the preset's architecture was chosen.

    .venv/bin/python bench/cpu_levers.py                 # steps + loader (about 2 min)
    .venv/bin/python bench/cpu_levers.py --accuracy      # + one RGB run per architecture (about 6 min)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from train_step import run  # noqa: E402  (bench/ is the script's folder: the same interleaved timer)

from dualaction_lib.config import load_config  # noqa: E402
from dualaction_lib.io import atomic_write_json  # noqa: E402
from dualaction_lib.models import build_model  # noqa: E402
from dualaction_lib.rundir import RunDir  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "cpu_levers.json"
ARCH_LEVERS = {
    "default": {},
    "no max-pool": {"max_pool": False},
    "temporal stride 1": {"stage_stride_t": 1},
    "no max-pool, temporal stride 1": {"max_pool": False, "stage_stride_t": 1},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--reps", type=int, default=15, help="timed steps per variant")
    p.add_argument("--accuracy", action="store_true", help="also train one RGB run per architecture")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def step_fn(cfg, options: dict, channels_last: bool, compiled: bool) -> Callable[[], None]:
    torch.manual_seed(0)
    opts = {"widths": tuple(cfg.model.widths), **options}
    model = build_model(cfg.model.arch, in_channels=3, num_classes=12, **opts)
    b, t, s = cfg.optim.batch_size, cfg.data.clip_len, cfg.data.crop_size
    x = torch.randn(b, 3, t, s, s)  # (B, 3, T, S, S)
    y = torch.randint(0, 12, (b,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    net = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def with_threads(threads: int, step: Callable[[], None]) -> Callable[[], None]:
    """``step`` run with ``threads`` intra-op threads (set inside, as the variants are interleaved)."""

    def run_step() -> None:
        torch.set_num_threads(threads)
        step()

    return run_step


def time_steps(cfg, reps: int) -> dict[str, dict]:
    """The step variants, timed interleaved by ``bench/train_step.py``'s ``run``; first call timed apart."""
    variants = {
        "default": ({}, False, False, 1),
        "channels-last 3D": ({}, True, False, 1),
        "torch.compile": ({}, False, True, 1),
        "two threads": ({}, False, False, 2),
        **{name: (opts, False, False, 1) for name, opts in ARCH_LEVERS.items() if opts},
    }
    steps, first = {}, {}
    for name, (opts, cl, comp, threads) in variants.items():
        steps[name] = with_threads(threads, step_fn(cfg, opts, cl, comp))
        t0 = time.perf_counter()
        steps[name]()  # the first call (compilation for torch.compile), kept out of the median
        first[name] = time.perf_counter() - t0
    timed = run(steps, argparse.Namespace(warmup=0, reps=reps), torch.device("cpu"))
    base = timed["default"]["step_s"]
    return {
        name: {
            "median_ms": round(1000 * r["step_s"], 1),
            "ratio_to_default": round(r["step_s"] / base, 3),
            "first_step_s": round(first[name], 2),
        }
        for name, r in timed.items()
    }


def time_loader(preset: str, epochs: int = 3) -> dict[str, dict]:
    """Seconds per epoch of the DS student's train loader (RGB + flow clips), mean over ``epochs``."""
    from dualaction_lib.engine import data as edata
    from dualaction_lib.engine.distributed import setup_runtime

    out = {}
    for name, workers, cache in (
        ("0 workers", 0, False),
        ("1 worker", 1, False),
        ("0 workers, cache", 0, True),
    ):
        cfg = load_config(preset, method="ds", **{"data.num_workers": workers, "data.cache": cache})
        loader = edata.train_loader(edata.open_run_data(cfg), cfg, setup_runtime("cpu", "off"))
        t0, clips = time.perf_counter(), 0
        for _ in range(epochs):
            clips += sum(batch["rgb"].shape[0] for batch in loader)
        seconds = time.perf_counter() - t0
        out[name] = {"clips_per_s": round(clips / seconds, 1), "epoch_s": round(seconds / epochs, 3)}
    return out


def accuracy(preset: str) -> dict[str, dict]:
    """One RGB student per architecture lever, scored on the validation split."""
    out = {}
    for name, opts in ARCH_LEVERS.items():
        extra = [f"--model.options={json.dumps(opts)}"] if opts else []
        run_name = "levers_rgb_" + (name.replace(", ", "_").replace(" ", "_").replace("-", "") or "default")
        cmd = [sys.executable, "-m", "dualaction_lib", "train", "--preset", preset, "--method", "rgb"]
        cmd += ["--seed", "1", "--name", run_name, "--no-progress", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
        result = RunDir(proc.stdout.strip().splitlines()[-1]).read_eval()
        out[name] = {"val_top1": result["val_video_top1"], "wall_s": round(time.perf_counter() - t0, 1)}
        print(f"accuracy {name}: validation top-1 {out[name]['val_top1']:.3f} in {out[name]['wall_s']} s")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.preset, method="rgb")
    command = "python bench/cpu_levers.py " + " ".join(argv or sys.argv[1:])
    result: dict = {"preset": args.preset, "command": command}
    result["step"] = time_steps(cfg, args.reps)
    print(f"{'variant':34s} {'median ms':>9s} {'ratio':>6s} {'first step s':>12s}")
    for name, r in result["step"].items():
        print(f"{name:34s} {r['median_ms']:9.1f} {r['ratio_to_default']:6.2f} {r['first_step_s']:12.2f}")
    torch.set_num_threads(1)
    result["loader"] = time_loader(args.preset)
    for name, r in result["loader"].items():
        print(f"loader, {name}: {r['clips_per_s']} RGB+flow clips/s ({r['epoch_s']} s per epoch)")
    if args.accuracy:
        result["accuracy"] = accuracy(args.preset)
    atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

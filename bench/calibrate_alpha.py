"""Calibrate the cpu preset's α once, on the validation split — never on the test split.

MARS and DS students (the paper's formulas) are trained for every α of a grid and seed, from the preset's
init, with the preset's recipe; each is scored on the held-out validation videos (``data.val_fraction``:
training videos the students never trained on). The chosen α maximizes the mean validation accuracy over
both methods and all seeds — one α for MARS and DS, so neither method is tuned separately. Results (every
run's validation and train accuracy, the choice) go to ``bench/results/alpha_calibration.json``; the test
accuracies of these runs are never read.

    .venv/bin/python bench/calibrate_alpha.py             # α ∈ {0.1, 0.3, 1, 3, 10, 50}, seeds 1, 2
    .venv/bin/python bench/calibrate_alpha.py --alphas 1 10 --seeds 1 --jobs 1

Prerequisites (pretraining runs, teachers) are trained first, one at a time; then the grid runs ``--jobs``
trainings at once, each a ``python -m dualaction_lib train`` process with one thread.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dualaction_lib.config import load_config
from dualaction_lib.io import atomic_write_json
from dualaction_lib.rundir import RunDir
from dualaction_lib.study.collect import final_train_accuracy

RESULTS = Path(__file__).parent / "results" / "alpha_calibration.json"
METHODS = ("mars", "ds")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0, 10.0, 50.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--jobs", type=int, default=2, help="trainings at once")
    p.add_argument("--out-dir", default="runs")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def train(preset: str, out_dir: str, method: str, seed: int, *extra: str) -> Path:
    """One ``train`` process; returns its run directory (the last line it prints)."""
    cmd = [sys.executable, "-m", "dualaction_lib", "train", "--preset", preset, "--method", method]
    cmd += ["--seed", str(seed), "--out_dir", out_dir, "--no-progress", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.preset)
    start = time.perf_counter()
    # Prerequisites, one at a time (a run directory is trained by one process): each seed's teacher
    # (which pulls in the flow pretraining run) and the RGB pretraining run.
    for seed in sorted({load_config(args.preset, seed=s).teacher_seed for s in args.seeds}):
        train(args.preset, args.out_dir, "flow", seed)
    train(args.preset, args.out_dir, "rgb", args.seeds[0], "--name", "calib_rgb")
    grid = [(m, a, s) for a in args.alphas for m in METHODS for s in args.seeds]

    def one(job: tuple[str, float, int]) -> dict:
        method, alpha, seed = job
        name = f"calib_{method}_alpha{alpha:g}_seed{seed}"
        run = train(args.preset, args.out_dir, method, seed, "--distill.alpha", str(alpha), "--name", name)
        result = RunDir(run).read_eval()
        row = {"method": method, "alpha": alpha, "seed": seed, "run": str(run)}
        row.update(val_top1=result["val_video_top1"], train_acc=final_train_accuracy(run))
        print(f"{name}: val {row['val_top1']:.3f}, train {row['train_acc']:.3f}", flush=True)
        return row

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, grid))
    by_alpha = {a: statistics.mean(r["val_top1"] for r in rows if r["alpha"] == a) for a in args.alphas}
    chosen = max(args.alphas, key=lambda a: (by_alpha[a], -a))  # ties: the smaller α
    table = [
        {
            "alpha": a,
            **{
                m: statistics.mean(r["val_top1"] for r in rows if r["alpha"] == a and r["method"] == m)
                for m in METHODS
            },
            "mean": by_alpha[a],
        }
        for a in args.alphas
    ]
    print(f"{'alpha':>7} " + " ".join(f"{m:>7}" for m in METHODS) + "    mean (validation video top-1)")
    for t in table:
        print(f"{t['alpha']:7g} " + " ".join(f"{t[m]:7.3f}" for m in METHODS) + f" {t['mean']:7.3f}")
    print(f"chosen alpha: {chosen:g} (mean validation top-1 {by_alpha[chosen]:.3f})")
    atomic_write_json(
        args.out,
        {
            "preset": args.preset,
            "command": "python bench/calibrate_alpha.py " + " ".join(argv or sys.argv[1:]),
            "criterion": "mean validation video top-1 over MARS and DS and seeds (one alpha for both)",
            "num_val_videos": RunDir(rows[0]["run"]).read_eval()["num_val_videos"],
            "chosen_alpha": chosen,
            "table": table,
            "runs": rows,
            "seconds": round(time.perf_counter() - start, 1),
            "recipe": {"lr": cfg.optim.lr, "epochs": cfg.optim.epochs, "batch_size": cfg.optim.batch_size},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

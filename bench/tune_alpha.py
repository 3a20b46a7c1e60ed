"""Tune each distilling method's own α on the validation split — never on the test split.

Every method (MARS, DS, +MAE, +Gram) is trained on the same α grid, with the same seeds and the preset's
recipe; nothing else differs between them. Each run is scored on the held-out validation videos
(``data.val_fraction``: training videos the students never trained on) and each method gets the α of its
best mean validation top-1 (a tie goes to the smaller α). When a method's best lies at an edge of the
grid, that method alone gets one more α a factor of 3 beyond the edge (the same seeds), up to
``--max-extensions`` times. The record (command, grid per method with its extensions, every run, each
point's mean ± 95 % CI, the choice) goes to ``bench/results/alpha_tuning.json``; the test accuracies of
these runs are never read. The last lines printed are the preset's ``method_overrides`` block to paste.

    .venv/bin/python bench/tune_alpha.py               # cpu preset, α ∈ {0.3, 1, 3, 10, 30, 50}, seeds 1 2 3
    .venv/bin/python bench/tune_alpha.py --methods mars ds --alphas 3 50 --seeds 1 2 3 --jobs 1

Arguments after ``--`` go to every ``train`` (e.g. ``-- --model.init scratch`` for a quick look); they change
every run alike. The flow teachers are trained first, one at a time, then the first grid run alone (it
trains the pretraining run when it is missing); then ``--jobs`` trainings run at once, each a
``python -m dualaction_lib train --variant sweep`` process with one thread.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import get_args

from dualaction_lib.choices import DistillMethod
from dualaction_lib.config import load_config
from dualaction_lib.io import atomic_write_json
from dualaction_lib.rundir import RunDir
from dualaction_lib.study.collect import final_train_accuracy
from dualaction_lib.study.tuning import Job, overrides_yaml, tune, val_row

RESULTS = Path(__file__).parent / "results" / "alpha_tuning.json"
PAPER_ALPHA = 50.0


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument(
        "--methods", nargs="+", choices=get_args(DistillMethod), default=list(get_args(DistillMethod))
    )
    p.add_argument("--alphas", type=float, nargs="+", default=[0.3, 1.0, 3.0, 10.0, 30.0, PAPER_ALPHA])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument(
        "--max-extensions", type=int, default=2, help="extra α steps beyond a grid edge, per method"
    )
    p.add_argument("--jobs", type=int, default=2, help="trainings at once")
    p.add_argument("--out-dir", default="runs")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if len(set(args.alphas)) < 2 or min(args.alphas) <= 0:
        p.error(f"--alphas needs at least two distinct values > 0, got {args.alphas}")
    if len(set(args.seeds)) != len(args.seeds) or len(set(args.methods)) != len(args.methods):
        p.error(f"--seeds and --methods take each value once, got {args.seeds} and {args.methods}")
    if args.max_extensions < 0:
        p.error(f"--max-extensions must be >= 0, got {args.max_extensions}")
    return args, extra


def check_preset(preset: str, methods: list[str]) -> None:
    """Refuse a preset without a validation split, or one whose methods differ in more than α."""
    cfg = load_config(preset)
    if cfg.data.val_fraction <= 0:
        raise SystemExit(f"{preset}: data.val_fraction is 0; α is chosen on validation videos, set it > 0")
    for method in methods:
        own = cfg.method_overrides.get(method, {})
        if set(own) - {"distill"} or set(own.get("distill", {})) - {"alpha"}:
            raise SystemExit(
                f"{preset}: method_overrides.{method} sets more than distill.alpha ({own}); the tuned "
                "methods must share everything but their α"
            )


def train(preset: str, out_dir: str, method: str, seed: int, *extra: str) -> Path:
    """One ``train`` process; returns its run directory (the last line it prints)."""
    cmd = [sys.executable, "-m", "dualaction_lib", "train", "--preset", preset, "--method", method]
    cmd += ["--seed", str(seed), "--out_dir", out_dir, "--no-progress", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"{' '.join(cmd)} failed: {last}")
    return Path(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, extra = parse_args(argv)
    check_preset(args.preset, args.methods)
    start = time.perf_counter()
    for seed in sorted({load_config(args.preset, seed=s).teacher_seed for s in args.seeds}):
        # The folder a student looks for its teacher in (variant main, whatever the extra arguments change).
        train(args.preset, args.out_dir, "flow", seed, "--variant", "main", *extra)

    def one(job: Job) -> dict:
        method, alpha, seed = job
        alpha_args = ("--distill.alpha", f"{alpha:g}", "--variant", "sweep")
        run = train(args.preset, args.out_dir, method, seed, *alpha_args, *extra)
        row = val_row(method, alpha, seed, RunDir(run).read_eval(), final_train_accuracy(run))
        print(f"{run.name}: val {row['val_top1']:.3f}, train {row['train_acc']:.3f}", flush=True)
        return {**row, "run": str(run)}

    first = [True]

    def train_jobs(jobs: list[Job]) -> list[dict]:
        rows = [one(jobs[0])] if first[0] else []  # alone: it may train the shared pretraining run
        first[0] = False
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            return rows + list(pool.map(one, jobs[len(rows) :]))

    result = tune(train_jobs, args.methods, args.alphas, args.seeds, args.max_extensions)
    command = "python bench/tune_alpha.py " + " ".join(argv)
    choice = {m: result["choice"][m]["alpha"] for m in args.methods}
    cfg = load_config(args.preset)
    record = {
        "command": command.strip(),
        "preset": args.preset,
        "criterion": "per method: mean validation video top-1 over seeds; ties to the smaller alpha",
        "seeds": args.seeds,
        "paper_alpha": PAPER_ALPHA,  # reported beside each method's choice when the grid has it
        "grid": result["grid"],
        "extensions": result["extensions"],
        "max_extensions": args.max_extensions,
        "num_val_videos": result["rows"][0]["num_val_videos"],
        "choice": result["choice"],
        "points": result["points"],
        "runs": result["rows"],
        "recipe": {"lr": cfg.optim.lr, "epochs": cfg.optim.epochs, "batch_size": cfg.optim.batch_size},
        "train_args": extra,
        "seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_json(args.out, record)
    for method in args.methods:
        points = ", ".join(f"{p['alpha']:g}: {100 * p['mean']:.1f}" for p in result["points"][method])
        c = result["choice"][method]
        edge = f" (still at the {c['edge_after_extensions']} edge)" if c["edge_after_extensions"] else ""
        paper = [p for p in result["points"][method] if p["alpha"] == PAPER_ALPHA]
        paper_text = f"; the paper's α = {PAPER_ALPHA:g}: {100 * paper[0]['mean']:.1f}" if paper else ""
        print(f"{method}: validation top-1 per α {{{points}}} → α = {c['alpha']:g}{edge}{paper_text}")
    print(f"wrote {args.out}; paste under method_overrides: in configs/{args.preset}.yaml:")
    print(overrides_yaml(choice, f"{command.strip()} → {args.out.name}"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

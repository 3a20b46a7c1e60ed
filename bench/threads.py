"""OpenMP's wait policy both ways: OMP_WAIT_POLICY unset (OpenMP's default) against PASSIVE.

    .venv/bin/python bench/threads.py                        # about 5 min on 2 cores
    .venv/bin/python bench/threads.py --sizes 320x240 --rounds 3

The policy is read when a process first imports torch, so every measurement runs in a fresh subprocess,
one with the policy unset and one with PASSIVE, back to back; the order alternates between rounds (AB, BA,
…) so that drifting load from other processes hits both alike. Each subprocess is a single process with
the cores to itself, as a single ``prepare --data.prepare_workers 1`` or a single train is
(docs/architecture.md, "Threads"):

- extraction: torch TV-L1 (one batch of ``--pairs`` pairs, as extraction solves a video's pairs) and OpenCV's
  TV-L1 on the same pairs (real frames warped by a known smooth flow, ``make_gt_pairs``), each frame size,
  torch's and OpenCV's default thread counts (all cores, as ``prepare`` with one worker leaves them); the
  two backends alternate within the subprocess and the best of ``--repeats`` is kept;
- a training step of the cpu preset (DS student + frozen flow teacher, the preset's batch, clip and crop),
  with the preset's ``threads`` and with every core: the median of ``--steps`` steps after two warm-up steps.

Ratios are what to read: ``torch_over_opencv`` (speed, per policy) and ``passive_over_default`` (speed;
below 1: PASSIVE is slower), the median over rounds of each round's pair. Writes bench/results/threads.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "threads.json"
ROOT = Path(__file__).resolve().parent.parent
POLICIES = {"default": None, "passive": "PASSIVE"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="160x120,320x240,340x256", help="frame sizes W x H, comma separated")
    p.add_argument("--pairs", type=int, default=8, help="frame pairs per extraction call")
    p.add_argument("--repeats", type=int, default=2, help="timed calls per backend in one subprocess")
    p.add_argument("--steps", type=int, default=20, help="timed training steps in one subprocess")
    p.add_argument("--rounds", type=int, default=2, help="subprocess pairs (unset, PASSIVE) per case")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--note", default="", help="what else ran on the machine (written to the JSON)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)  # one measurement, as JSON
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------ inside a subprocess
def measure_extraction(size: str, pairs: int, repeats: int) -> dict:
    import cv2
    import torch

    from dualaction_lib.flow import tvl1
    from dualaction_lib.flow.synthetic_pairs import make_gt_pairs

    w, h = (int(v) for v in size.lower().split("x"))
    prev, nxt, _ = make_gt_pairs(pairs, size=(w, h), seed=0)  # (N, H, W) uint8, the same in every process
    backends = {
        "torch": lambda: tvl1(prev, nxt, backend="torch", batch_size=pairs),
        "opencv": lambda: tvl1(prev, nxt, backend="opencv"),
    }
    tvl1(prev[:1], nxt[:1], backend="torch")  # untimed: first-call allocations
    tvl1(prev[:1], nxt[:1], backend="opencv")
    seconds: dict[str, list[float]] = {name: [] for name in backends}
    for _ in range(repeats):
        for name, run in backends.items():  # alternate: load from other processes hits both alike
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    threads = {"torch": torch.get_num_threads(), "opencv": cv2.getNumThreads()}
    return {
        "pairs_per_s": {k: pairs / min(v) for k, v in seconds.items()},  # best of repeats
        "seconds": seconds,
        "threads": threads,
    }


def measure_train_step(preset: str, threads: int, steps: int) -> dict:
    import torch

    from dualaction_lib.config import load_config
    from dualaction_lib.engine.modeling import StudentHead, build_network, model_options, teacher_layers
    from dualaction_lib.engine.train import build_loss
    from dualaction_lib.models import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config(preset, method="ds")
    classes, layers = 12, teacher_layers(cfg)
    net = StudentHead(build_network(cfg, classes), layers)
    widths = model_options(cfg.model.widths, 0.0, {})
    teacher = build_model(cfg.model.arch, in_channels=2, num_classes=classes, **widths).eval()
    teacher.requires_grad_(False)
    loss_fn = build_loss(cfg)
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.optim.lr, momentum=0.9)
    b, t, s = cfg.optim.batch_size, cfg.data.clip_len, cfg.data.crop_size
    rgb, flow = torch.randn(b, 3, t, s, s), torch.randn(b, 2, t, s, s)  # (B, C, T, S, S)
    y = torch.randint(0, classes, (b,))

    def step() -> None:
        logits, feats = net(rgb)  # (B, K), {level: student feature}
        with torch.no_grad():
            t_feats = teacher.forward_intermediates(flow, layers)
        loss, _ = loss_fn.combine(loss_fn.raw_terms(logits, y, feats, t_feats))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):  # untimed warm-up
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"median_ms": 1000 * statistics.median(times), "threads": torch.get_num_threads()}


def child(spec: dict) -> dict:
    if spec["kind"] == "extraction":
        return measure_extraction(spec["size"], spec["pairs"], spec["repeats"])
    return measure_train_step(spec["preset"], spec["threads"], spec["steps"])


# ----------------------------------------------------------------------------------------- the driver
def run_child(spec: dict, policy: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench/threads.py: a measurement failed ({spec}):\n{done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def paired_rounds(spec: dict, rounds: int, label: str) -> dict[str, list[dict]]:
    """``rounds`` pairs of subprocesses, the policy order alternating: {policy: [result per round]}."""
    out: dict[str, list[dict]] = {name: [] for name in POLICIES}
    for r in range(rounds):
        order = list(POLICIES) if r % 2 == 0 else list(reversed(POLICIES))
        for name in order:
            out[name].append(run_child(spec, POLICIES[name]))
            print(f"  {label}: round {r + 1}/{rounds}, {name} done", flush=True)
    return out


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def extraction_case(args: argparse.Namespace, size: str) -> dict:
    spec = {"kind": "extraction", "size": size, "pairs": args.pairs, "repeats": args.repeats}
    runs = paired_rounds(spec, args.rounds, f"extraction {size}")
    speed = {p: {b: [r["pairs_per_s"][b] for r in rs] for b in ("torch", "opencv")} for p, rs in runs.items()}
    return {
        "pairs_per_s": {p: {b: [round(v, 3) for v in vs] for b, vs in s.items()} for p, s in speed.items()},
        "torch_over_opencv": {
            p: median([t / o for t, o in zip(s["torch"], s["opencv"], strict=True)]) for p, s in speed.items()
        },
        "passive_over_default": {
            b: median([p / d for p, d in zip(speed["passive"][b], speed["default"][b], strict=True)])
            for b in ("torch", "opencv")
        },
        "threads": runs["default"][0]["threads"],
    }


def train_case(args: argparse.Namespace, threads: int) -> dict:
    spec = {"kind": "train", "preset": args.preset, "threads": threads, "steps": args.steps}
    runs = paired_rounds(spec, args.rounds, f"train step, {threads} thread(s)")
    ms = {p: [r["median_ms"] for r in rs] for p, rs in runs.items()}
    return {
        "step_ms": {p: [round(v, 1) for v in vs] for p, vs in ms.items()},
        # speed ratio: default time / PASSIVE time (below 1: PASSIVE is slower)
        "passive_over_default": median([d / p for d, p in zip(ms["default"], ms["passive"], strict=True)]),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(json.loads(args.child))))
        return
    import torch

    from dualaction_lib.config import load_config
    from dualaction_lib.io import atomic_write_json

    cores = os.cpu_count() or 1
    preset_threads = load_config(args.preset).threads or cores
    load_before, start = os.getloadavg(), time.perf_counter()
    extraction = {size: extraction_case(args, size) for size in args.sizes.split(",")}
    train = {f"{n} thread(s)": train_case(args, n) for n in dict.fromkeys((preset_threads, cores))}
    report = {
        "command": " ".join(
            [".venv/bin/python bench/threads.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "note": args.note,
        "what": "speed ratios, median over rounds of paired fresh subprocesses (policy unset, PASSIVE)",
        "extraction": extraction,
        "train_step": {"preset": args.preset, **train},
        "settings": {
            "pairs": args.pairs,
            "repeats": args.repeats,
            "steps": args.steps,
            "rounds": args.rounds,
        },
        "env": {
            "torch": torch.__version__,
            "cpu_count": cores,
            "machine": platform.machine(),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "minutes": round((time.perf_counter() - start) / 60, 1),
        },
    }
    atomic_write_json(args.out, report)
    print(json.dumps({k: report[k] for k in ("extraction", "train_step")}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

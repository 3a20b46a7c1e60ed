"""Where each target task's class information is: linear probes at the cpu presets' spec.

    python bench/task_probes.py                                  # mixed (cpu) and objects (cpu_objects)
    python bench/task_probes.py --presets cpu --train-per-class 30 --test-per-class 10
    (an existing results file keeps the entries of the tasks not rerun)

For each preset: its ``data.synthetic`` spec (frame size, frame count, task, seed) with more videos per
class, generated in memory from the same per-video random streams as ``make_synthetic``. Each video then
takes the teacher's path: an MJPG .avi written and decoded as ``prepare`` does, RGB frames stored as JPEG
(quality 95) and read back, TV-L1 (the preset's backend and parameters) on the decoded grayscale pairs,
quantized with the preset's bound and rounding, stored as JPEG and read back, dequantized. Not modelled: the
loader's crops (40 px from 48/40/34 px, resized) -- the probes see the whole 48x48 frame and all 16
frames (a test video's clips together cover them too).

Probes (bench/probe_features.py), trained on the training videos, scored on the test videos:
- single frame (one RGB frame at a random time) -> class, direction, kind of the moving object;
- which object moves, from one frame's per-object cues (visible share, contrast, kind) -> the actor;
  rules "the topmost object" and "the object of highest contrast"; and what the kinds present alone
  give for the kind (the best guess per multiset of kinds, counted on the training videos);
- frame differences (grayscale) -> class, direction, kind;
- flow (moving region's shape and mean flow) -> class, direction, kind; the moving region alone -> kind;
- averaging the single-frame and flow class probabilities.
Task "mixed" adds: the colour family (none, warm, cool), warm vs cool among the box videos (appearance
only), the direction among the ball and bar videos (motion only), and the class accuracy on each group.
Writes bench/results/task_probes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # must precede the first torch import
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from probe_features import (  # noqa: E402
    difference_features,
    flow_features,
    flow_region_features,
    frame_features,
    object_cues,
    object_probe,
    probe,
)
from tqdm.auto import tqdm  # noqa: E402

from dualaction_lib.config import load_config  # noqa: E402
from dualaction_lib.data.decode import DecodedVideo  # noqa: E402
from dualaction_lib.data.synthetic import SyntheticSpec, draw_scene, plan_scene, write_video  # noqa: E402
from dualaction_lib.data.synthetic.objects import split_class  # noqa: E402
from dualaction_lib.data.synthetic.spec import DIRECTIONS, KINDS  # noqa: E402
from dualaction_lib.flow import dequantize_flow, quantize_flow, tvl1  # noqa: E402
from dualaction_lib.io import atomic_write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "task_probes.json"
FAMILY_LABELS = ("", "Warm", "Cool")
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="+", default=["cpu", "cpu_objects"])
    p.add_argument("--train-per-class", type=int, default=60)
    p.add_argument("--test-per-class", type=int, default=24)
    p.add_argument("--workers", type=int, default=2, help="processes generating videos and flow")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def jpeg(image: np.ndarray) -> np.ndarray:
    """``image`` stored as a JPEG (quality 95, as prepare stores frames and flow) and read back."""
    ok, buf = cv2.imencode(".jpg", image, JPEG)
    assert ok, "JPEG encoding failed"
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def teacher_view(frames: np.ndarray, cfg, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(RGB frames, dequantized flow) of one rendered video, as the loaders read them after prepare."""
    d = cfg.data
    path = folder / "video.avi"
    write_video(path, frames, 25.0)
    decoded = np.stack(list(DecodedVideo(path, d.fps, d.short_side)))
    gray = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in decoded])
    flow = tvl1(gray[:-1], gray[1:], backend=d.flow_backend, **dict(d.flow_params))
    levels = quantize_flow(flow, bound=d.flow_bound, rounding=d.flow_rounding)
    stored = np.stack([[jpeg(q[..., a]) for a in (0, 1)] for q in levels], 0).transpose(0, 2, 3, 1)
    rgb = np.stack([jpeg(f) for f in decoded])
    return rgb, dequantize_flow(stored, d.flow_bound)


def one_video(spec: SyntheticSpec, preset: str, c: int, i: int, folder: Path) -> dict:
    """Every feature of video ``i`` of class ``c`` (its random stream as ``make_synthetic`` keys it)."""
    cfg = load_config(preset)
    rng = np.random.default_rng(np.random.SeedSequence([np.random.SeedSequence(spec.seed).entropy, c, i]))
    scene = plan_scene(spec, spec.classes[c], rng)
    rgb, flow = teacher_view(draw_scene(spec, scene, rng), cfg, folder)
    t = int(np.random.default_rng([1, c, i]).integers(spec.num_frames))  # the frame single-frame probes see
    layers = scene.layers(t)
    cues, actor = object_cues(rgb[t], layers, KINDS)
    return {
        "frame": frame_features(rgb[t]),
        "diff": difference_features(rgb),
        "flow": flow_features(flow),
        "region": flow_region_features(flow),
        "cues": cues,
        "actor": actor,
        "top": len(layers) - 1,
        "present": tuple(sorted(shape.kind for shape, _, _ in layers)),
        "label": c,
    }


def _chunk(args: tuple) -> list[dict]:
    spec, preset, jobs = args
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        return [one_video(spec, preset, c, i, Path(tmp)) for c, i in jobs]


def generate(spec: SyntheticSpec, preset: str, train_n: int, test_n: int, workers: int) -> dict:
    """Features and labels of ``train_n + test_n`` videos per class, in ``workers`` processes."""
    jobs = [(c, i) for c in range(len(spec.classes)) for i in range(train_n + test_n)]
    chunks = [(spec, preset, jobs[k : k + 12]) for k in range(0, len(jobs), 12)]
    with ProcessPoolExecutor(workers) as pool:
        done = list(tqdm(pool.map(_chunk, chunks), total=len(chunks), desc=spec.task, mininterval=10.0))
    videos = [v for chunk in done for v in chunk]
    rows = {k: [v[k] for v in videos] for k in videos[0]}
    rows["train"] = [i < train_n for _, i in jobs]
    return rows


def accuracy(probs: np.ndarray, y: np.ndarray) -> float:
    return round(float((probs.argmax(1) == y).mean()), 4)


def kinds_present_bound(present: list, kind: np.ndarray, train: np.ndarray) -> float:
    """Test accuracy of the best guess of the actor's kind from the kinds present (counted on train)."""
    counts: dict[tuple, Counter] = {}
    for p, k, tr in zip(present, kind, train, strict=True):
        if tr:
            counts.setdefault(p, Counter())[k] += 1
    guess = [counts[p].most_common(1)[0][0] if p in counts else 0 for p in present]
    return round(float((np.asarray(guess)[~train] == kind[~train]).mean()), 4)


def measure(spec: SyntheticSpec, rows: dict) -> dict:
    y, train = np.asarray(rows["label"]), np.asarray(rows["train"])
    parts = [split_class(spec.classes[c]) for c in y]
    targets = {
        "class": (y, len(spec.classes)),
        "direction": (np.asarray([DIRECTIONS.index(p[2]) for p in parts]), 4),
        "kind": (np.asarray([KINDS.index(p[1]) for p in parts]), 3),
    }
    if spec.task == "mixed":
        targets["colour_family"] = (np.asarray([FAMILY_LABELS.index(p[0]) for p in parts]), 3)
    features = {k: np.asarray(rows[k]) for k in ("frame", "diff", "flow")}
    out: dict = {"chance": {name: round(1 / n, 4) for name, (_, n) in targets.items()}}
    probs = {}
    for fname, x in features.items():
        out[fname] = {}
        for name, (target, n) in targets.items():
            probs[fname, name] = probe(x, target, train, n)
            out[fname][name] = accuracy(probs[fname, name], target[~train])
    region = probe(np.asarray(rows["region"]), targets["kind"][0], train, 3)
    out["flow_region"] = {"kind": accuracy(region, targets["kind"][0][~train])}
    fused = (probs["frame", "class"] + probs["flow", "class"]) / 2
    out["frame+flow_average"] = {"class": accuracy(fused, y[~train])}
    actor, top = np.asarray(rows["actor"]), np.asarray(rows["top"])
    cues = rows["cues"]
    contrast_pick = np.asarray([int(np.argmax(c[:, 1])) for c in cues])
    out["which_object_moves"] = {
        "chance": round(float(np.mean([1 / len(c) for c, tr in zip(cues, train, strict=True) if not tr])), 4),
        "cue_probe": round(float(object_probe(cues, actor, train).mean()), 4),
        "rule_topmost": round(float((top == actor)[~train].mean()), 4),
        "rule_highest_contrast": round(float((contrast_pick == actor)[~train].mean()), 4),
    }
    out["kinds_present_bound"] = {"kind": kinds_present_bound(rows["present"], targets["kind"][0], train)}
    if spec.task == "mixed":
        out["groups"] = groups(spec, rows, features, probs, fused, targets)
    return out


def groups(spec, rows, features, probs, fused, targets) -> dict:
    """Task mixed: class accuracy on motion-only and appearance-only classes; the within-group probes."""
    y, train = np.asarray(rows["label"]), np.asarray(rows["train"])
    family = targets["colour_family"][0]
    appearance = family > 0
    test_app = appearance[~train]
    out: dict = {"classes": {"motion_only": [], "appearance_only": []}}
    for name in spec.classes:
        out["classes"]["appearance_only" if split_class(name)[0] else "motion_only"].append(name)
    for fname in features:
        hits = probs[fname, "class"].argmax(1) == y[~train]
        out[fname] = {"motion_only": round(float(hits[~test_app].mean()), 4)}
        out[fname]["appearance_only"] = round(float(hits[test_app].mean()), 4)
    hits = fused.argmax(1) == y[~train]
    out["frame+flow_average"] = {
        "motion_only": round(float(hits[~test_app].mean()), 4),
        "appearance_only": round(float(hits[test_app].mean()), 4),
    }
    direction = targets["direction"][0]
    ball_or_bar = targets["kind"][0] != KINDS.index("Box")  # four directions each (a box: up or down only)
    within: dict = {"chance": {"warm_vs_cool": 0.5, "direction_of_ball_or_bar": 0.25}}
    for fname, x in features.items():
        warm = probe(x[appearance], family[appearance] - 1, train[appearance], 2)
        moving = probe(x[ball_or_bar], direction[ball_or_bar], train[ball_or_bar], 4)
        within[fname] = {
            "warm_vs_cool": accuracy(warm, family[appearance][~train[appearance]] - 1),
            "direction_of_ball_or_bar": accuracy(moving, direction[ball_or_bar][~train[ball_or_bar]]),
        }
    out["within_group"] = within
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    command = "python bench/task_probes.py " + " ".join(argv if argv is not None else sys.argv[1:])
    # A run of some presets replaces their tasks' entries and keeps the others (each says how it was made).
    previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
    report = {
        "pipeline": "MJPG .avi -> decoded frames -> JPEG q95 (RGB); TV-L1 on the decoded grayscale pairs "
        "-> quantized (preset's bound, rounding) -> JPEG q95 -> dequantized (flow); whole 48x48 frames, "
        "all frames; linear probes trained on the training videos, accuracy on the test videos",
        "tasks": previous.get("tasks", {}),
    }
    for preset in args.presets:
        cfg = load_config(preset)
        spec = SyntheticSpec(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.data.synthetic.items()}
        )
        spec = replace(
            spec, videos_per_class_train=args.train_per_class, videos_per_class_test=args.test_per_class
        )
        start = time.perf_counter()
        rows = generate(spec, preset, args.train_per_class, args.test_per_class, args.workers)
        generated = time.perf_counter() - start
        result = measure(spec, rows)
        result.update(
            command=command.strip(),
            date=time.strftime("%Y-%m-%d"),
            preset=preset,
            spec=spec.to_dict(),
            flow_settings={
                "backend": cfg.data.flow_backend,
                "bound": cfg.data.flow_bound,
                "rounding": cfg.data.flow_rounding,
            },
            n_videos=len(rows["label"]),
            n_train=int(np.sum(rows["train"])),
            n_test=int(len(rows["label"]) - np.sum(rows["train"])),
            seconds={
                "generate_and_flow": round(generated, 1),
                "probes": round(time.perf_counter() - start - generated, 1),
            },
        )
        report["tasks"][spec.task] = result
        print(
            f"{preset} ({spec.task}):",
            {k: v for k, v in result.items() if k not in ("spec", "groups")},
            flush=True,
        )
        if "groups" in result:
            print("  groups:", result["groups"], flush=True)
    atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

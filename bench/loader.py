"""Loader (and extraction) throughput: clips/s for rgb, flow, rgb+flow at 16x112^2 from JPEG folders.

    python bench/loader.py                       # generated MARS-layout frames at 256x340, 0 and 2 workers
    python bench/loader.py --frames-root data/ucf101_frames --workers 0 2 4
    python bench/loader.py --extraction          # also prepare throughput (videos/s, pairs/s)
    python bench/loader.py --resize linear pil_bilinear --workers 0   # OpenCV vs PIL (MARS) crop resize

Without --frames-root a fixture is written in a temp folder in the real layout: 256x340 JPEG frames
(the size MARS/mmaction2 extract UCF-101 at) rendered by the synthetic benchmark, and smooth flow JPEGs.
Prints a table and writes bench/results/loader.json. Numbers on a shared machine are noisy: compare
rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualaction_lib.data.check import usable_videos  # noqa: E402
from dualaction_lib.data.datasets import ClipOptions, VideoDataset  # noqa: E402
from dualaction_lib.data.layouts import MARS, VideoEntry  # noqa: E402
from dualaction_lib.data.synthetic import CLASSES, SyntheticSpec, render_video  # noqa: E402
from dualaction_lib.data.synthetic.scene import periodic_noise  # noqa: E402
from dualaction_lib.data.transforms import RESIZES  # noqa: E402
from dualaction_lib.io import atomic_write_json  # noqa: E402


def write_fixture(root: Path, videos: int, frames: int, size: tuple[int, int]) -> list[VideoEntry]:
    """MARS-named frame folders: rendered RGB frames and smooth flow-like JPEGs around 127.5."""
    spec = SyntheticSpec(num_frames=frames, frame_size=size, seed=0)
    rng = np.random.default_rng(0)
    entries = []
    for v in range(videos):
        cls = CLASSES[v % len(CLASSES)]
        folder = root / cls / f"v_{cls}_g{8 + v:02d}_c01"
        folder.mkdir(parents=True, exist_ok=True)
        rgb = render_video(spec, cls, rng)
        field = periodic_noise(rng, max(size), 20.0)[: size[0], : size[1]]
        for p in range(frames):
            cv2.imwrite(str(folder / MARS.rgb(p)), rgb[p], [cv2.IMWRITE_JPEG_QUALITY, 95])
            if p < frames - 1:
                for axis in (0, 1):
                    flow = 100 + 55 * np.roll(field, 3 * p + 7 * axis, axis=axis)
                    cv2.imwrite(str(folder / MARS.flow(p, axis)), flow.astype(np.uint8))
        entries.append(VideoEntry(f"{cls}/{folder.name}", v % len(CLASSES), "train"))
    return entries


def measure(ds: VideoDataset, workers: int, clips: int, batch_size: int) -> dict:
    # Sampling with replacement: any number of clips from any number of videos.
    sampler = RandomSampler(ds, replacement=True, num_samples=clips + batch_size)
    loader = DataLoader(ds, batch_size=batch_size, sampler=sampler, num_workers=workers)
    start = time.perf_counter()
    iterator = iter(loader)
    next(iterator)  # worker start-up + first batch, reported separately
    first = time.perf_counter() - start
    done, start = 0, time.perf_counter()
    for batch in iterator:
        done += len(batch["label"])
    seconds = time.perf_counter() - start
    return {"clips_per_s": done / seconds, "first_batch_s": first, "clips": done}


def bench_loader(args) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.frames_root or tmp)
        if args.frames_root:
            from dualaction_lib.data.layouts import detect_split_format, load_index

            entries, _ = load_index(detect_split_format(root / "splits"), root / "splits", 1)
            entries = [e for e in entries if e.split == "train"][: args.videos]
        else:
            t0 = time.perf_counter()
            entries = write_fixture(root, args.videos, args.frames, tuple(args.size))
            print(
                f"fixture: {args.videos} videos x {args.frames} frames at {args.size} "
                f"({time.perf_counter() - t0:.1f} s)"
            )
        rows = []
        for modality in ("rgb", "flow", "rgb+flow"):
            for resize in args.resize:
                records, _ = usable_videos(root, entries, modality)
                options = ClipOptions(clip_len=args.clip_len, crop_size=args.crop, resize=resize)
                ds = VideoDataset(records, modality, "train", options)
                for workers in args.workers:
                    result = measure(ds, workers, args.clips, args.batch_size)
                    rows.append({"modality": modality, "resize": resize, "workers": workers, **result})
                    print(
                        f"  {modality:9s} {resize:12s} workers={workers}: {result['clips_per_s']:7.1f} "
                        f"clips/s (first batch {result['first_batch_s']:.1f} s)"
                    )
        return rows


def bench_extraction(args) -> dict:
    """prepare on the default synthetic spec (64x64, 20 frames) and on 256-short-side videos."""
    from dualaction_lib.data.extract import ExtractSettings, prepare
    from dualaction_lib.data.synthetic import make_synthetic

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = {
            "synthetic_default_64x64": (SyntheticSpec(), None),
            "ucf_like_240x320_to_256": (
                SyntheticSpec(
                    num_classes=2,
                    videos_per_class_train=1,
                    videos_per_class_test=1,
                    num_frames=10,
                    frame_size=(240, 320),
                ),
                256,
            ),
        }
        for name, (spec, short_side) in cases.items():
            t0 = time.perf_counter()
            make_synthetic(tmp / name, spec)
            generate = time.perf_counter() - t0
            report = prepare(
                "synthetic",
                tmp / name,
                tmp / f"{name}_frames",
                ExtractSettings(short_side=short_side),
                spec=spec,
                workers=args.extract_workers,
                progress=False,
            )
            results[name] = {
                "videos": report.extracted,
                "pairs": report.flows,
                "seconds": report.seconds,
                "videos_per_s": report.videos_per_s,
                "pairs_per_s": report.pairs_per_s,
                "generate_s": generate,
                "workers": args.extract_workers,
                "flow_backend": "opencv",
            }
            print(
                f"  extraction {name}: {report.videos_per_s:.2f} videos/s, {report.pairs_per_s:.1f} "
                f"pairs/s ({report.extracted} videos, {report.flows} pairs, {report.seconds:.1f} s; "
                f"generation {generate:.1f} s)"
            )
    return results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames-root", default=None, help="extracted frames (with splits/); default: a fixture")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", type=int, nargs=2, default=(256, 340), metavar=("H", "W"))
    p.add_argument("--clip-len", type=int, default=16)
    p.add_argument("--crop", type=int, default=112)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--clips", type=int, default=48, help="clips timed per row (after the first batch)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--resize", nargs="+", default=["linear"], choices=RESIZES, help="crop resize filters")
    p.add_argument("--extraction", action="store_true", help="also time prepare (TV-L1 opencv)")
    p.add_argument("--extract-workers", type=int, default=2)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "loader.json"))
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = bench_loader(args)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "torch": torch.__version__,
        },
        "setup": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "loader": rows,
    }
    if args.extraction:
        result["extraction"] = bench_extraction(args)
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

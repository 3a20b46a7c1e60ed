"""Cost of the data check that train and evaluate run before any work (dualaction_lib.data.check).

    python bench/data_check.py               # the cpu preset's frames (data/synthetic/frames)
    python bench/data_check.py --frames-root data/ucf101_frames --levels fast

Checks every listed video of every split for rgb+flow (what a distillation run reads) at each level,
best of --repeats (the first pass also pays for a cold page cache). Prints a table and writes
bench/results/data_check.json. Numbers on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualaction_lib.data.check import check_videos, listed_videos  # noqa: E402
from dualaction_lib.io import atomic_write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames-root", default="data/synthetic/frames")
    parser.add_argument("--levels", nargs="+", default=["off", "fast", "full"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "data_check.json"))
    args = parser.parse_args()
    videos = [(v, "rgb+flow") for v in listed_videos(Path(args.frames_root))]
    rows = []
    for level in args.levels:
        times, result = [], None
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = check_videos(args.frames_root, videos, level)
            times.append(time.perf_counter() - start)
        rows.append(
            {
                "level": level,
                "videos": result.videos,
                "files": result.files,
                "left_out": len(result.left_out),
                "first_s": round(times[0], 3),
                "best_s": round(min(times), 3),
                "us_per_file": round(1e6 * min(times) / result.files, 1) if result.files else None,
            }
        )
    print(
        f"{'level':6} {'videos':>6} {'files':>7} {'left out':>8} {'first s':>8} {'best s':>7} {'us/file':>8}"
    )
    for r in rows:
        print(
            f"{r['level']:6} {r['videos']:>6} {r['files']:>7} {r['left_out']:>8} {r['first_s']:>8.3f} "
            f"{r['best_s']:>7.3f} {r['us_per_file'] or '-':>8}"
        )
    info = {"frames_root": args.frames_root, "cpus": os.cpu_count(), "python": platform.python_version()}
    atomic_write_json(args.out, {"machine": info, "rows": rows})
    print(f"written {args.out}")


if __name__ == "__main__":
    main()

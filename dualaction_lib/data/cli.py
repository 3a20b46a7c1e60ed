"""``python -m dualaction_lib prepare``: videos -> JPEG frames + TV-L1 flow (see ``data.extract``);
``python -m dualaction_lib check``: which frame and flow files are missing or damaged (``data.check``)."""

from __future__ import annotations

import argparse
from typing import get_args

from dualaction_lib.choices import FlowBackend, Modality, Naming, PrepareDataset, Rounding, SyntheticTask

from .synthetic import SyntheticSpec


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return index, count


def _pair(kind):
    def parse(text: str) -> tuple:
        parts = text.replace("x", ",").split(",")
        try:
            values = tuple(kind(v) for v in parts)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a,b or HxW numbers, got {text!r}") from None
        return values * 2 if len(values) == 1 else values

    return parse


class _Renamed(argparse.Action):
    """An old option that now has the config key's spelling: refused with a pointer to the new one."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is now {self.const} (the config key it sets)")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="extract JPEG frames and TV-L1 flow from videos (and generate the synthetic benchmark)",
        description="Decode videos with OpenCV at --data.fps, resize the short side, write JPEG frames and "
        "TV-L1 flow JPEGs (clipped to +-bound, mapped to 0..255) to --out, with the split files in "
        "<out>/splits. Resumable (per-video .done.json), parallel (--data.prepare_workers), shardable "
        "(--shard i/n). Options that set a config key are spelled as the key.",
    )
    p.add_argument("--dataset", required=True, choices=get_args(PrepareDataset))
    p.add_argument("--root", required=True, help="videos (+ splits); for synthetic: generated here if absent")
    p.add_argument("--out", required=True, help="output frames root (<out>/<class>/<video>/...)")
    p.add_argument("--splits", default=None, help="split folder (default: <root>/splits, ...)")
    # Settings that are config keys take the key's name, so a preset's data section reads the same.
    p.add_argument(
        "--data.fps", dest="fps", type=float, default=25.0, help="target frame rate; 0 keeps every frame (25)"
    )
    p.add_argument(
        "--data.short_side",
        dest="short_side",
        type=int,
        default=None,
        help="resize the short side to this; 0 keeps the size (default 256; synthetic: native size)",
    )
    p.add_argument(
        "--data.frame_size",
        dest="resize_to",
        type=_pair(int),
        default=None,
        help="resize every frame to exactly HxW, aspect ratio not kept (the seed paper: 256x256); default: "
        "keep the aspect ratio, short side --short-side",
    )
    p.add_argument(
        "--data.flow_backend", dest="flow_backend", choices=get_args(FlowBackend), default="opencv"
    )
    p.add_argument("--device", default=None, help="torch device for the torch backend (e.g. cuda:0)")
    p.add_argument(
        "--data.flow_bound",
        dest="flow_bound",
        type=float,
        default=20.0,
        help="flow clip bound in pixels (20)",
    )
    p.add_argument(
        "--data.flow_rounding",
        dest="flow_rounding",
        choices=get_args(Rounding),
        default="round",
        help="flow -> uint8: round (default, unbiased) or truncate (MARS's files)",
    )
    for old, new in (("--bound", "--data.flow_bound"), ("--rounding", "--data.flow_rounding"),
                     ("--flow-backend", "--data.flow_backend"),
                     ("--fps", "--data.fps"), ("--short-side", "--data.short_side"),
                     ("--workers", "--data.prepare_workers")):  # fmt: skip
        # default=SUPPRESS: an old flag never sets its dest, so the new flag's default stands.
        p.add_argument(old, action=_Renamed, const=new, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--naming", choices=get_args(Naming), default="mars")
    p.add_argument(
        "--data.prepare_workers", dest="workers", type=int, default=2, help="parallel processes (videos)"
    )
    p.add_argument("--shard", type=_shard, default=(0, 1), help="process shard i of n (0-based), e.g. 1/4")
    p.add_argument("--jpeg-quality", type=int, default=95)
    g = p.add_argument_group("synthetic benchmark (--dataset synthetic)")
    d = SyntheticSpec()
    g.add_argument(
        "--task",
        choices=get_args(SyntheticTask),
        default=d.task,
        help="motion: the view's motion alone defines the class (8 classes); objects: what moves and how "
        "(12 classes, Ball/Bar/Box x Left/Right/Up/Down); mixed: 10 classes by motion only, 2 by the "
        "actor's colour only (default: motion)",
    )
    g.add_argument("--num-classes", type=int, default=None, help="the task's first N classes (default: all)")
    g.add_argument("--train-per-class", type=int, default=d.videos_per_class_train)
    g.add_argument("--test-per-class", type=int, default=d.videos_per_class_test)
    g.add_argument("--num-frames", type=int, default=d.num_frames)
    g.add_argument("--frame-size", type=_pair(int), default=d.frame_size, help="H or HxW (64x64)")
    g.add_argument(
        "--speed", type=_pair(float), default=None, help="px/frame range lo,hi (motion 0.75,2; others 1,2)"
    )
    g.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(func=run_prepare)

    c = subparsers.add_parser(
        "check",
        help="find missing, unreadable or truncated frame and flow files of an extracted data set",
        description="Check every video of FRAMES_ROOT's split files (every frame folder when it has no "
        "splits/): one line per problem, then a summary; exit 1 if any problem is found. Videos that "
        "prepare skipped are listed, not counted as problems (its report says why).",
    )
    c.add_argument("frames_root", help="the output folder of prepare (or any frames root)")
    c.add_argument("--split", type=int, default=None, help="only this split's videos (default: every split)")
    c.add_argument(
        "--modality",
        choices=get_args(Modality),
        default=None,
        help="files to require (default: what each folder declares)",
    )
    c.add_argument("--full", action="store_true", help="also decode every JPEG (slower)")
    c.set_defaults(func=run_check)


def spec_from_args(args) -> SyntheticSpec:
    return SyntheticSpec(
        task=args.task,
        num_classes=args.num_classes,
        videos_per_class_train=args.train_per_class,
        videos_per_class_test=args.test_per_class,
        num_frames=args.num_frames,
        frame_size=args.frame_size,
        speed=args.speed,
        seed=args.seed,
    )


def run_prepare(args) -> int:
    from .extract import ExtractSettings, prepare

    short_side = args.short_side
    if short_side is None:
        short_side = 0 if args.dataset == "synthetic" else 256
    settings = ExtractSettings(
        fps=args.fps or None,
        short_side=short_side or None,
        frame_size=args.resize_to,
        flow_backend=args.flow_backend,
        device=args.device,
        bound=args.flow_bound,
        rounding=args.flow_rounding,
        naming=args.naming,
        jpeg_quality=args.jpeg_quality,
    )
    report = prepare(
        args.dataset,
        args.root,
        args.out,
        settings,
        workers=args.workers,
        shard=args.shard,
        splits=args.splits,
        spec=spec_from_args(args) if args.dataset == "synthetic" else None,
        progress=getattr(args, "progress", None) is not False,  # --progress / --no-progress, on by default
    )
    print(
        f"prepare: {report.extracted} extracted, {report.already_done} already done, "
        f"{len(report.skipped)} skipped, {len(report.partial)} partial of {report.total} videos in shard "
        f"{args.shard[0]}/{args.shard[1]}; "
        f"{report.frames} frames, {report.flows} flows in {report.seconds:.1f} s "
        f"({report.videos_per_s:.2f} videos/s, {report.pairs_per_s:.1f} pairs/s)"
    )
    for item in report.skipped:
        print(f"  skipped {item['video_id']}: {item['reason']}")
    for item in report.partial:
        print(
            f"  partial {item['video_id']}: {item['frames_decoded']} of {item['frames_declared']} source "
            f"frames decodable (the stream ends early); {item['frames']} frames kept"
        )
    print(f"report: {report.report_path}")
    if report.errors:
        print(f"prepare: {len(report.errors)} video(s) failed with unexpected errors (see the report)")
        return 1
    return 0


def run_check(args) -> int:
    from .check import check_videos, listed_videos

    ids = listed_videos(args.frames_root, args.split)
    result = check_videos(
        args.frames_root, [(i, args.modality) for i in ids], "full" if args.full else "fast"
    )
    for item in result.left_out:
        for line in item.problems:
            print(line)
    for video_id in result.partial:
        print(f"{video_id}: partial (fewer frames decoded than its container declares; kept)")
    print(result.summary())
    return 1 if result.problems else 0

"""Sub-commands ``train``, ``evaluate`` and ``fuse`` (registered by ``dualaction_lib.__main__``).

    python -m dualaction_lib train --preset cpu --method ds --seed 0 [--optim.lr 0.01 --data.clip_len 16]
    python -m dualaction_lib evaluate runs/cpu/ds_seed0 [--protocol multiclip]
    python -m dualaction_lib fuse runs/cpu/ds_seed0 runs/cpu/flow_seed0 [--method average]

Any config key can be overridden with ``--section.key value`` (see ``dualaction_lib/config/schema.py``).
Each command prints the run directory it wrote as its last stdout line.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, get_args

from dualaction_lib.choices import FusionMethod, Method, Protocol
from dualaction_lib.config import Config, ConfigError

_OVERRIDES_HELP = "any config key as --section.key value (e.g. --optim.lr 0.01 --data.clip_len 16)"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train one run (prepares the synthetic data on first use)", epilog=_OVERRIDES_HELP
    )
    p.add_argument("--preset", default="cpu", help="configs/<preset>.yaml or a YAML path (default: cpu)")
    p.add_argument("--method", help=" | ".join(get_args(Method)))
    p.add_argument("--seed", type=int)
    p.add_argument("--name", help="run directory name (default: from method, seed, --variant)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint (resume=false)")
    p.set_defaults(func=train_command, overrides=[])  # unknown --key value tokens: config overrides

    p = subparsers.add_parser(
        "evaluate", help="re-evaluate a run from its checkpoint", epilog=_OVERRIDES_HELP
    )
    p.add_argument("run_dir")
    p.add_argument("--protocol", choices=get_args(Protocol))
    p.set_defaults(func=evaluate_command, overrides=[])

    p = subparsers.add_parser("fuse", help="fuse two runs' cached scores (average or attention)")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--method", default="attention", choices=get_args(FusionMethod))
    p.add_argument("--out", help="output directory (default runs/<preset>/fusion_<a>+<b>_<method>)")
    p.add_argument("--hidden", type=_positive(int), default=64)
    p.add_argument("--steps", type=_positive(int), default=300)
    p.add_argument("--lr", type=_positive(float), default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=fuse_command)


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__} > 0, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _overrides(args: argparse.Namespace, **explicit: Any) -> dict[str, Any]:
    out = parse_cli_overrides(args.overrides)
    out.update({k: v for k, v in explicit.items() if v is not None})
    return out


def implied_variant(preset: Config, cfg: Config) -> str:
    """The experiment a hand-typed ``train`` belongs to, from the recipe keys it changes against its preset
    (the tables select runs by ``variant``): another init, normalization, levels or α is not a main run."""
    d, p = cfg.distill, preset.distill
    changed = {
        "scratch": cfg.model.init != preset.model.init and cfg.model.init == "scratch",
        "norm": d.normalize != p.normalize,
        "nopool": d.layers != p.layers and "pool" not in d.layers,
        "sweep": d.alpha != p.alpha and d.normalize == p.normalize,  # a normalized run's α is its own
    }
    found = [variant for variant, hit in changed.items() if hit]
    other = cfg.model.init != preset.model.init and not changed["scratch"]
    other = other or (d.layers != p.layers and not changed["nopool"])
    if len(found) > 1 or other:
        return "other"  # no table's experiment
    return found[0] if found else "main"


def train_command(args: argparse.Namespace) -> int:
    from dualaction_lib.config import load_config, override
    from dualaction_lib.engine.train import train

    overrides = _overrides(
        args,
        method=args.method,
        seed=args.seed,
        name=args.name,
        resume=False if args.fresh else None,
        progress=getattr(args, "progress", None),
    )
    cfg = load_config(args.preset, **overrides)
    if "variant" not in overrides:  # the run folder printed last shows it (e.g. ds_scratch_seed1)
        cfg = override(cfg, variant=implied_variant(load_config(args.preset, method=cfg.method), cfg))
    run_dir = train(cfg)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(run_dir)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from dualaction_lib.engine.evaluate import evaluate

    result = evaluate(
        args.run_dir, protocol=args.protocol, **_overrides(args, progress=getattr(args, "progress", None))
    )
    print(
        f"video top-1 {result['video_top1']:.4f}  top-5 {result['video_top5']:.4f}  "
        f"clip top-1 {result['clip_top1']:.4f}  ({result['num_videos']} videos, {result['protocol']})"
    )
    print(args.run_dir)
    return 0


def fuse_command(args: argparse.Namespace) -> int:
    from dualaction_lib.engine.fuse import fuse

    out = fuse(
        args.run_a,
        args.run_b,
        method=args.method,
        out_dir=args.out,
        hidden=args.hidden,
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
    )
    print(out)
    return 0


def parse_cli_overrides(tokens: list[str]) -> dict[str, Any]:
    """argparse's leftovers ['--optim.lr', '0.01', '--data.flip=false'] → {'optim.lr': '0.01', 'data.flip':
    'false'}: text, read against each field by the schema; '-' and '_' in keys are equivalent."""
    out: dict[str, Any] = {}
    rest = iter(tokens)
    for token in rest:
        if not token.startswith("--"):
            raise ConfigError(f"{token}: expected --key value")
        key, eq, value = token[2:].partition("=")
        if not eq:
            value = next(rest, "--")
            if value.startswith("--"):
                raise ConfigError(f"{key}: missing value")
        out[key.replace("-", "_")] = value
    return out

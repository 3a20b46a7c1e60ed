"""Command line: ``python -m dualaction_lib {prepare,train,evaluate,fuse,workbook,figures} ...``.

Each sub-package registers its own sub-commands; this file only dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys

# Must precede the first torch import; see README "Optical flow" (spinning OpenMP threads on shared CPUs).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def build_parser() -> argparse.ArgumentParser:
    from dualaction_lib import figures_job, workbook
    from dualaction_lib.data import cli as data_cli
    from dualaction_lib.engine import cli as engine_cli

    parser = argparse.ArgumentParser(prog="python -m dualaction_lib", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (data_cli, engine_cli, workbook, figures_job):
        module.register(subparsers)  # each adds its parsers with set_defaults(func=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

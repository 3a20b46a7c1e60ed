"""Command line: ``python -m dualaction_lib {prepare,train,evaluate,fuse,workbook,figures} ...``.

Each sub-package registers its own sub-commands; this file only dispatches. Every command takes
``--debug`` and ``--progress`` / ``--no-progress``; a failure is one line on stderr and an exit code
(see ``dualaction_lib/errors.py``: 1 failed, 2 wrong command line / config / plan, 130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import argparse
import sys

from dualaction_lib.errors import (
    ArgumentParser,
    add_common_options,
    debug_requested,
    normalize_progress,
    run_command,
)


def build_parser() -> argparse.ArgumentParser:
    from dualaction_lib import figures_job, plan_runs
    from dualaction_lib.data import cli as data_cli
    from dualaction_lib.engine import cli as engine_cli

    parser = ArgumentParser(prog="python -m dualaction_lib", description=__doc__)
    add_common_options(parser)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (data_cli, engine_cli, plan_runs, figures_job):
        module.register(subparsers)  # each adds its parsers with set_defaults(func=handler)
    for sub in subparsers.choices.values():
        add_common_options(sub, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (a failure: one line on stderr, never a traceback
    unless ``--debug`` or ``DUALACTION_DEBUG=1``)."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def command() -> int:
        args = build_parser().parse_command(normalize_progress(argv))
        return int(args.func(args) or 0)

    return run_command(command, debug_requested(argv))


if __name__ == "__main__":
    sys.exit(main())

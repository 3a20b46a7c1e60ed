"""How a failure reaches the user: exceptions that carry an exit code, one-line messages, the CLI handler.

Every command of ``python -m dualaction_lib`` runs under :func:`run_command`: a failure prints ONE line,
``error: <file or key>: <what was expected> (<how to fix it>)``, on stderr and exits with

====  ===========================================================================================
0     success
1     the command could not complete: a missing or damaged file (run directory, checkpoint,
      scores, frames), a locked run directory, a failed notebook, or an unexpected error
2     the command line, a config or a plan is wrong: unknown option or key, wrong type, value out
      of range, missing preset, unreadable plan, bad ``--set`` (:class:`UsageError`)
130   interrupted by Ctrl-C (SIGINT)
143   stopped by SIGTERM
====  ===========================================================================================

``--debug`` (any position) or ``DUALACTION_DEBUG=1`` prints the traceback before that line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import NoReturn

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
DEBUG_ENV = "DUALACTION_DEBUG"
MAX_MESSAGE = 800  # characters of the one-line message; --debug shows everything


class UserError(Exception):
    """A refusal the user can act on: its message is printed as is, on one line, with exit code 1."""

    exit_code = EXIT_ERROR


class UsageError(UserError):
    """The command line, a config file or a plan is wrong (exit code 2)."""

    exit_code = EXIT_USAGE


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that ``finally`` blocks (locks, temp files) run."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are a :class:`UsageError` (one line) instead of usage text + exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def parse_command(self, argv: list[str]) -> argparse.Namespace:
        """``parse_args``, except that a sub-command whose defaults hold ``overrides=[]`` keeps the tokens
        it does not know (``--section.key value``) in ``args.overrides``, for ``parse_cli_overrides``."""
        args, extras = self.parse_known_args(argv)
        if extras and getattr(args, "overrides", None) is None:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        args.overrides = extras
        return args


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, Terminated):
        return EXIT_TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, UserError):
        return exc.exit_code
    return EXIT_ERROR


# Exceptions whose message is written for the user; others get their type name in front.
_PLAIN = (UserError, OSError, ValueError)


def one_line(exc: BaseException) -> str:
    """The exception as one line: a multi-line message is joined, an errno message names its file."""
    if isinstance(exc, Terminated):
        return str(exc) or "stopped by SIGTERM"
    if isinstance(exc, KeyboardInterrupt):
        return str(exc) or "interrupted (Ctrl-C)"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror and _is_errno_text(exc):
        text = f"{exc.filename}: {exc.strerror.lower()}"
        if exc.filename2 is not None:
            text += f" ({exc.filename2})"
    else:
        text = _join_lines(str(exc))
    plain = isinstance(exc, _PLAIN) or type(exc).__module__.startswith("dualaction_lib")
    if not text:
        text = type(exc).__name__
    elif not plain:
        text = f"{type(exc).__name__}: {text} (rerun with --debug for the traceback)"
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 40].rstrip() + " … (cut; --debug shows the full message)"
    return text


def _is_errno_text(exc: OSError) -> bool:
    """True when str(exc) is Python's '[Errno N] text: path' (not a message written by our code)."""
    return str(exc).startswith("[Errno")


def _join_lines(text: str) -> str:
    """'head:\\n  item a\\n  item b' → 'head: item a; item b' (indented details become a list)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = ""
    for line in lines:
        if not out:
            out = line
        elif out.endswith((":", ";", ",")):
            out += " " + line
        else:
            out += "; " + line
    return out


def add_common_options(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """The options every command takes, before or after the sub-command: ``--debug`` and
    ``--progress`` / ``--no-progress`` (bars on or off; default: the preset's ``progress``, else on).

    On a sub-command (``top=False``) they default to "not given", so they never undo the global flag.
    """
    unset = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--debug", action="store_true", help=f"print the traceback of a failure (or set {DEBUG_ENV}=1)",
        **({"default": False} if top else unset),
    )  # fmt: skip
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, help="progress bars on or off",
        **({"default": None} if top else unset),
    )  # fmt: skip


_BOOL_WORDS = {
    **dict.fromkeys(("true", "yes", "on", "1"), True),
    **dict.fromkeys(("false", "no", "off", "0"), False),
}


def normalize_progress(argv: list[str]) -> list[str]:
    """The older spelling ``--progress false`` / ``--progress=true`` → ``--no-progress`` / ``--progress``."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token, value = argv[i], None
        if token.startswith("--progress=") and token[11:].lower() in _BOOL_WORDS:
            value = _BOOL_WORDS[token[11:].lower()]
        elif token == "--progress" and i + 1 < len(argv) and argv[i + 1].lower() in _BOOL_WORDS:
            value = _BOOL_WORDS[argv[i + 1].lower()]
            i += 1
        out.append(token if value is None else ("--progress" if value else "--no-progress"))
        i += 1
    return out


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "").lower() not in ("", "0", "false", "no")


def report(exc: BaseException, debug: bool) -> int:
    """Print the traceback (debug only) and the one-line message on stderr; return the exit code."""
    sys.stdout.flush()
    if debug:
        traceback.print_exception(exc)
    print(f"error: {one_line(exc)}", file=sys.stderr, flush=True)
    return exit_code(exc)


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread while the command runs (then restore)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(command: Callable[[], int | None], debug: bool) -> int:
    """Run a CLI command: its exit code, or one line on stderr and the failure's exit code.

    ``SystemExit`` (``--help``) passes through untouched.
    """
    try:
        with sigterm_as_exception():
            return int(command() or 0)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the CLI's last word on every failure, Ctrl-C included
        return report(exc, debug)

"""Follow ``evaluate(run_dir)`` through the code: which modules it enters, how often, in what order.

Trains a tiny RGB run of the smoke preset (seconds), then traces ``evaluate`` on it with
``sys.settrace``. A *stop* is a step from a function of one module of the package into another module,
counted once per (caller function, callee module) -- as when reading the code: a loop over videos, or
three calls from one function into one module, is one stop. A module's *entries* are the stops that land
in it. The goal (docs/architecture.md,
"Data path") is at most two entries per module.

    python bench/module_entries.py                   # prints the path and the per-module counts
    python bench/module_entries.py --json out.json   # also writes them
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dualaction_lib.config import load_config  # noqa: E402
from dualaction_lib.engine import evaluate, train  # noqa: E402

PACKAGE = "dualaction_lib"


def _module(frame) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name == PACKAGE or name.startswith(PACKAGE + ".") else None


def _is_method(code) -> bool:
    """A method called on an object the caller holds (constructing an object is not one)."""
    constructor = code.co_name in ("__init__", "__post_init__", "__new__")
    return not constructor and code.co_argcount > 0 and code.co_varnames[0] in ("self", "cls")


def _enclosing(frame):
    """The nearest package frame at or above ``frame`` that is a named function: a comprehension,
    generator expression or lambda belongs to the function that holds it (or that iterates it)."""
    while frame is not None and (_module(frame) is None or frame.f_code.co_name.startswith("<")):
        frame = frame.f_back
    return frame


def trace_stops(function, *args, **kwargs) -> list[tuple[str, str, bool]]:
    """(caller ``module:function``, callee module, callee is a method) of calls crossing modules, in
    first-call order, once per (caller, callee module, method or not)."""
    seen: dict[tuple[str, str, bool], None] = {}

    def tracer(frame, event, arg):
        if event != "call":
            return None
        callee = _module(frame)
        if callee is None:
            return None
        caller_frame = _enclosing(frame.f_back)
        caller = _module(caller_frame) if caller_frame is not None else None
        if caller is not None and caller != callee:
            key = (f"{caller}:{caller_frame.f_code.co_name}", callee, _is_method(frame.f_code))
            seen.setdefault(key, None)
        return None

    sys.settrace(tracer)
    try:
        function(*args, **kwargs)
    finally:
        sys.settrace(None)
    return list(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {
            "data.root": f"{tmp}/raw",
            "data.frames_root": f"{tmp}/frames",
            "out_dir": f"{tmp}/runs",
            "model.pretrained": "",
            "model.init": "scratch",
            "optim.epochs": 1,
        }
        run = train(load_config("smoke", method="rgb", **dirs))
        stops = trace_stops(evaluate, run)
    every = Counter(callee for _, callee in dict.fromkeys((a, b) for a, b, _ in stops))
    functions = Counter(callee for _, callee in dict.fromkeys((a, b) for a, b, m in stops if not m))
    for caller, callee, method in stops:
        print(f"  {caller} -> {callee}{' (a method of an object it holds)' if method else ''}")
    payload = {}
    for name, entries in (("every call", every), ("module functions and classes only", functions)):
        print(f"\n{name}: {sum(entries.values())} stops in {len(entries)} modules; entries per module:")
        for module, count in entries.most_common():
            print(f"  {count:3d}  {module}")
        print(f"most entries: {max(entries.values())}")
        payload[name] = {"stops": sum(entries.values()), "modules": len(entries), "entries": dict(entries)}
    if args.json:
        args.json.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()

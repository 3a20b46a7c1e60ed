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


def trace_stops(function, *args, **kwargs) -> list[tuple[str, str]]:
    """(caller ``module:function``, callee module) pairs, in first-call order, of calls crossing modules."""
    seen: dict[tuple[str, str], None] = {}

    def tracer(frame, event, arg):
        if event != "call":
            return None
        callee = _module(frame)
        if callee is None:
            return None
        caller_frame = frame.f_back
        while caller_frame is not None and _module(caller_frame) is None:  # through torch, stdlib, ...
            caller_frame = caller_frame.f_back
        caller = _module(caller_frame) if caller_frame is not None else None
        if caller is not None and caller != callee:
            key = (f"{caller}:{caller_frame.f_code.co_name}", callee)
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
    entries = Counter(callee for _, callee in stops)
    for caller, callee in stops:
        print(f"  {caller} -> {callee}")
    print(f"\n{len(stops)} stops in {len(entries)} modules; entries per module:")
    for module, count in entries.most_common():
        print(f"  {count:3d}  {module}")
    print(f"most entries: {max(entries.values())}")
    if args.json:
        payload = {"stops": len(stops), "modules": len(entries), "entries": dict(entries.most_common())}
        args.json.write_text(json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    main()

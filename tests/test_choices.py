"""Allowed values are written once, in ``dualaction_lib/choices.py``: no other source spells one of its
sets out again (as a tuple, list, set or ``Literal``); they read it with ``typing.get_args``."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

from dualaction_lib import choices

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for p in (ROOT / "dualaction_lib").rglob("*.py") if p.name != "choices.py"]
ALIASES = {
    name: frozenset(typing.get_args(value))
    for name, value in vars(choices).items()
    if typing.get_origin(value) is typing.Literal and len(typing.get_args(value)) > 1
}


def spelled_sets(tree: ast.AST) -> list[tuple[int, frozenset]]:
    """(line, values) of every tuple, list, set or Literal[...] of two or more constants."""
    found = []
    for node in ast.walk(tree):
        items = None
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if items and len(items) > 1 and all(isinstance(i, ast.Constant) for i in items):
            found.append((node.lineno, frozenset(i.value for i in items)))
    return sorted(set(found), key=lambda item: item[0])  # a Literal's slice is also a tuple


def test_the_scan_sees_tuples_lists_and_literals():
    text = 'a = ("round", "truncate")\nb = Literal["sgd", "adamw"]\nc = ["x", "y"]\nd = ("skip",)\n'
    assert spelled_sets(ast.parse(text)) == [
        (1, frozenset({"round", "truncate"})),
        (2, frozenset({"sgd", "adamw"})),
        (3, frozenset({"x", "y"})),
    ]
    assert ALIASES["Rounding"] == {"round", "truncate"} and "Crops" in ALIASES


def test_no_module_spells_out_a_set_of_allowed_values_again():
    copies = [
        f"{path.relative_to(ROOT)}:{line} repeats choices.{name}"
        for path in SOURCES
        for line, values in spelled_sets(ast.parse(path.read_text(encoding="utf-8")))
        for name, allowed in ALIASES.items()
        if values == allowed
    ]
    assert not copies, "read these with typing.get_args(choices.X): " + "; ".join(copies)

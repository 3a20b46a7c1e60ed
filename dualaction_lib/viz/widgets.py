"""One helper turns a view function into either a widget-driven figure or a saved static figure.

A *view* is ``view(**choices) -> Figure``. ``show_view(view, controls, interactive=...)``:
- ``interactive=True``: ipywidgets controls (built from ``controls``) re-render the figure on change;
- ``interactive=False`` (papermill batch): the view runs once with each control's default value, the figure
  is saved to ``figures/<name>.png/.pdf`` and shown as a plain image; no widget is created.

Both functions display what they show and return ``None``. Returning the widget box (or the Figure) made
every view appear twice when the call ends a notebook cell, as it does in the notebooks: IPython displays
a cell's last value, so the box was shown by ``display`` and again as the cell's result (a second live
copy of the controls and the figure), and a returned Figure becomes a second image as soon as pyplot's
inline formatter is registered (any ``import matplotlib.pyplot``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.figure import Figure

from .core import display_figure, save_figure
from .tables import Table, to_markdown, write_table

View = Callable[..., Figure]


def dropdown(options: Sequence[Any], value: Any = None, description: str = "") -> dict[str, Any]:
    """A control spec: choose one of ``options`` (default: the first)."""
    options = list(options)
    return {
        "kind": "dropdown",
        "options": options,
        "value": options[0] if value is None else value,
        "description": description,
    }


def slider(low: int, high: int, value: int | None = None, step: int = 1, description: str = "") -> dict:
    """A control spec: an integer in [low, high]."""
    return {
        "kind": "slider",
        "min": low,
        "max": high,
        "step": step,
        "value": low if value is None else value,
        "description": description,
    }


def default_choices(controls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: spec["value"] for name, spec in controls.items()}


def build_widget(name: str, spec: dict[str, Any]):
    import ipywidgets as w

    label = spec.get("description") or name
    style = {"description_width": "initial"}
    if spec["kind"] == "dropdown":
        return w.Dropdown(options=spec["options"], value=spec["value"], description=label, style=style)
    if spec["kind"] == "slider":
        return w.IntSlider(
            min=spec["min"],
            max=spec["max"],
            step=spec["step"],
            value=spec["value"],
            description=label,
            continuous_update=False,
            style=style,
        )
    raise ValueError(f"unknown control kind {spec['kind']!r}")


def show_view(
    view: View,
    controls: dict[str, dict[str, Any]],
    *,
    interactive: bool,
    name: str | None = None,
    figures_dir: str | os.PathLike | None = None,
) -> None:
    """Show ``view`` live with widgets, or (batch) render it once, save it as ``name`` and display it.

    Exactly one figure is on screen per call: the widget box (controls above one output area that each
    change redraws in place), or one static image. Returns ``None`` (see the module docstring).
    """
    if not interactive:
        fig = view(**default_choices(controls))
        if name:
            save_figure(fig, name, figures_dir)
        display_figure(fig)
        return
    import ipywidgets as w
    from IPython.display import display

    boxes = {key: build_widget(key, spec) for key, spec in controls.items()}

    def render(**choices):
        display_figure(view(**choices))

    out = w.interactive_output(render, boxes)
    box = w.VBox([w.HBox(list(boxes.values())), out])
    box.add_class("dualaction-view")
    display(box)


def show_table(table: Table, figures_dir: str | os.PathLike) -> None:
    """Write ``table`` as Markdown and LaTeX to ``figures_dir`` and display its Markdown once."""
    from IPython.display import Markdown, display

    write_table(table, figures_dir)
    display(Markdown(to_markdown(table)))


def show_figure(
    fig: Figure, name: str, *, interactive: bool, figures_dir: str | os.PathLike | None = None
) -> None:
    """Display a static figure once; in batch (``interactive=False``) also save it as ``name``."""
    if not interactive:
        save_figure(fig, name, figures_dir)
    display_figure(fig)

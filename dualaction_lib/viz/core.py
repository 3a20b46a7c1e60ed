"""Figure creation, atomic saving (PNG + PDF) and backend-independent display."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from matplotlib.figure import Figure

from dualaction_lib.io import atomic_write_bytes, project_root

FORMATS = ("png", "pdf")
DPI = 120


def figures_dir(directory: str | os.PathLike | None = None) -> Path:
    """``directory``, else ``$DUALACTION_FIGURES``, else ``<project root>/figures``."""
    if directory:
        return Path(directory)
    env = os.environ.get("DUALACTION_FIGURES")
    if env:
        return Path(env)
    return project_root() / "figures"


def new_figure(width: float = 8.0, height: float = 4.0, **kwargs) -> Figure:
    """A Figure not registered with pyplot (no implicit display, no backend choice, no leak)."""
    return Figure(figsize=(width, height), layout=kwargs.pop("layout", "constrained"), **kwargs)


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=DPI, metadata=_metadata(fmt))
    return buffer.getvalue()


def _metadata(fmt: str) -> dict:
    # Fixed metadata keeps regenerated PDFs byte-stable (no creation date) and so diff-friendly.
    return {"CreationDate": None} if fmt == "pdf" else {}


def save_figure(fig: Figure, name: str, directory: str | os.PathLike | None = None) -> list[Path]:
    """Write ``<figures>/<name>.png`` and ``.pdf`` atomically; returns the paths written."""
    out = figures_dir(directory)
    paths = []
    for fmt in FORMATS:
        path = out / f"{name}.{fmt}"
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        paths.append(path)
    return paths


def display_figure(fig: Figure) -> None:
    """Show a figure in a notebook as one PNG (works under any backend, including Agg).

    A figure made with pyplot (a view written by a user, say) is closed in pyplot once shown, or the
    inline backend would show it a second time at the end of the cell.
    """
    from IPython.display import Image, display

    display(Image(data=figure_bytes(fig, "png"), format="png"))
    pyplot = sys.modules.get("matplotlib.pyplot")  # only set if pyplot is in use: never import it here
    if pyplot is not None and getattr(fig.canvas, "manager", None) is not None:
        pyplot.close(fig)

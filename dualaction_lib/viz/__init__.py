"""Figures and tables of the workbook. Every figure function returns a ``matplotlib.figure.Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly (never pyplot), so library code neither picks
nor forces a backend and nothing is displayed behind the caller's back. ``save_figure(fig, name)`` writes
``figures/<name>.png`` and ``.pdf`` atomically; ``widgets.show_view`` shows a view either live (widgets) or
as a saved static figure (batch).
"""

from __future__ import annotations

from .core import display_figure, figures_dir, new_figure, save_figure

__all__ = ["display_figure", "figures_dir", "new_figure", "save_figure"]

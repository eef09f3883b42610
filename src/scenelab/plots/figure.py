"""What every figure shares: a figure on its own Agg canvas (pyplot is never imported, so
no backend is chosen and no global state changes), its title and labels, and the atomic
PNG write."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenelab.data.listfile import category_name
from scenelab.files import atomic_path
from scenelab.safetext import plot_text

FIGURE_SIZE = (6.4, 4.2)
DPI = 110


def subplots(*grid: int, figsize: tuple[float, float] = FIGURE_SIZE, **options: Any) -> tuple:
    """A new figure on its own Agg canvas and its axes, as `pyplot.subplots` gives them."""
    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(*grid, **options)


def save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    return save_figure(figure, path)


def save_figure(figure: Figure, path: Path) -> Path:
    """Write the figure atomically (its format from the name's suffix); no pyplot state
    holds it, so it is freed with its last reference."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path


def titled(title: str, subject: str, untitled: str = "") -> str:
    """'TITLE: subject' for a user's title (made safe), else `untitled` or 'Subject'."""
    if title:
        return f"{plot_text(title)}: {subject}"
    return untitled or subject[:1].upper() + subject[1:]


def label_axes(axes: Any, xlabel: str, ylabel: str, title: str, **legend: Any) -> None:
    """The axis labels, the title, a light grid and the legend."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(**legend)


def class_label(classes: Sequence[str], index: int) -> str:
    """'/f/field/cultivated' -> 'field/cultivated'; plain names pass through."""
    name = classes[index] if 0 <= index < len(classes) else str(index)
    return plot_text(category_name(name).replace("_", " "))  # without the letter folder

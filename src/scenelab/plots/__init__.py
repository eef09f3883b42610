"""Every figure scenelab draws. Each has a title, labelled axes with units and a legend,
and is saved as PNG through matplotlib's Agg canvas, attached to each figure: pyplot is never
imported, so no backend is chosen and no global state changes (a notebook keeps its own).
Titles, class and run names are user text and go through `safetext.plot_text`, so they are
never parsed as mathtext.

One module per kind of figure: `curves` (training and comparison), `examples` (saliency and
adversarial examples), `evaluation` (confusion matrix, reliability diagram); `figure` holds
what they share."""

from scenelab.plots.curves import (
    plot_accuracy_curves,
    plot_loss_curves,
    plot_lr_schedule,
    plot_robust_accuracy,
    plot_run_comparison,
)
from scenelab.plots.evaluation import plot_confusion_matrix, plot_reliability_diagram
from scenelab.plots.examples import plot_adversarial_grid, plot_epsilon_sweep, plot_saliency_grid

__all__ = [
    "plot_accuracy_curves",
    "plot_adversarial_grid",
    "plot_confusion_matrix",
    "plot_epsilon_sweep",
    "plot_loss_curves",
    "plot_lr_schedule",
    "plot_reliability_diagram",
    "plot_robust_accuracy",
    "plot_run_comparison",
    "plot_saliency_grid",
]

"""The deletion test of conclusion 5 (scenelab.study.focus) on any runs, at several shares
of deleted pixels: top-1 with the most salient pixels blanked against as many random ones.

    python scripts/saliency_deletion.py DATA RUN [RUN ...]

The study measures one share (10%) on SimpleNet; this shows how the answer moves with the
share and the model. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys

import torch

from scenelab.document import markdown_table
from scenelab.errors import ScenelabError, user_message
from scenelab.explain.saliency import BATCH_SIZE, channel_max_abs, gradient, predicted_classes
from scenelab.runs import evaluation_dataset, load_run, spread_indices, stack_images
from scenelab.safetext import terminal_lines
from scenelab.study.focus import FOCUS_IMAGES, measure_focus

SHARES = (0.02, 0.1, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="dataset root (its val split is used)")
    parser.add_argument("runs", nargs="+", help="run folders")
    args = parser.parse_args()
    device = torch.device("cpu")
    rows = []
    for run in args.runs:
        loaded = load_run(run, device)
        dataset, _ = evaluation_dataset(loaded, args.data, "val")
        images, labels = stack_images(dataset, spread_indices(len(dataset), FOCUS_IMAGES))
        pixels = images.float().div(255)
        predicted = predicted_classes(loaded.model, pixels, BATCH_SIZE)
        maps = channel_max_abs(gradient(loaded.model, pixels, predicted, batch_size=BATCH_SIZE))
        for share in SHARES:
            generator = torch.Generator().manual_seed(0)
            focus = measure_focus(loaded.model, pixels, labels, maps, generator, share)
            salient = focus.clean_top1 - focus.salient_top1
            random = focus.clean_top1 - focus.random_top1
            rows.append(
                [
                    loaded.folder.name,
                    f"{share:.0%}",
                    f"{focus.clean_top1:.2f}",
                    f"{focus.salient_top1:.2f}",
                    f"{focus.random_top1:.2f}",
                    f"{salient / random:.2f}" if random > 0 else "random does not lower top-1",
                ]
            )
    header = [
        "run",
        "deleted",
        "clean top-1",
        "salient deleted",
        "random deleted",
        "salient / random drop",
    ]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    try:
        main()
    except (ScenelabError, OSError) as error:  # a bad run folder or dataset: one line
        sys.exit(f"saliency_deletion: error: {terminal_lines(user_message(error))}")

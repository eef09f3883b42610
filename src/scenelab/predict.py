"""The top classes and their probabilities for each image: `scenelab predict`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from scenelab.checkpoint import (
    check_classes,
    checkpoint_classes,
    load_model,
    resolve_checkpoint,
)
from scenelab.data import build_dataset, build_loader
from scenelab.data.decode import IMAGE_EXTENSIONS, UndecodableImage, decode_rgb
from scenelab.device import pick_device
from scenelab.errors import ScenelabError
from scenelab.evaluate import (
    DEFAULT_TOP_K,
    eval_transform_for,
    predict_probabilities,
)
from scenelab.files import output_file, write_text
from scenelab.metrics import check_top_k
from scenelab.options import command_argv, option
from scenelab.runs import run_folder_of
from scenelab.safetext import csv_cell, terminal

PRINTED_ROWS = 20  # the CSV has every image; the terminal gets the first ones


@dataclass(frozen=True)
class PredictOptions:
    """`scenelab predict`: a run folder or checkpoint, and image files or a dataset split
    (one of ``images`` and ``data``)."""

    run: str = option(positional=True)
    images: tuple[str, ...] | None = option(None)
    data: str | None = option(None)
    split: str = option("test")
    top_k: int | None = option(None)  # default 5, or the class count
    out: str | None = option(None)  # default RUN/predictions.csv
    batch_size: int = option(256)
    workers: int = option(0)
    device: str = option("auto")

    def to_argv(self) -> list[str]:
        return command_argv(["predict"], self)


@dataclass(frozen=True)
class Predictions:
    header: list[str]  # image, true_class, class_1, probability_1, ...
    rows: list[list[str]]
    path: Path  # the CSV


class ImageFiles(Dataset):
    """Image files given by path, decoded and transformed; label -1 (unknown)."""

    def __init__(self, paths: list[Path], transform: Callable[[torch.Tensor], torch.Tensor]):
        self.paths = [str(path) for path in paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        try:
            image = decode_rgb(self.paths[index])
        except UndecodableImage as error:
            raise ScenelabError(f"--images: cannot decode {error}") from None
        return self.transform(image), -1


def expand_image_paths(paths: list[str]) -> list[Path]:
    """Files as given; a folder stands for the image files directly inside it, sorted."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(p for p in given.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        elif given.is_file():
            found.append(given)
        else:
            raise ScenelabError(f"--images: {given}: no such file or folder")
    if not found:
        raise ScenelabError(f"--images: no image files in {', '.join(paths)}")
    return found


def predict(options: PredictOptions) -> Predictions:
    """The whole `scenelab predict`: the top-k classes of every image, to a CSV."""
    device = pick_device(options.device)
    checkpoint = resolve_checkpoint(options.run)
    model, state = load_model(checkpoint, device=device)
    classes = checkpoint_classes(state)
    top_k = check_top_k(
        min(DEFAULT_TOP_K, len(classes)) if options.top_k is None else options.top_k, len(classes)
    )
    transform = eval_transform_for(state)
    if options.images:
        dataset = ImageFiles(expand_image_paths(list(options.images)), transform)
    else:
        dataset = build_dataset(options.data, options.split, transform=transform)
        check_classes(state, dataset.classes, checkpoint)
    names = getattr(dataset, "paths", None) or [f"{options.split}/{i}" for i in range(len(dataset))]
    loader = build_loader(
        dataset, options.batch_size, shuffle=False, workers=options.workers, seed=0
    )

    header = ["image", "true_class"]
    for rank in range(1, top_k + 1):
        header += [f"class_{rank}", f"probability_{rank}"]
    rows, position = [], 0
    for images, labels in loader:
        probabilities, indices = predict_probabilities(model, images.to(device)).topk(top_k)
        for label, top_p, top_i in zip(
            labels.tolist(), probabilities.tolist(), indices.tolist(), strict=True
        ):
            row = [names[position], classes[label] if label >= 0 else ""]
            for index, probability in zip(top_i, top_p, strict=True):
                row += [classes[index], f"{probability:.4f}"]
            rows.append(row)
            position += 1

    out = (
        output_file(options.out) if options.out else run_folder_of(options.run) / "predictions.csv"
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    write_text(out, buffer.getvalue())
    print(format_predictions(rows[:PRINTED_ROWS], top_k))
    if len(rows) > PRINTED_ROWS:
        print(f"... {len(rows) - PRINTED_ROWS} more")
    print(terminal(f"wrote the top-{top_k} classes of {len(rows)} images to {out}"))
    return Predictions(header, rows, out)


def format_predictions(rows: list[list[str]], top_k: int) -> str:
    """One line per image: its name, then `class probability%` for each of the top k,
    shown with `safetext.terminal`."""
    lines = []
    for row in rows:
        image, true_class, ranked = row[0], row[1], row[2:]
        guesses = ", ".join(
            f"{ranked[2 * i]} {100 * float(ranked[2 * i + 1]):.1f}%" for i in range(top_k)
        )
        truth = f" (true: {true_class})" if true_class else ""
        lines.append(terminal(f"{Path(image).name}{truth}: {guesses}"))
    return "\n".join(lines)

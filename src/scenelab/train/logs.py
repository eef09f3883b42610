"""What a run reports: metrics.csv (one row per epoch), TensorBoard scalars, and a
progress bar per epoch (plain log lines when stdout is not a terminal)."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scenelab.files import write_text

# metrics.csv columns, in order. Accuracies are percentages; memory is in MiB;
# skipped_images counts the undecodable images replaced since the process started.
METRIC_COLUMNS = (
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_top1",
    "train_top5",
    "val_loss",
    "val_top1",
    "val_top5",
    "epoch_time_s",
    "images_per_s",
    "peak_memory_mib",
    "skipped_images",
)
# Added with --adv: robust val accuracy (percent) and 1 where training collapsed.
ADV_COLUMNS = ("val_robust_top1", "val_robust_top5", "adv_collapsed")
PLAIN_LOG_FRACTION = 0.1  # without a terminal, one line per tenth of an epoch


def write_metrics_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite the whole file from ``rows``, so that a resumed run never repeats an epoch."""
    buffer = io.StringIO()
    columns = metric_columns(rows[0]) if rows else METRIC_COLUMNS
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def metric_columns(row: dict[str, Any]) -> tuple[str, ...]:
    """The columns of a metrics row: the standard ones, then those of --adv if present."""
    return METRIC_COLUMNS + tuple(column for column in ADV_COLUMNS if column in row)


class TensorBoardLog:
    """Scalars per epoch under ``train/``, ``val/`` and ``run/``, x axis = epoch."""

    def __init__(self, run_dir: Path, first_epoch: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run wrote after its last checkpoint.
        self.writer = SummaryWriter(str(run_dir), purge_step=first_epoch + 1)

    def add_epoch(self, row: dict[str, Any]) -> None:
        epoch = row["epoch"]
        for column in metric_columns(row)[2:]:
            group, _, name = column.partition("_")
            tag = f"{group}/{name}" if group in ("train", "val") else f"run/{column}"
            self.writer.add_scalar(tag, row[column], epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class EpochProgress:
    """Loss, images/s and ETA while an epoch runs: a tqdm bar on a terminal, else a log line
    every tenth of the epoch."""

    def __init__(self, epoch: int, epochs: int, batches: int, done: int = 0) -> None:
        self.label = f"epoch {epoch + 1}/{epochs}"
        self.batches = batches
        self.done = done
        self.first = done  # a resumed epoch starts part-way through
        self.images = 0
        self.started = time.perf_counter()
        self.next_line = self._next_line_after(done)
        self.bar = (
            tqdm(total=batches, initial=done, desc=self.label, file=sys.stdout, leave=False)
            if sys.stdout.isatty()
            else None
        )

    def _next_line_after(self, done: int) -> int:
        step = max(1, round(self.batches * PLAIN_LOG_FRACTION))
        return (done // step + 1) * step

    def update(self, loss: float, images: int) -> None:
        self.done += 1
        self.images += images
        rate = self.images / max(time.perf_counter() - self.started, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", img_s=f"{rate:.0f}", refresh=False)
            self.bar.update(1)
        elif self.done >= self.next_line or self.done == self.batches:
            elapsed = time.perf_counter() - self.started
            eta = elapsed / (self.done - self.first) * (self.batches - self.done)
            print(
                f"{self.label} {self.done}/{self.batches} loss {loss:.4f} "
                f"{rate:.0f} images/s eta {_clock(eta)}",
                flush=True,
            )
            self.next_line = self._next_line_after(self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

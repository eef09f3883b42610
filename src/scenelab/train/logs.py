"""What a run reports: metrics.csv (one row per epoch), TensorBoard scalars, a progress
bar per epoch (plain log lines when stdout is not a terminal), the epoch lines and the
final table (logged: scenelab.log), and the plots."""

from __future__ import annotations

import csv
import io
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from scenelab import plots
from scenelab.files import write_text
from scenelab.log import console_shows
from scenelab.train.schedule import WarmupCosineSchedule, warmup_cosine_lr

# metrics.csv columns, in order. Accuracies are percentages; memory is in MiB;
# skipped_images counts the undecodable images replaced since the process started.
log = logging.getLogger(__name__)

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
# Added with --ema: the averaged weights' val metrics.
EMA_COLUMNS = ("val_ema_loss", "val_ema_top1", "val_ema_top5")
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
    """The columns of a metrics row: the standard ones, then those of --adv and --ema if
    present."""
    return METRIC_COLUMNS + tuple(column for column in ADV_COLUMNS + EMA_COLUMNS if column in row)


HPARAM_METRICS = ("val_loss", "val_top1", "val_top5")  # of the last epoch, beside the best top-1


class TensorBoardLog:
    """Scalars per epoch under ``train/``, ``val/`` and ``run/``, x axis = epoch."""

    def __init__(self, run_dir: Path, first_epoch: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step drops events a killed run wrote after its last checkpoint.
        self.writer = SummaryWriter(str(run_dir), purge_step=first_epoch + 1)

    def add_epoch(self, row: dict[str, Any]) -> None:
        epoch = row["epoch"]
        for column in metric_columns(row)[2:]:
            if math.isnan(row[column]):
                continue  # not validated this epoch (--val-every)
            group, _, name = column.partition("_")
            tag = f"{group}/{name}" if group in ("train", "val") else f"run/{column}"
            self.writer.add_scalar(tag, row[column], epoch)
        self.writer.flush()

    def add_hparams(self, settings: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """The run's settings beside its final and best val metrics, for TensorBoard's
        HParams tab (in the run folder's ``hparams/``)."""
        shown = {
            key: value if isinstance(value, (bool, int, float, str)) else str(value)
            for key, value in settings.items()
        }
        final = history[-1]
        metrics = {f"hparam/final_{name}": final[name] for name in HPARAM_METRICS}
        metrics["hparam/best_val_top1"] = max(row["val_top1"] for row in validated(history))
        self.writer.add_hparams(shown, metrics, run_name="hparams")

    def close(self) -> None:
        self.writer.close()


def log_interval(batches: int) -> int:
    """Steps between two reads of the loss (and of the non-finite guard): a tenth of an
    epoch, the interval of the plain log lines."""
    return max(1, round(batches * PLAIN_LOG_FRACTION))


class EpochProgress:
    """Loss, images/s and ETA while an epoch runs: a tqdm bar on a terminal, else a log line
    every `log_interval`. Steps are counted as they finish (`advance`); the loss, which
    lives on the device, is shown when the loop reads it (`show`)."""

    def __init__(self, epoch: int, epochs: int, batches: int, done: int = 0) -> None:
        self.label = f"epoch {epoch + 1}/{epochs}"
        self.batches = batches
        self.done = done
        self.first = done  # a resumed epoch starts part-way through
        self.images = 0
        self.started = time.perf_counter()
        self.bar = (
            tqdm(total=batches, initial=done, desc=self.label, file=sys.stdout, leave=False)
            if sys.stdout.isatty() and console_shows(logging.INFO)
            else None
        )

    def advance(self, images: int) -> None:
        self.done += 1
        self.images += images
        if self.bar is not None:
            self.bar.update(1)

    def show(self, loss: float) -> None:
        rate = self.images / max(time.perf_counter() - self.started, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", img_s=f"{rate:.0f}")
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / max(self.done - self.first, 1) * (self.batches - self.done)
        log.info(
            f"{self.label} {self.done}/{self.batches} loss {loss:.4f} "
            f"{rate:.0f} images/s eta {_clock(eta)}",
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def validated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the epochs that were validated (--val-every leaves NaN in the others)."""
    return [row for row in rows if not math.isnan(row["val_top1"])]


def format_epoch(row: dict[str, Any], epochs: int) -> str:
    val = (
        f"val loss {row['val_loss']:.4f} top-1 {row['val_top1']:.2f}% top-5 {row['val_top5']:.2f}%"
        if validated([row])
        else "not validated"
    )
    return (
        f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f} "
        f"top-1 {row['train_top1']:.2f}%  {val}  lr {row['lr']:.4g}  "
        f"{row['epoch_time_s']:.1f} s  {row['images_per_s']:.0f} images/s"
    ) + "".join(
        f"  {name} top-1 {row[column]:.2f}%"
        for name, column in (("robust", "val_robust_top1"), ("ema", "val_ema_top1"))
        if column in row
    )


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'epoch':>5} {'lr':>9} {'train loss':>10} {'train top-1':>11} "
        f"{'val loss':>9} {'val top-1':>9} {'val top-5':>9} {'time s':>7} {'images/s':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        val = (
            f"{row['val_loss']:>9.4f} {row['val_top1']:>8.2f}% {row['val_top5']:>8.2f}%"
            if validated([row])
            else f"{'-':>9} {'-':>9} {'-':>9}"  # not validated (--val-every)
        )
        lines.append(
            f"{row['epoch']:>5} {row['lr']:>9.3g} {row['train_loss']:>10.4f} "
            f"{row['train_top1']:>10.2f}% {val} {row['epoch_time_s']:>7.1f} "
            f"{row['images_per_s']:>8.0f}"
        )
    return "\n".join(lines)


def plot_run(
    rows: list[dict[str, Any]],
    schedule: WarmupCosineSchedule,
    steps_per_epoch: int,
    warmup_epochs: float,
    folder: Path,
    title: str,
) -> None:
    """plots/: top-1, top-5, loss, the learning rate, and robust accuracy under --adv."""
    plots.plot_accuracy_curves(rows, 1, folder / "top1.png", title)
    plots.plot_accuracy_curves(rows, 5, folder / "top5.png", title)
    plots.plot_loss_curves(rows, folder / "loss.png", title)
    if "val_robust_top1" in rows[-1]:
        plots.plot_robust_accuracy(rows, folder / "robust.png", title)
    total = schedule.total_steps
    lrs = [
        warmup_cosine_lr(step, schedule.base_lr, schedule.warmup_steps, total)
        for step in range(total)
    ]
    epochs = [(step + 1) / steps_per_epoch for step in range(total)]
    plots.plot_lr_schedule(epochs, lrs, warmup_epochs, folder / "lr.png", title)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

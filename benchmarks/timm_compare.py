"""scenelab's trainer beside timm's own train.py, ResNet-18 on the same images and settings.

    python benchmarks/timm_compare.py --timm-python VENV/bin/python --timm-train train.py \
        [--root ../shared/data/miniplaces20] [--steps 10] [--repeats 3]

timm is not a scenelab dependency: give the python of an environment where timm is
installed and the path of timm's train.py (it is not in the wheel; take it from the
pytorch-image-models repository). Both sides train ResNet-18 from scratch, 20 classes,
128x128, batch 64, two epochs on the same STEPS x 64 training images of ROOT (the subset of
benchmarks/train.py), SGD with momentum, no augmentation (scenelab `--augment none`, timm
`--no-aug`: resize and centre crop), one loader process, the machine's threads; in
float32 and in bf16 autocast + channels_last. Each side's number is its second epoch's
training images/s (timm: the running average its last `Train: 1` log line prints;
scenelab: metrics.csv). Runs alternate (timm first on odd repeats, scenelab first on even
ones) and the table gives medians.

train.py versions without a --device flag assume CUDA; a shim run before it makes the CPU
the default device without changing any training code.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import (  # benchmarks/train.py
    BATCH,
    DEFAULT_ROOT,
    IMAGE_SIZE,
    PRECISIONS,
    median_cells,
    subset_folder,
    subset_lines,
    trainer_images_per_s,
)

# Run timm's train.py as __main__ with the CPU as the default device of its loops.
CPU_SHIM = """
import sys, torch
path = sys.argv.pop(1)
sys.path.insert(0, __import__("os").path.dirname(path))
import train
cpu = torch.device("cpu")
for function in (train.train_one_epoch, train.validate):
    names = function.__code__.co_varnames[: function.__code__.co_argcount]
    defaults = list(function.__defaults__)
    if "device" in names:
        defaults[names.index("device") - (len(names) - len(defaults))] = cpu
        function.__defaults__ = tuple(defaults)
train.parser.set_defaults(device="cpu")
train.main()
"""
TIMM_FLAGS = {
    "float32": [],
    "bf16+channels_last": ["--amp", "--amp-dtype", "bfloat16", "--channels-last"],
}
AVERAGE = re.compile(r"^Train: 1 .*\(\s*[0-9.]+s,\s*([0-9.]+)/s\)", re.MULTILINE)


def image_folder(root: Path, steps: int, folder: Path) -> Path:
    """The images of benchmarks/train.py's `subset_lines` as class folders of symbolic
    links, the layout timm reads."""
    for split, lines in subset_lines(root, steps).items():
        for line in lines:
            relative, label = line.rsplit(" ", 1)
            target = folder / split / f"{int(label):03d}" / Path(relative).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to((root / "images" / relative).resolve())
    return folder


def timm_images_per_s(args: argparse.Namespace, data: Path, precision: str, out: Path) -> float:
    command = [
        str(args.timm_python), "-c", CPU_SHIM, str(args.timm_train.resolve()),
        "--data-dir", str(data), "--train-split", "train", "--val-split", "val",
        "--model", "resnet18", "--num-classes", str(len(list((data / "train").iterdir()))),
        "--img-size", str(IMAGE_SIZE), "-b", str(BATCH), "--epochs", "2",
        "--opt", "momentum", "--lr", "0.025", "--momentum", "0.9", "--weight-decay", "1e-4",
        "--sched", "cosine", "--warmup-epochs", "0", "--cooldown-epochs", "0",
        "--smoothing", "0", "--no-aug", "-j", str(args.workers), "--log-interval", "1",
        "--checkpoint-hist", "1", "--output", str(out), *TIMM_FLAGS[precision],
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=out)
    averages = AVERAGE.findall(done.stdout + done.stderr)
    if done.returncode != 0 or not averages:
        tail = (done.stdout + done.stderr)[-2000:]
        raise SystemExit(f"timm's train.py failed (exit {done.returncode}):\n{tail}")
    return float(averages[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timm-python", type=Path, required=True)
    parser.add_argument("--timm-train", type=Path, required=True, help="timm's train.py")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--steps", type=int, default=10, help="steps per epoch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    args.augment = "none"  # what trainer_images_per_s reads
    results: dict[str, dict[str, list[float]]] = {p: {"timm": [], "ours": []} for p in PRECISIONS}
    with tempfile.TemporaryDirectory() as folder:
        data = image_folder(args.root, args.steps, Path(folder) / "images")
        (Path(folder) / "miniplaces").mkdir()
        ours_data = subset_folder(args.root, args.steps, Path(folder) / "miniplaces")
        torch.set_num_threads(args.threads)
        for repeat in range(args.repeats):
            for precision, (amp, channels_last) in PRECISIONS.items():
                sides = ("timm", "ours") if repeat % 2 == 0 else ("ours", "timm")
                for side in sides:
                    if side == "timm":
                        out = Path(folder) / "timm" / f"{repeat}-{precision}"
                        out.mkdir(parents=True)
                        value = timm_images_per_s(args, data, precision, out)
                    else:
                        value = trainer_images_per_s(  # decoding every epoch, as timm does
                            ours_data, "resnet18", amp, channels_last, False, args
                        )
                    results[precision][side].append(value)
                print(
                    f"repeat {repeat + 1}/{args.repeats} {precision}: timm "
                    f"{results[precision]['timm'][-1]:.1f}, scenelab "
                    f"{results[precision]['ours'][-1]:.1f} images/s",
                    flush=True,
                )

    print(
        f"\nresnet18, batch {BATCH}, {IMAGE_SIZE}x{IMAGE_SIZE}, {args.threads} compute "
        f"thread(s), {args.workers} loader process(es), medians of {args.repeats}\n"
    )
    print("| precision | timm train.py images/s | scenelab images/s | scenelab / timm |")
    print("| --- | ---: | ---: | ---: |")
    for precision, row in results.items():
        print(f"| {precision} | {median_cells(row['timm'], row['ours'])} |")


if __name__ == "__main__":
    main()

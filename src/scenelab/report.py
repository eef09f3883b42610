"""The study's report: DIR/report.md and a self-contained DIR/report.html.

Everything is read back from what the experiments left in the output folder (run
folders, JSON, figures), so the report can be rewritten at any time and says "not run
yet" for what is missing. Each section states its settings, its wall time and the
command that reruns it alone.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from scenelab import __version__
from scenelab.attacks.adversarial import ROBUST_VAL_IMAGES, ROBUST_VAL_STEPS
from scenelab.compare import read_run
from scenelab.document import Block, Code, Figure, Heading, Paragraph, Table, to_html, to_markdown
from scenelab.epsilon import in_levels
from scenelab.files import write_text
from scenelab.reproduce import (
    BLOCK_MODELS,
    CONV_PAIR,
    CONV_STUDY,
    FINE_TUNED,
    SECTIONS,
    Plan,
    Section,
    Timings,
    attack_argv,
    bench_argv,
    best_block_run,
    command_line,
    eval_argv,
    saliency_argv,
)
from scenelab.safetext import markdown, markdown_code

NOT_YET = "Not run yet."


def write_report(plan: Plan, timings: Timings) -> tuple[Path, Path]:
    """Write report.md and report.html into the plan's folder; return their paths."""
    blocks = header(plan)
    for section in SECTIONS:
        blocks.append(Heading(f"{section.number}. {section.title}"))
        blocks += settings_block(plan, section, timings)
        blocks.append(Paragraph(f"Rerun alone: {markdown_code(plan.command(only=section.number))}"))
        blocks += BUILDERS[section.number](plan)
    report_md, page = plan.out / "report.md", plan.out / "report.html"
    write_text(report_md, to_markdown(blocks, plan.out))
    write_text(page, to_html(blocks, f"scenelab study: {Path(plan.data).name}, {plan.budget.name}"))
    return report_md, page


def header(plan: Plan) -> list[Block]:
    budget = plan.budget
    attacked = "all" if budget.attack_images is None else str(budget.attack_images)
    return [
        Heading(
            f"scenelab study report: {markdown(Path(plan.data).name)}, {budget.name} budget", 1
        ),
        Paragraph(
            f"Made by {markdown_code(plan.command())} with scenelab {__version__}, "
            f"torch {torch.__version__}, "
            f"Python {platform.python_version()}, on {platform.machine()} "
            f"({plan.threads()} CPU thread(s) outside training"
            f"{', ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ''}); "
            f"written {datetime.datetime.now().isoformat(timespec='seconds')}."
        ),
        Paragraph(
            f"Budget **{budget.name}** ({budget.meant_for}): every run trains {budget.epochs} "
            f"epochs, batch {budget.batch_size}, {budget.image_size}x{budget.image_size} images, "
            f"with SGD, warm-up and cosine decay; {attacked} val images are attacked. Finished "
            "runs are reused when the command is run again and stopped ones are resumed; "
            "delete a run folder under `runs/` (or choose another `--out`) to redo it. Wall "
            "times are those of this machine when each step ran."
        ),
    ]


# --- settings -------------------------------------------------------------------------

SETTINGS_HEADER = ["model", "epochs", "batch", "image size", "device", "precision", "wall time"]


def settings_block(plan: Plan, section: Section, timings: Timings) -> list[Block]:
    seconds = timings.section_seconds(section.number)
    wall = "not run yet" if seconds is None else format_seconds(seconds)
    if not section.runs:
        return [Table(SETTINGS_HEADER, [[*bench_settings(plan), wall]])]
    configs = [run_config(plan.run_dir(name)) for name in section.runs]
    configs = [config for config in configs if config]
    if not configs:
        return [Table(SETTINGS_HEADER, [["-"] * 6 + [wall]])]

    def values(key: str, show: Callable[[Any], str] = str) -> str:
        return ", ".join(dict.fromkeys(show(config[key]) for config in configs))

    row = [
        ", ".join(describe_model(config) for config in configs),
        values("epochs"),
        values("batch_size"),
        values("image_size", lambda size: f"{size}x{size}"),
        values("device", device_name),
        values("amp", lambda amp: "float32" if amp == "off" else f"{amp} autocast"),
        wall,
    ]
    return [Table(SETTINGS_HEADER, [row])]


def describe_model(config: dict[str, Any]) -> str:
    """simplenet, simplenet (custom conv), simplenet (adversarial, pgd), ..."""
    notes = []
    if config.get("conv") == "custom":
        notes.append("custom conv")
    if config.get("pretrained"):
        notes.append("fine-tuned")
    if config.get("adv", "none") != "none":
        notes.append(f"adversarial, {config['adv']}")
    return config["model"] + (f" ({', '.join(notes)})" if notes else "")


def bench_settings(plan: Plan) -> list[str]:
    bench = read_json(plan.out / "conv" / "bench.json")
    if bench is None:
        return ["SimpleNet", "-", "-", "-", "-", "-"]
    settings = bench["settings"]
    size = settings["image_size"]
    return [
        "SimpleNet (benchmark); small convolutions (check)",
        "-",
        str(settings["batch_size"]),
        f"{size}x{size}",
        settings["device"],
        f"{settings['dtype']} (benchmark), float64 gradcheck, float32 parity",
    ]


def device_name(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def run_config(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "config.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"


def commands(*argvs: list[str]) -> Code:
    return Code("\n".join(command_line(argv) for argv in argvs))


def figure(path: Path, caption: str, wide: bool = False) -> list[Block]:
    return [Figure(path, caption, wide)] if path.is_file() else []


# --- the sections -------------------------------------------------------------------


def conv_section(plan: Plan) -> list[Block]:
    blocks: list[Block] = []
    checks = read_json(plan.out / "conv" / "check.json")
    if checks is None:
        blocks.append(Paragraph(NOT_YET))
    else:
        passed = sum(check["gradcheck_passed"] for check in checks)
        errors = ("output_error", "grad_input_error", "grad_weight_error", "grad_bias_error")
        largest = max(check[key] for check in checks for key in errors)
        blocks += [
            Paragraph(
                f"`torch.autograd.gradcheck` (float64, finite differences) accepts the "
                f"hand-written backward for **{passed} of {len(checks)}** convolutions; the "
                f"largest absolute difference from `F.conv2d` (float32, output and the three "
                f"gradients) is **{largest:.2e}**. The randomised, exhaustive version of both "
                "checks is `pytest tests/ops`."
            ),
            Table(
                [
                    "convolution",
                    "gradcheck",
                    "output",
                    "grad input",
                    "grad weight",
                    "grad bias",
                ],
                [
                    [
                        check["case"]["name"],
                        "passed" if check["gradcheck_passed"] else "FAILED",
                        *(f"{check[key]:.2e}" for key in errors),
                    ]
                    for check in checks
                ],
            ),
        ]
    bench = read_json(plan.out / "conv" / "bench.json")
    if bench is not None:
        settings = bench["settings"]
        blocks += [
            Paragraph(
                f"Benchmark, custom (unfold/fold) vs native: medians of {settings['repeats']} "
                f"interleaved repeats, peak memory of {settings['memory_repeats']} "
                "(RSS added on the CPU, allocated on a GPU); ratios are custom / native."
            ),
            Table(
                [
                    "layer",
                    "forward native ms",
                    "forward custom ms",
                    "backward native ms",
                    "backward custom ms",
                    "time ratio",
                    "peak MB native",
                    "peak MB custom",
                    "memory ratio",
                ],
                [bench_row(row) for row in bench["rows"]],
            ),
        ]
    blocks.append(commands(bench_argv(plan)))
    return blocks


def bench_row(row: dict[str, Any]) -> list[str]:
    forward, backward, peak = row["forward_ms"], row["backward_ms"], row["peak_mb"]
    total = {impl: forward[impl] + backward[impl] for impl in ("native", "custom")}
    memory_ratio = peak["custom"] / peak["native"] if peak["native"] else math.nan
    return [
        row["name"],
        f"{forward['native']:.1f}",
        f"{forward['custom']:.1f}",
        f"{backward['native']:.1f}",
        f"{backward['custom']:.1f}",
        f"{total['custom'] / total['native']:.2f}",
        f"{peak['native']:.0f}",
        f"{peak['custom']:.0f}",
        "n/a" if math.isnan(memory_ratio) else f"{memory_ratio:.2f}",
    ]


def simplenet_section(plan: Plan) -> list[Block]:
    run_dir = plan.run_dir("simplenet")
    if not (run_dir / "metrics.csv").is_file():
        return [Paragraph(NOT_YET), commands_train(plan, "simplenet")]
    rows = read_run(run_dir).rows
    last = rows[-1]
    best = max(rows, key=lambda row: row["val_top1"])
    plots = run_dir / "plots"
    return [
        Table(
            [
                "epochs",
                "final train top-1 (%)",
                "final val top-1 (%)",
                "final val top-5 (%)",
                "best val top-1 (%)",
                "best epoch",
                "seconds per epoch",
                "train images/s",
            ],
            [
                [
                    str(int(last["epoch"])),
                    pct(last["train_top1"]),
                    pct(last["val_top1"]),
                    pct(last["val_top5"]),
                    pct(best["val_top1"]),
                    str(int(best["epoch"])),
                    f"{mean(row['epoch_time_s'] for row in rows):.1f}",
                    f"{mean(row['images_per_s'] for row in rows):.0f}",
                ]
            ],
        ),
        *figure(plots / "top1.png", "SimpleNet: train and val top-1 per epoch"),
        *figure(plots / "top5.png", "SimpleNet: train and val top-5 per epoch"),
        *figure(plots / "loss.png", "SimpleNet: train and val loss per epoch"),
        commands_train(plan, "simplenet"),
    ]


def commands_train(plan: Plan, *names: str) -> Code:
    return Code("\n".join(plan.train_command(name) for name in names))


def mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def compare_table(folder: Path, memory: bool = False) -> Table:
    """The rows of compare.csv (written by `scenelab compare`). Peak memory only with
    ``memory``: runs trained in the reproducing process share its peak."""
    with (folder / "compare.csv").open(newline="") as file:
        table = list(csv.DictReader(file))
    header = ["run", "parameters", "seconds per epoch", "train images/s"]
    header += ["peak memory (MiB)"] * memory
    header += ["best val top-1 (%)", "final val top-1 (%)", "final val top-5 (%)"]
    rows = [
        [
            row["run"],
            f"{int(row['parameters']):,}",
            f"{float(row['wall_time_min']) * 60 / int(row['epochs']):.1f}",
            f"{float(row['images_per_s']):.0f}",
            *[f"{float(row['peak_memory_mib']):.0f}"] * memory,
            pct(float(row["best_val_top1"])),
            pct(float(row["final_val_top1"])),
            pct(float(row["final_val_top5"])),
        ]
        for row in table
    ]
    return Table(header, rows)


def conv_study_section(plan: Plan) -> list[Block]:
    folder = plan.run_dir(CONV_STUDY)
    compare = command_line(["compare", *(str(plan.run_dir(name)) for name in CONV_PAIR)])
    code = Code(f"{commands_train(plan, *CONV_PAIR).text}\n{compare} --out {folder}")
    study = read_json(folder / "study.json")
    if study is None:
        return [Paragraph(NOT_YET), code]
    return [
        Paragraph(
            "SimpleNet trained twice with the same seed, initial weights and batches, once with "
            "PyTorch's convolution and once with scenelab's `CustomConv2d`"
            + (", side by side (each with half the cores)" if plan.device_type() == "cpu" else "")
            + ". Ratios are custom / native; the time ratio is the median over epochs of "
            "training time per image."
        ),
        Table(
            [
                "time ratio",
                "memory ratio",
                "peak memory native (MiB)",
                "peak memory custom (MiB)",
                "largest val top-1 gap (points)",
                "at epoch",
            ],
            [
                [
                    f"{study['time_ratio']:.2f}",
                    f"{study['memory_ratio']:.2f}",
                    f"{study['native_peak_memory_mib']:.0f}",
                    f"{study['custom_peak_memory_mib']:.0f}",
                    f"{study['largest_val_top1_gap']:.2f}",
                    str(study["gap_epoch"]),
                ]
            ],
        ),
        compare_table(folder, memory=True),
        *figure(folder / "compare_top1.png", "Convergence: top-1 of the native and custom runs"),
        *figure(folder / "compare_loss.png", "Convergence: loss of the native and custom runs"),
        code,
    ]


def blocks_section(plan: Plan) -> list[Block]:
    folder = plan.out / "compare" / "blocks"
    runs = [str(plan.run_dir(name)) for name in BLOCK_MODELS]
    code = Code(
        f"{commands_train(plan, *BLOCK_MODELS).text}\n"
        f"{command_line(['compare', *runs, '--out', str(folder)])}"
    )
    if not (folder / "compare.csv").is_file():
        return [Paragraph(NOT_YET), code]
    return [
        Paragraph(
            "OurBestNet is a stem followed by 2, 3 or 4 Inception modules; deeper variants "
            "cost more time per epoch."
        ),
        compare_table(folder),
        *figure(
            folder / "compare_top1.png", "Convergence: top-1 of OurBestNet with 2, 3, 4 blocks"
        ),
        *figure(folder / "compare_loss.png", "Convergence: loss of OurBestNet with 2, 3, 4 blocks"),
        code,
    ]


def resnet_section(plan: Plan) -> list[Block]:
    folder = plan.out / "compare" / "resnet"
    names = ["resnet18", *([FINE_TUNED] if plan.pretrained else [])]
    if not (folder / "compare.csv").is_file():
        return [Paragraph(NOT_YET), commands_train(plan, *names)]
    best = best_block_run(plan)
    table = compare_table(folder)
    if not plan.pretrained:
        skipped = f"{FINE_TUNED}: skipped, fine-tuning needs --pretrained PATH"
        table.rows.insert(1, [skipped] + ["-"] * (len(table.header) - 1))
    runs = [str(plan.run_dir(name)) for name in [*names, best]]
    return [
        Paragraph(
            "ResNet-18 from scratch"
            + (
                f" and fine-tuned from {markdown_code(str(plan.pretrained))}"
                if plan.pretrained
                else " (the fine-tuned row needs ImageNet weights: a torchvision ResNet-18 "
                "state dict passed as `--pretrained PATH`; without it the row is skipped)"
            )
            + f", against the best OurBestNet of section 4 ({best}). Same recipe for all."
        ),
        table,
        *figure(folder / "compare_top1.png", f"Convergence: top-1 of ResNet-18 and {best}"),
        Code(
            f"{commands_train(plan, *names).text}\n"
            f"{command_line(['compare', *runs, '--out', str(folder)])}"
        ),
    ]


def evaluation_section(plan: Plan) -> list[Block]:
    run_dir = plan.run_dir("simplenet")
    result = read_json(run_dir / "eval.json")
    if result is None:
        return [Paragraph(NOT_YET), commands(eval_argv(plan))]
    k = result["top_k"]
    classes = result["per_class"]
    return [
        Paragraph(
            f"SimpleNet (section 2, checkpoint {markdown(Path(result['checkpoint']).name)}, "
            f"epoch {result['epoch']}) on the {markdown(str(result['split']))} split. Mean "
            "class accuracy and mAP weigh every class alike, which top-1 does not when "
            "classes are unbalanced."
        ),
        Table(
            [
                "images",
                "top-1 (%)",
                f"top-{k} (%)",
                "mean class accuracy (%)",
                "mAP (%)",
                "ECE (%)",
            ],
            [
                [
                    str(result["num_samples"]),
                    pct(result["top1"]),
                    pct(result[f"top{k}"]),
                    pct(result["mean_class_accuracy"]),
                    pct(result["mAP"]),
                    pct(result["ece"]),
                ]
            ],
        ),
        Table(
            ["class", "images", "accuracy (%)", "average precision (%)"],
            [
                [name, str(row["samples"]), pct(row["accuracy"]), pct(row["average_precision"])]
                for name, row in classes.items()
            ],
        ),
        *figure(
            run_dir / "confusion.png",
            "Confusion matrix of SimpleNet on the val split",
            wide=len(classes) > 20,
        ),
        *figure(run_dir / "calibration.png", "Reliability diagram of SimpleNet"),
        commands(eval_argv(plan)),
    ]


def robustness_section(plan: Plan) -> list[Block]:
    simplenet, adversarial = plan.run_dir("simplenet"), plan.run_dir("simplenet-adv")
    code = Code(
        "\n".join(
            [
                command_line(saliency_argv(plan)),
                command_line(attack_argv(plan, "simplenet")),
                plan.train_command("simplenet-adv"),
                command_line(attack_argv(plan, "simplenet-adv")),
            ]
        )
    )
    blocks: list[Block] = [Heading("Saliency", 3)]
    blocks += figure(
        simplenet / "plots" / "saliency_gradient.png",
        "Vanilla-gradient saliency of SimpleNet's predicted class (Simonyan et al. 2014)",
        wide=True,
    ) or [Paragraph(NOT_YET)]
    blocks.append(Heading("PGD attack on SimpleNet", 3))
    attack = read_json(simplenet / "attack.json")
    if attack is None:
        blocks.append(Paragraph(NOT_YET))
    else:
        blocks += attack_blocks(attack, simplenet)
    blocks.append(Heading("Adversarial training and Table 1", 3))
    blocks += adversarial_blocks(plan, attack, adversarial)
    blocks.append(code)
    return blocks


def attack_blocks(attack: dict[str, Any], run_dir: Path) -> list[Block]:
    settings = attack["attack"]
    rows = [["clean", pct(attack["clean"]["top1"]), pct(attack["clean"]["top5"]), "-"]]
    rows += [
        [
            row["epsilon_levels"]
            + (" (the attack)" if row["epsilon"] == settings["epsilon"] else ""),
            pct(row["top1"]),
            pct(row["top5"]),
            pct(row["success_rate"]),
        ]
        for row in attack["sweep"]
    ]
    return [
        Paragraph(
            f"L-infinity PGD in pixel space (Madry et al. 2017): {settings['steps']} steps of "
            f"{in_levels(settings['step_size'])}, target {markdown(str(settings['target']))}, "
            f"{'a random start' if settings['random_start'] else 'no random start'}, on "
            f"{attack['num_samples']} {markdown(str(attack['split']))} images. Success: "
            f"{attack['success_rate_means']}."
        ),
        Table(["epsilon", "top-1 (%)", "top-5 (%)", "success (%)"], rows),
        *figure(run_dir / "plots" / "attack_sweep.png", "Accuracy against epsilon"),
        *figure(
            run_dir / "plots" / "attack_examples.png",
            "Original, adversarial and amplified perturbation, with predictions",
        ),
    ]


def adversarial_blocks(plan: Plan, attack: dict[str, Any] | None, run_dir: Path) -> list[Block]:
    config = run_config(run_dir)
    adversarial_attack = read_json(run_dir / "attack.json")
    if config is None or not (run_dir / "metrics.csv").is_file():
        return [Paragraph(NOT_YET)]
    blocks: list[Block] = [
        Paragraph(
            f"SimpleNet trained on adversarial examples made on the fly for every batch: "
            f"{markdown(str(config['adv']))} with {config['adv_steps']} steps of "
            f"{in_levels(config['adv_step_size'])}, epsilon {in_levels(config['adv_epsilon'])}, "
            f"target {markdown(str(config['adv_target']))}; otherwise the recipe of section 2."
        )
    ]
    rows = read_run(run_dir).rows
    if "val_robust_top1" in rows[-1]:
        blocks.append(
            Paragraph(
                f"Each epoch the engine also attacks the first {ROBUST_VAL_IMAGES} val images "
                f"with {ROBUST_VAL_STEPS}-step untargeted PGD at the training epsilon."
            )
        )
        blocks.append(
            Table(
                ["epoch", "val top-1 (%)", "val top-1 under PGD (%)", "seconds"],
                [
                    [
                        str(int(row["epoch"])),
                        pct(row["val_top1"]),
                        pct(row["val_robust_top1"]),
                        f"{row['epoch_time_s']:.1f}",
                    ]
                    for row in rows
                ],
            )
        )
    curves = run_dir / "plots" / "robust.png"  # clean and robust val top-1, when logged
    if not curves.is_file():
        curves = run_dir / "plots" / "top1.png"
    blocks += figure(curves, "Adversarially trained SimpleNet: top-1 per epoch")
    if attack is None or adversarial_attack is None:
        return [*blocks, Paragraph(NOT_YET)]
    epsilon = in_levels(attack["attack"]["epsilon"])
    table = [
        [
            name,
            weights_of(result),
            pct(result["clean"]["top1"]),
            pct(result["clean"]["top5"]),
            pct(result["adversarial"]["top1"]),
            pct(result["adversarial"]["top5"]),
        ]
        for name, result in (
            ("SimpleNet", attack),
            ("SimpleNet, adversarially trained", adversarial_attack),
        )
    ]
    blocks += [
        Paragraph(
            f"**Table 1.** Clean and under-attack accuracy (PGD-{attack['attack']['steps']}, "
            f"epsilon {epsilon}, target {markdown(str(attack['attack']['target']))}) on the "
            f"same {attack['num_samples']} {markdown(str(attack['split']))} images. Each run's "
            "best.pt is attacked: the epoch of best val top-1, and for adversarial training "
            "the most robust epoch by the check above."
        ),
        Table(
            [
                "model",
                "weights",
                "clean top-1 (%)",
                "clean top-5 (%)",
                "PGD top-1 (%)",
                "PGD top-5 (%)",
            ],
            table,
        ),
    ]
    return blocks


def weights_of(attack: dict[str, Any]) -> str:
    """'best.pt, epoch 5'; '-' for an attack.json written before it recorded them."""
    if "checkpoint" not in attack:
        return "-"
    return f"{Path(attack['checkpoint']).name}, epoch {attack['epoch']}"


BUILDERS: dict[int, Callable[[Plan], list[Block]]] = {
    1: conv_section,
    2: simplenet_section,
    3: conv_study_section,
    4: blocks_section,
    5: resnet_section,
    6: evaluation_section,
    7: robustness_section,
}

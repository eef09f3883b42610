"""`scenelab attack RUN`: accuracy under PGD, an epsilon sweep and example images.

Writes ``attack.json`` in the run folder, ``plots/attack_sweep.png`` (accuracy against
epsilon) and ``plots/attack_examples.png`` (original, adversarial and amplified
perturbation with predictions, the study's Figure 13), and prints a summary table.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from scenelab import plots
from scenelab.attack_settings import default_step_size
from scenelab.attacks.guard import check_pixel_model
from scenelab.attacks.pgd import check_settings, pgd
from scenelab.attacks.robust import RobustAccuracy, robust_accuracy
from scenelab.data import build_loader
from scenelab.device import pick_device
from scenelab.epsilon import in_levels
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.options import command_argv, option, pixel_text, pixels_text
from scenelab.progress import progress
from scenelab.runs import LoadedRun, evaluation_dataset, load_run, spread_indices, stack_images
from scenelab.safetext import terminal

SUCCESS_MEANING = {
    True: "share of images (label other than the target) classified as the target",
    False: "share of the correctly classified images that the attack made wrong",
}
SWEEP = (0.0, 1 / 255, 2 / 255, 4 / 255, 6 / 255, 8 / 255)  # cli.attack.DEFAULT_SWEEP


@dataclass(frozen=True)
class AttackOptions:
    """`scenelab attack`: PGD on a run folder or checkpoint (the study's defaults)."""

    run: str = option(positional=True)
    data: str | None = option(None)  # default: the run's data
    split: str = option("val")
    epsilon: float = option(6 / 255, text=pixel_text)
    steps: int = option(10)
    step_size: float | None = option(None, text=pixel_text)  # default 2.5 * epsilon / steps
    target: str | int = option("least_likely")
    no_random_start: bool = option(False)
    restarts: int = option(1)
    sweep: tuple[float, ...] = option(SWEEP, text=pixels_text)
    limit: int | None = option(None)  # images spread evenly over the split; None: all
    examples: int = option(6)
    batch_size: int = option(128)
    workers: int = option(0)
    seed: int = option(0)
    device: str = option("auto")

    def to_argv(self) -> list[str]:
        return command_argv(["attack"], self)


@dataclass(frozen=True)
class AttackSettings:
    method: str
    norm: str
    epsilon: float
    epsilon_levels: str
    seed: int
    steps: int
    step_size: float
    random_start: bool
    restarts: int
    target: str | int


@dataclass(frozen=True)
class TopAccuracy:
    top1: float
    top5: float


@dataclass(frozen=True)
class SweepRow:
    epsilon: float
    epsilon_levels: str
    step_size: float
    top1: float
    top5: float
    success_rate: float | None


@dataclass(frozen=True)
class AttackRecord:
    """attack.json; percentages, None where undefined (NaN)."""

    run: str
    checkpoint: str | None  # None in an attack.json written before it recorded the weights
    epoch: int | None
    data: str
    split: str
    num_samples: int
    attack: AttackSettings
    clean: TopAccuracy
    adversarial: TopAccuracy
    success_rate: float | None
    success_rate_means: str
    mean_linf: float | None
    mean_l2: float | None
    sweep: list[SweepRow]
    plots: list[str]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AttackRecord:
        nested = {
            "attack": AttackSettings(**values["attack"]),
            "clean": TopAccuracy(**values["clean"]),
            "adversarial": TopAccuracy(**values["adversarial"]),
            "sweep": [SweepRow(**row) for row in values["sweep"]],
        }
        plain = {field.name: values.get(field.name) for field in dataclasses.fields(cls)}
        return cls(**{**plain, **nested})

    def to_dict(self) -> dict[str, Any]:
        return _nan_to_none(dataclasses.asdict(self))


def attack_run(options: AttackOptions) -> AttackRecord:
    """The whole `scenelab attack`: attack, write attack.json and the figures, print."""
    device = pick_device(options.device)
    run = load_run(options.run, device)
    settings = _attack_settings(options, run)
    dataset, spec = evaluation_dataset(run, options.data, options.split)
    indices = spread_indices(len(dataset), options.limit)
    epsilons = sorted({options.epsilon, *options.sweep})
    step_sizes = [
        settings["step_size"]
        if epsilon == options.epsilon
        else default_step_size(epsilon, options.steps, settings["random_start"])
        for epsilon in epsilons
    ]
    loader = build_loader(
        Subset(dataset, indices), options.batch_size, shuffle=False, workers=options.workers, seed=0
    )
    sweep = robust_accuracy(
        run.model,
        progress(loader, f"PGD-{options.steps}"),
        epsilons,
        step_sizes=step_sizes,
        generator=torch.Generator(device).manual_seed(options.seed),
        device=device,
        **{key: value for key, value in settings.items() if key != "step_size"},
    )
    main = next(report for report in sweep if report.epsilon == options.epsilon)

    title = f"{run.folder.name}: PGD-{options.steps} ({_target_name(options.target)})"
    sweep_plot = plots.plot_epsilon_sweep(
        [report.epsilon for report in sweep],
        [report.adversarial_top1 for report in sweep],
        [report.adversarial_top5 for report in sweep],
        run.folder / "plots" / "attack_sweep.png",
        title=f"{title}, {len(indices)} {options.split} images",
        marked_epsilon=options.epsilon,
    )
    examples = [indices[i] for i in spread_indices(len(indices), options.examples)]
    examples_plot = _examples_figure(run, dataset, examples, options, settings, device, title)
    record = AttackRecord(
        run=str(run.folder),
        checkpoint=str(run.checkpoint),
        epoch=run.epoch,
        data=spec,
        split=options.split,
        num_samples=main.num_samples,
        attack=AttackSettings(
            method="pgd",
            norm="linf",
            epsilon=options.epsilon,
            epsilon_levels=in_levels(options.epsilon),
            seed=options.seed,
            **settings,
        ),
        clean=TopAccuracy(main.clean_top1, main.clean_top5),
        adversarial=TopAccuracy(main.adversarial_top1, main.adversarial_top5),
        success_rate=main.success_rate,
        success_rate_means=SUCCESS_MEANING[options.target != "untargeted"],
        mean_linf=main.mean_linf,
        mean_l2=main.mean_l2,
        sweep=[_sweep_row(report) for report in sweep],
        plots=[str(sweep_plot), str(examples_plot)],
    )
    json_path = run.folder / "attack.json"
    write_json(json_path, record.to_dict())  # atomic; NaN becomes null
    _print_summary(sweep, options.epsilon, f"{title} on {len(indices)} {options.split} images")
    for path in (json_path, sweep_plot, examples_plot):
        print(terminal(f"wrote {path}"))
    return record


def _attack_settings(options: AttackOptions, run: LoadedRun) -> dict[str, Any]:
    """Check everything that can be checked before an image is decoded."""
    check_pixel_model(run.model)
    random_start = not options.no_random_start
    step_size = check_settings(
        options.epsilon, options.step_size, options.steps, random_start, options.restarts
    )
    if isinstance(options.target, int) and not 0 <= options.target < len(run.classes):
        raise ScenelabError(
            f"--target {options.target} is out of range: the run has {len(run.classes)} classes"
        )
    if options.examples < 1 or options.batch_size < 1:
        raise ScenelabError("--examples and --batch-size must be at least 1")
    return {
        "steps": options.steps,
        "step_size": step_size,
        "random_start": random_start,
        "restarts": options.restarts,
        "target": options.target,
    }


def _target_name(target: str | int) -> str:
    return f"target class {target}" if isinstance(target, int) else target.replace("_", "-")


def _examples_figure(
    run: LoadedRun,
    dataset: Dataset,
    indices: list[int],
    options: AttackOptions,
    settings: dict[str, Any],
    device: torch.device,
    title: str,
) -> Path:
    images, labels = stack_images(dataset, indices)
    images, labels = images.float().div(255).to(device), labels.to(device)
    result = pgd(
        run.model,
        images,
        labels,
        epsilon=options.epsilon,
        generator=torch.Generator(device).manual_seed(options.seed),
        **settings,
    )
    with torch.no_grad():
        clean = run.model(images).argmax(1)
    return plots.plot_adversarial_grid(
        images.cpu(),
        result.images.cpu(),
        true=labels.tolist(),
        clean_predicted=clean.tolist(),
        adversarial_predicted=result.logits.argmax(1).tolist(),
        targets=result.targets.tolist() if result.targeted else None,
        classes=run.classes,
        epsilon=options.epsilon,
        path=run.folder / "plots" / "attack_examples.png",
        title=f"{title}, epsilon {in_levels(options.epsilon)}",
    )


def _sweep_row(report: RobustAccuracy) -> SweepRow:
    return SweepRow(
        epsilon=report.epsilon,
        epsilon_levels=in_levels(report.epsilon),
        step_size=report.step_size,
        top1=report.adversarial_top1,
        top5=report.adversarial_top5,
        success_rate=report.success_rate,
    )


def _print_summary(sweep: list[RobustAccuracy], epsilon: float, heading: str) -> None:
    print(terminal(heading))
    print(f"{'epsilon':>9} {'top-1 %':>8} {'top-5 %':>8} {'success %':>10}")
    print(f"{'clean':>9} {sweep[0].clean_top1:8.2f} {sweep[0].clean_top5:8.2f}")
    for report in sweep:
        marker = "  <- the attack" if report.epsilon == epsilon else ""
        success = "-" if math.isnan(report.success_rate) else f"{report.success_rate:.2f}"
        print(
            f"{in_levels(report.epsilon):>9} {report.adversarial_top1:8.2f} "
            f"{report.adversarial_top5:8.2f} {success:>10}{marker}"
        )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value

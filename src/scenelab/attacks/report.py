"""`scenelab attack RUN`: accuracy under PGD, an epsilon sweep and example images.

Writes ``attack.json`` in the run folder, ``plots/attack_sweep.png`` (accuracy against
epsilon) and ``plots/attack_examples.png`` (original, adversarial and amplified
perturbation with predictions, the study's Figure 13), and prints a summary table.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from scenelab import plots
from scenelab.attack_settings import default_step_size
from scenelab.attacks.guard import check_pixel_model
from scenelab.attacks.pgd import check_settings, pgd
from scenelab.attacks.robust import RobustAccuracy, robust_accuracy
from scenelab.attacks.runs import Run, evaluation_dataset, load_run, spread_indices, stack_images
from scenelab.data import build_loader
from scenelab.device import pick_device
from scenelab.epsilon import in_levels
from scenelab.errors import ScenelabError
from scenelab.files import write_json
from scenelab.safetext import terminal

SUCCESS_MEANING = {
    True: "share of images (label other than the target) classified as the target",
    False: "share of the correctly classified images that the attack made wrong",
}


def attack_report(args: argparse.Namespace) -> int:
    """The whole `scenelab attack` command; ``args`` as `scenelab.cli.attack` parses them."""
    device = pick_device(args.device)
    run = load_run(args.run, device)
    settings = _attack_settings(args, run)
    dataset, spec = evaluation_dataset(run, args.data, args.split)
    indices = spread_indices(len(dataset), args.limit)
    epsilons = sorted({args.epsilon, *args.sweep})
    step_sizes = [
        settings["step_size"]
        if epsilon == args.epsilon
        else default_step_size(epsilon, args.steps, settings["random_start"])
        for epsilon in epsilons
    ]
    loader = build_loader(
        Subset(dataset, indices), args.batch_size, shuffle=False, workers=args.workers, seed=0
    )
    sweep = robust_accuracy(
        run.model,
        loader,
        epsilons,
        step_sizes=step_sizes,
        generator=torch.Generator(device).manual_seed(args.seed),
        device=device,
        **{key: value for key, value in settings.items() if key != "step_size"},
    )
    main = next(report for report in sweep if report.epsilon == args.epsilon)

    title = f"{run.folder.name}: PGD-{args.steps} ({_target_name(args.target)})"
    sweep_plot = plots.plot_epsilon_sweep(
        [report.epsilon for report in sweep],
        [report.adversarial_top1 for report in sweep],
        [report.adversarial_top5 for report in sweep],
        run.folder / "plots" / "attack_sweep.png",
        title=f"{title}, {len(indices)} {args.split} images",
        marked_epsilon=args.epsilon,
    )
    examples = [indices[i] for i in spread_indices(len(indices), args.examples)]
    examples_plot = _examples_figure(run, dataset, examples, args, settings, device, title)
    record = {
        "run": str(run.folder),
        "checkpoint": str(run.checkpoint),
        "epoch": run.epoch,
        "data": spec,
        "split": args.split,
        "num_samples": main.num_samples,
        "attack": {
            "method": "pgd",
            "norm": "linf",
            "epsilon": args.epsilon,
            "epsilon_levels": in_levels(args.epsilon),
            "seed": args.seed,
            **settings,
        },
        "clean": {"top1": main.clean_top1, "top5": main.clean_top5},
        "adversarial": {"top1": main.adversarial_top1, "top5": main.adversarial_top5},
        "success_rate": main.success_rate,
        "success_rate_means": SUCCESS_MEANING[args.target != "untargeted"],
        "mean_linf": main.mean_linf,
        "mean_l2": main.mean_l2,
        "sweep": [_sweep_row(report) for report in sweep],
        "plots": [str(sweep_plot), str(examples_plot)],
    }
    json_path = run.folder / "attack.json"
    _write_json(json_path, record)
    _print_summary(sweep, args.epsilon, f"{title} on {len(indices)} {args.split} images")
    for path in (json_path, sweep_plot, examples_plot):
        print(terminal(f"wrote {path}"))
    return 0


def _attack_settings(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    """Check everything that can be checked before an image is decoded."""
    check_pixel_model(run.model)
    random_start = not args.no_random_start
    step_size = check_settings(
        args.epsilon, args.step_size, args.steps, random_start, args.restarts
    )
    if isinstance(args.target, int) and not 0 <= args.target < len(run.classes):
        raise ScenelabError(
            f"--target {args.target} is out of range: the run has {len(run.classes)} classes"
        )
    if args.examples < 1 or args.batch_size < 1:
        raise ScenelabError("--examples and --batch-size must be at least 1")
    return {
        "steps": args.steps,
        "step_size": step_size,
        "random_start": random_start,
        "restarts": args.restarts,
        "target": args.target,
    }


def _target_name(target: str | int) -> str:
    return f"target class {target}" if isinstance(target, int) else target.replace("_", "-")


def _examples_figure(
    run: Run,
    dataset: Dataset,
    indices: list[int],
    args: argparse.Namespace,
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
        epsilon=args.epsilon,
        generator=torch.Generator(device).manual_seed(args.seed),
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
        epsilon=args.epsilon,
        path=run.folder / "plots" / "attack_examples.png",
        title=f"{title}, epsilon {in_levels(args.epsilon)}",
    )


def _sweep_row(report: RobustAccuracy) -> dict[str, Any]:
    return {
        "epsilon": report.epsilon,
        "epsilon_levels": in_levels(report.epsilon),
        "step_size": report.step_size,
        "top1": report.adversarial_top1,
        "top5": report.adversarial_top5,
        "success_rate": report.success_rate,
    }


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


def _write_json(path: Path, record: dict[str, Any]) -> None:
    """Atomically (temporary file in the same folder, then a rename); NaN becomes null."""
    write_json(path, _nan_to_none(record))


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return value

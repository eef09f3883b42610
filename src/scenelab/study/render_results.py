"""The report's sections on results: 6 (the evaluation of SimpleNet) and 7 (saliency, PGD
attacks, adversarial training and the study's Table 1)."""

from __future__ import annotations

from pathlib import Path

from scenelab.attacks.adversarial import ROBUST_VAL_IMAGES, ROBUST_VAL_STEPS
from scenelab.attacks.report import AttackRecord
from scenelab.document import Block, Code, Heading, Paragraph, Table, pct
from scenelab.epsilon import in_levels
from scenelab.evaluate import EvalRecord
from scenelab.runs import read_run
from scenelab.safetext import markdown
from scenelab.study.plan import Plan, attack_options, eval_options, saliency_options
from scenelab.study.render import NOT_YET, commands, figure, read_record, run_config


def evaluation_section(plan: Plan) -> list[Block]:
    run_dir = plan.run_dir("simplenet")
    result = read_record(run_dir / "eval.json", EvalRecord.from_dict)
    if result is None:
        return [Paragraph(NOT_YET), commands(eval_options(plan))]
    k = result.top_k
    classes = result.per_class
    return [
        Paragraph(
            f"SimpleNet (section 2, checkpoint {markdown(Path(result.checkpoint).name)}, "
            f"epoch {result.epoch}) on the {markdown(str(result.split))} split. Mean "
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
                    str(result.num_samples),
                    pct(result.top1),
                    pct(result.top_k_accuracy),
                    pct(result.mean_class_accuracy),
                    pct(result.mAP),
                    pct(result.ece),
                ]
            ],
        ),
        Table(
            ["class", "images", "accuracy (%)", "average precision (%)"],
            [
                [name, str(row.samples), pct(row.accuracy), pct(row.average_precision)]
                for name, row in classes.items()
            ],
        ),
        *figure(
            run_dir / "confusion.png",
            "Confusion matrix of SimpleNet on the val split",
            wide=len(classes) > 20,
        ),
        *figure(run_dir / "calibration.png", "Reliability diagram of SimpleNet"),
        commands(eval_options(plan)),
    ]


def robustness_section(plan: Plan) -> list[Block]:
    simplenet, adversarial = plan.run_dir("simplenet"), plan.run_dir("simplenet-adv")
    code = Code(
        "\n".join(
            [
                commands(saliency_options(plan), attack_options(plan, "simplenet")).text,
                plan.train_command("simplenet-adv"),
                commands(attack_options(plan, "simplenet-adv")).text,
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
    attack = read_record(simplenet / "attack.json", AttackRecord.from_dict)
    if attack is None:
        blocks.append(Paragraph(NOT_YET))
    else:
        blocks += attack_blocks(attack, simplenet)
    blocks.append(Heading("Adversarial training and Table 1", 3))
    blocks += adversarial_blocks(plan, attack, adversarial)
    blocks.append(code)
    return blocks


def attack_blocks(attack: AttackRecord, run_dir: Path) -> list[Block]:
    settings = attack.attack
    rows = [["clean", pct(attack.clean.top1), pct(attack.clean.top5), "-"]]
    rows += [
        [
            row.epsilon_levels + (" (the attack)" if row.epsilon == settings.epsilon else ""),
            pct(row.top1),
            pct(row.top5),
            pct(row.success_rate),
        ]
        for row in attack.sweep
    ]
    return [
        Paragraph(
            f"L-infinity PGD in pixel space (Madry et al. 2017): {settings.steps} steps of "
            f"{in_levels(settings.step_size)}, target {markdown(str(settings.target))}, "
            f"{'a random start' if settings.random_start else 'no random start'}, on "
            f"{attack.num_samples} {markdown(str(attack.split))} images. Success: "
            f"{attack.success_rate_means}."
        ),
        Table(["epsilon", "top-1 (%)", "top-5 (%)", "success (%)"], rows),
        *figure(run_dir / "plots" / "attack_sweep.png", "Accuracy against epsilon"),
        *figure(
            run_dir / "plots" / "attack_examples.png",
            "Original, adversarial and amplified perturbation, with predictions",
        ),
    ]


def adversarial_blocks(plan: Plan, attack: AttackRecord | None, run_dir: Path) -> list[Block]:
    config = run_config(run_dir)
    adversarial_attack = read_record(run_dir / "attack.json", AttackRecord.from_dict)
    if config is None or not (run_dir / "metrics.csv").is_file():
        return [Paragraph(NOT_YET)]
    blocks: list[Block] = [
        Paragraph(
            f"SimpleNet trained on adversarial examples made on the fly for every batch: "
            f"{markdown(str(config.adv))} with {config.adv_steps} steps of "
            f"{in_levels(config.adv_step_size)}, epsilon {in_levels(config.adv_epsilon)}, "
            f"target {markdown(str(config.adv_target))}; otherwise the recipe of section 2"
            + (
                f", for {config.epochs} epochs against its {plan.budget.epochs} (PGD "
                "training learns slower: this budget's adversarial run is still rising at "
                f"{plan.budget.epochs})."
                if config.epochs != plan.budget.epochs
                else "."
            )
        )
    ]
    rows = read_run(run_dir).rows
    if "val_robust_top1" in rows[-1]:
        blocks.append(
            Paragraph(
                f"Each epoch the engine also attacks the first {ROBUST_VAL_IMAGES} val images "
                f"(all of them where there are fewer) with {ROBUST_VAL_STEPS}-step untargeted "
                "PGD at the training epsilon."
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
    epsilon = in_levels(attack.attack.epsilon)
    table = [
        [
            name,
            weights_of(result),
            pct(result.clean.top1),
            pct(result.clean.top5),
            pct(result.adversarial.top1),
            pct(result.adversarial.top5),
        ]
        for name, result in (
            ("SimpleNet", attack),
            ("SimpleNet, adversarially trained", adversarial_attack),
        )
    ]
    blocks += [
        Paragraph(
            f"**Table 1.** Clean and under-attack accuracy (PGD-{attack.attack.steps}, "
            f"epsilon {epsilon}, target {markdown(str(attack.attack.target))}) on the "
            f"same {attack.num_samples} {markdown(str(attack.split))} images. Both rows "
            "attack the weights of the run's last epoch (last.pt), one rule for both: "
            "best.pt is chosen by val top-1 for the one and by robust accuracy on the first "
            f"{ROBUST_VAL_IMAGES} val images (or all) for the other, which at a short budget "
            "picks noise."
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


def weights_of(attack: AttackRecord) -> str:
    """'best.pt, epoch 5'; '-' for an attack.json written before it recorded them."""
    if attack.checkpoint is None:
        return "-"
    return f"{Path(attack.checkpoint).name}, epoch {attack.epoch}"

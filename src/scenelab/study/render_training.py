"""The report's sections on training: 2 (SimpleNet), 4 (OurBestNet with 2, 3 and 4
Inception blocks) and 5 (ResNet-18 from scratch and fine-tuned vs the best OurBestNet)."""

from __future__ import annotations

from scenelab.document import Block, Code, Paragraph, Table, pct
from scenelab.runs import read_run
from scenelab.safetext import markdown_code
from scenelab.study.plan import (
    BLOCK_MODELS,
    FINE_TUNED,
    PRETRAINING,
    Plan,
    best_block_run,
    blocks_compare_options,
    resnet_compare_options,
    resnet_runs,
)
from scenelab.study.render import (
    NOT_YET,
    commands,
    commands_train,
    compare_table,
    figure,
    mean,
    read_record,
)
from scenelab.study.step_time import STEP_TIMES_FILE, StepTimes


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


def blocks_section(plan: Plan) -> list[Block]:
    options = blocks_compare_options(plan)
    folder = options.out_folder()
    code = Code(f"{commands_train(plan, *BLOCK_MODELS).text}\n{commands(options).text}")
    if not (folder / "compare.csv").is_file():
        return [Paragraph(NOT_YET), code]
    return [
        Paragraph("OurBestNet is a stem followed by 2, 3 or 4 Inception modules."),
        compare_table(folder),
        *step_times_blocks(read_record(folder / STEP_TIMES_FILE, StepTimes.from_dict)),
        *figure(
            folder / "compare_top1.png", "Convergence: top-1 of OurBestNet with 2, 3, 4 blocks"
        ),
        *figure(folder / "compare_loss.png", "Convergence: loss of OurBestNet with 2, 3, 4 blocks"),
        code,
    ]


def step_times_blocks(times: StepTimes | None) -> list[Block]:
    """The time each block count costs, measured side by side: the runs' wall times above
    depend on what else shared the machine while each trained."""
    if times is None:
        return []
    first = times.seconds[BLOCK_MODELS[0]]
    return [
        Paragraph(
            f"Time per training step, measured side by side after training (medians of "
            f"{times.repeats} interleaved steps on a batch of {times.batch_size} at "
            f"{times.image_size} px; the wall times above depend on what else ran meanwhile):"
        ),
        Table(
            ["model", "seconds per step", f"x {BLOCK_MODELS[0]}"],
            [
                [name, f"{times.seconds[name]:.3f}", f"{times.seconds[name] / first:.2f}"]
                for name in BLOCK_MODELS
            ],
        ),
    ]


def resnet_section(plan: Plan) -> list[Block]:
    folder = plan.out / "compare" / "resnet"
    names = resnet_runs(plan)
    if not (folder / "compare.csv").is_file():
        return [Paragraph(NOT_YET), commands_train(plan, *names)]
    best = best_block_run(plan)
    options = resnet_compare_options(plan)
    table = compare_table(folder)
    if not plan.fine_tunes():
        skipped = (
            f"{FINE_TUNED}: skipped, fine-tuning needs --pretrained PATH or --pretrain-data ROOT"
        )
        table.rows.insert(1, [skipped] + ["-"] * (len(table.header) - 1))
    return [
        Paragraph(
            f"ResNet-18 from scratch{fine_tuning(plan)}, against the best OurBestNet of "
            f"section 4 ({best}). Same recipe for all."
        ),
        table,
        *figure(folder / "compare_top1.png", f"Convergence: top-1 of ResNet-18 and {best}"),
        Code(f"{commands_train(plan, *names).text}\n{commands(options).text}"),
    ]


def fine_tuning(plan: Plan) -> str:
    """What the fine-tuned row starts from, or why there is none."""
    if plan.pretrained:
        return f" and fine-tuned from {markdown_code(str(plan.pretrained))}"
    if plan.pretrain_data:
        data = markdown_code(plan.pretrain_data)
        return (
            f" and fine-tuned from a ResNet-18 trained first on {data} (`{PRETRAINING}`, the "
            "same recipe), its classifier replaced"
        )
    return (
        " (the fine-tuned row needs pretrained weights: a torchvision ResNet-18 state dict "
        "passed as `--pretrained PATH`, or a second dataset to pretrain on, "
        "`--pretrain-data ROOT`; without either the row is skipped)"
    )

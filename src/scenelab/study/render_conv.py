"""The report's sections on the custom convolution: 1 (its correctness and cost) and 3
(custom vs native SimpleNet training)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scenelab.bench.conv import BenchResult, Row
from scenelab.document import Block, Code, Paragraph, Table
from scenelab.ops.check import ConvCase, ConvCheck
from scenelab.study.conv import ConvStudy
from scenelab.study.plan import (
    CONV_CONTROL,
    CONV_PAIR,
    CONV_STUDY,
    Plan,
    bench_options,
    conv_compare_options,
)
from scenelab.study.render import (
    NOT_YET,
    commands,
    commands_train,
    compare_table,
    figure,
    read_record,
)

ERRORS = ("output_error", "grad_input_error", "grad_weight_error", "grad_bias_error")


def read_checks(path: Path) -> list[ConvCheck] | None:
    """check.json (a list of `ConvCheck.to_dict()`) read back; None if absent."""
    if not path.is_file():
        return None
    checks = []
    for values in json.loads(path.read_text()):
        case = values["case"]
        case = ConvCase(**{**case, "kernel": tuple(case["kernel"]), "size": tuple(case["size"])})
        checks.append(ConvCheck(**{**values, "case": case}))
    return checks


def conv_section(plan: Plan) -> list[Block]:
    blocks: list[Block] = []
    checks = read_checks(plan.out / "conv" / "check.json")
    if checks is None:
        blocks.append(Paragraph(NOT_YET))
    else:
        passed = sum(check.gradcheck_passed for check in checks)
        largest = max(getattr(check, key) for check in checks for key in ERRORS)
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
                        check.case.name,
                        "passed" if check.gradcheck_passed else "FAILED",
                        *(f"{getattr(check, key):.2e}" for key in ERRORS),
                    ]
                    for check in checks
                ],
            ),
        ]
    bench = read_record(plan.out / "conv" / "bench.json", BenchResult.from_dict)
    if bench is not None:
        settings = bench.settings
        blocks += [
            Paragraph(
                "Benchmark, custom (im2col, matmul, col2im) vs native: medians of "
                f"{settings.repeats} "
                f"interleaved repeats, peak memory of {settings.memory_repeats} "
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
                [bench_row(row) for row in bench.rows],
            ),
        ]
    blocks.append(commands(bench_options(plan)))
    return blocks


def bench_row(row: Row) -> list[str]:
    forward, backward, peak = row.forward_ms, row.backward_ms, row.peak_mb
    total = {impl: forward[impl] + backward[impl] for impl in ("native", "custom")}
    memory_ratio = peak["custom"] / peak["native"] if peak["native"] else math.nan
    return [
        row.name,
        f"{forward['native']:.1f}",
        f"{forward['custom']:.1f}",
        f"{backward['native']:.1f}",
        f"{backward['custom']:.1f}",
        f"{total['custom'] / total['native']:.2f}",
        f"{peak['native']:.0f}",
        f"{peak['custom']:.0f}",
        "n/a" if math.isnan(memory_ratio) else f"{memory_ratio:.2f}",
    ]


def conv_study_section(plan: Plan) -> list[Block]:
    folder = plan.run_dir(CONV_STUDY)
    trained = commands_train(plan, *CONV_PAIR, CONV_CONTROL).text
    code = Code(f"{trained}\n{commands(conv_compare_options(plan)).text}")
    study = read_record(folder / "study.json", ConvStudy.from_dict)
    if study is None:
        return [Paragraph(NOT_YET), code]
    return [
        Paragraph(
            "SimpleNet trained twice with the same seed, initial weights and batches, once with "
            "PyTorch's convolution and once with scenelab's `CustomConv2d`"
            + (", side by side (each with half the cores)" if plan.device_type() == "cpu" else "")
            + ". Ratios are custom / native; the time ratio is the median over epochs of "
            "training time per image. The control trains the native convolution once more "
            "in the other memory layout (channels_last on one side), after the pair: only "
            "the order of the sums changes, so its gap to native is what rounding alone "
            "makes."
        ),
        Table(
            [
                "time ratio",
                "memory ratio",
                "peak memory native (MiB)",
                "peak memory custom (MiB)",
                "largest val top-1 gap (points)",
                "at epoch",
                "control gap (points)",
            ],
            [
                [
                    f"{study.time_ratio:.2f}",
                    f"{study.memory_ratio:.2f}",
                    f"{study.native_peak_memory_mib:.0f}",
                    f"{study.custom_peak_memory_mib:.0f}",
                    f"{study.largest_val_top1_gap:.2f}",
                    str(study.gap_epoch),
                    "-"
                    if study.control_largest_val_top1_gap is None
                    else f"{study.control_largest_val_top1_gap:.2f}",
                ]
            ],
        ),
        compare_table(folder, memory=True),
        *figure(
            folder / "compare_top1.png", "Convergence: top-1 of the native, custom and control runs"
        ),
        *figure(
            folder / "compare_loss.png", "Convergence: loss of the native, custom and control runs"
        ),
        code,
    ]

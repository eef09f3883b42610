"""`scenelab reproduce`: every section of the study, in order, restartable, then the report:
DIR/report.md and a self-contained DIR/report.html.

A second invocation reuses what the first made (see `scenelab.study.state`); comparisons
and the report are cheap and always redone. Each section of the report states its
settings, its wall time and the command that reruns it alone, and ends with its
verdicts on the study's conclusions; the report opens with the table of all seven.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from scenelab.data.layout import check_dataset
from scenelab.data.spec import dataset_name
from scenelab.document import Block, Heading, Paragraph, to_html, to_markdown
from scenelab.errors import ScenelabError
from scenelab.files import write_text
from scenelab.progress import progress
from scenelab.safetext import markdown_code, terminal
from scenelab.study.plan import BUDGETS, Plan
from scenelab.study.render import conclusions_block, header, settings_block, verdict_blocks
from scenelab.study.sections import SECTIONS
from scenelab.study.state import Timings

log = logging.getLogger(__name__)


def reproduce(plan: Plan, only: list[int] | None = None) -> tuple[Path, Path]:
    """Run the plan's sections (all, or those numbered in ``only``) and write the report;
    returns the paths of report.md and report.html."""
    unknown = sorted(set(only or []) - {section.number for section in SECTIONS})
    if unknown:
        raise ScenelabError(f"--only {unknown[0]}: sections are numbered 1 to {len(SECTIONS)}")
    if plan.pretrained and not Path(plan.pretrained).is_file():
        raise ScenelabError(f"--pretrained {plan.pretrained}: no such file")
    if plan.pretrained and plan.pretrain_data:
        raise ScenelabError("--pretrained and --pretrain-data: give one, the weights to fine-tune")
    check_dataset(plan.data)  # before section 1's minutes of benchmarks
    if plan.pretrain_data:
        check_dataset(plan.pretrain_data)
    plan.out.mkdir(parents=True, exist_ok=True)
    timings = Timings(plan.out / "timings.json")
    threads = torch.get_num_threads()
    torch.set_num_threads(plan.threads())
    try:
        chosen = [section for section in SECTIONS if not only or section.number in only]
        for section in progress(chosen, "study", unit="section"):
            log.info(f"== {section.number}. {section.title}")
            section.run(plan, timings)
    finally:
        torch.set_num_threads(threads)
    return write_report(plan, timings)


def write_report(plan: Plan, timings: Timings) -> tuple[Path, Path]:
    """Write report.md and report.html into the plan's folder; return their paths."""
    verdicts = {section.number: section.judge(plan) for section in SECTIONS}
    blocks: list[Block] = [*header(plan), *conclusions_block(verdicts)]
    for section in SECTIONS:
        blocks.append(Heading(f"{section.number}. {section.title}"))
        blocks += settings_block(plan, section.runs, timings.section_seconds(section.number))
        blocks.append(Paragraph(f"Rerun alone: {markdown_code(plan.command(only=section.number))}"))
        blocks += section.render(plan)
        blocks += verdict_blocks(verdicts[section.number])
    report_md, page = plan.out / "report.md", plan.out / "report.html"
    write_text(report_md, to_markdown(blocks, plan.out))
    write_text(
        page, to_html(blocks, f"scenelab study: {dataset_name(plan.data)}, {plan.budget.name}")
    )
    return report_md, page


def reproduce_study(
    *,
    data: str,
    budget: str,
    out: str | None,
    pretrained: str | None,
    device: str,
    pretrain_data: str | None,
    only: list[int] | None,
) -> tuple[Path, Path]:
    """The whole `scenelab reproduce`; ``out`` defaults to runs/reproduce-DATA-BUDGET."""
    if budget not in BUDGETS:
        raise ScenelabError(f"--budget must be one of {', '.join(BUDGETS)}, got {budget!r}")
    folder = Path(out) if out else Path("runs") / f"reproduce-{dataset_name(data)}-{budget}"
    plan = Plan(data, folder, BUDGETS[budget], pretrained, device, pretrain_data)
    markdown, html = reproduce(plan, only)
    print(terminal(f"the report is in {markdown} and {html}"))
    return markdown, html

"""Each section's verdicts on the study's conclusions, from the numbers it left in the
study folder (read through the dataclasses that wrote them) and the rules of
`scenelab.study.verdicts`."""

from __future__ import annotations

from scenelab.attacks.report import AttackRecord
from scenelab.compare import read_compare_table
from scenelab.data import build_dataset
from scenelab.evaluate import EvalRecord
from scenelab.runs import read_run
from scenelab.study import verdicts
from scenelab.study.conv import ConvStudy
from scenelab.study.focus import FOCUS_FILE, read_focus
from scenelab.study.plan import BLOCK_MODELS, CONV_STUDY, FINE_TUNED, Plan, blocks_compare_options
from scenelab.study.render import read_record, run_config
from scenelab.study.render_conv import ERRORS, read_checks
from scenelab.study.step_time import STEP_TIMES_FILE, StepTimes
from scenelab.study.verdicts import NOT_TESTED, Verdict

NOT_RUN = "not run yet"


def conv_check(plan: Plan) -> list[Verdict]:
    checks = read_checks(plan.out / "conv" / "check.json")
    if checks is None:
        return [Verdict(1, NOT_TESTED, NOT_RUN)]
    passed = sum(check.gradcheck_passed for check in checks)
    largest = max(getattr(check, key) for check in checks for key in ERRORS)
    return [verdicts.conv_check(passed, len(checks), largest)]


def simplenet(plan: Plan) -> list[Verdict]:
    run_dir = plan.run_dir("simplenet")
    config = run_config(run_dir)
    if config is None or not (run_dir / "metrics.csv").is_file() or not config.num_classes:
        return [Verdict(2, NOT_TESTED, NOT_RUN)]
    rows = read_run(run_dir).rows
    first, last = rows[0]["val_loss"], rows[-1]["val_loss"]
    return [verdicts.learns(rows[-1]["val_top1"], config.num_classes, first, last)]


def conv_study(plan: Plan) -> list[Verdict]:
    study = read_record(plan.run_dir(CONV_STUDY) / "study.json", ConvStudy.from_dict)
    if study is None:
        return [Verdict(1, NOT_TESTED, NOT_RUN)]
    control = study.control_largest_val_top1_gap
    gap = study.largest_val_top1_gap
    return [verdicts.conv_training(gap, control, study.time_ratio, study.memory_ratio)]


def blocks(plan: Plan) -> list[Verdict]:
    folder = blocks_compare_options(plan).out_folder()
    simplenet_dir = plan.run_dir("simplenet")
    if not (folder / "compare.csv").is_file() or not (simplenet_dir / "metrics.csv").is_file():
        return [Verdict(3, NOT_TESTED, NOT_RUN)]
    times = read_record(folder / STEP_TIMES_FILE, StepTimes.from_dict)
    if times is None:
        return [Verdict(3, NOT_TESTED, NOT_RUN)]
    rows = {row.model: row for row in read_compare_table(folder)}
    best = {int(name[-1]): rows[name].best_val_top1 for name in BLOCK_MODELS}
    seconds = {int(name[-1]): times.seconds[name] for name in BLOCK_MODELS}
    simplenet_best = max(read_run(simplenet_dir).column("val_top1"))
    images = len(build_dataset(plan.data, "val"))
    return [verdicts.blocks(simplenet_best, best, seconds, times.repeats, images)]


def transfer(plan: Plan) -> list[Verdict]:
    if not plan.fine_tunes():
        reason = "nothing to fine-tune from: it needs --pretrained PATH or --pretrain-data ROOT"
        return [Verdict(4, NOT_TESTED, reason)]
    runs = [plan.run_dir(name) for name in ("resnet18", FINE_TUNED)]
    if not all((run / "metrics.csv").is_file() for run in runs):
        return [Verdict(4, NOT_TESTED, NOT_RUN)]
    scratch, fine_tuned = (read_run(run).column("val_top1") for run in runs)
    return [verdicts.transfer(scratch, fine_tuned)]


def evaluation(plan: Plan) -> list[Verdict]:
    record = read_record(plan.run_dir("simplenet") / "eval.json", EvalRecord.from_dict)
    if record is None or record.top1 is None:
        return [Verdict(2, NOT_TESTED, NOT_RUN)]
    return [verdicts.learns(record.top1, len(record.per_class), None, None)]


def robustness(plan: Plan) -> list[Verdict]:
    simplenet, adversarial = plan.run_dir("simplenet"), plan.run_dir("simplenet-adv")
    focus = read_focus(simplenet / "plots" / FOCUS_FILE)
    found = [
        Verdict(5, NOT_TESTED, NOT_RUN)
        if focus is None
        else verdicts.saliency_focus(
            focus.clean_top1,
            focus.salient_top1,
            focus.random_top1,
            focus.images,
            focus.deleted_share,
        )
    ]
    attack = read_record(simplenet / "attack.json", AttackRecord.from_dict)
    robust = read_record(adversarial / "attack.json", AttackRecord.from_dict)
    if attack is None:
        return [*found, Verdict(6, NOT_TESTED, NOT_RUN), Verdict(7, NOT_TESTED, NOT_RUN)]
    clean = (attack.clean.top1, attack.clean.top5)
    attacked = (attack.adversarial.top1, attack.adversarial.top5)
    sweep = [row.top1 for row in sorted(attack.sweep, key=lambda row: row.epsilon)]
    found.append(verdicts.attack(clean, attacked, sweep, attack.num_samples))
    if robust is None:
        return [*found, Verdict(7, NOT_TESTED, NOT_RUN)]
    normal = (attack.clean.top1, attack.adversarial.top1)
    hardened = (robust.clean.top1, robust.adversarial.top1)
    found.append(verdicts.adversarial(normal, hardened, attack.num_samples))
    return found

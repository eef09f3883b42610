"""The configuration of a training run: a dataclass, YAML in and out, CLI overrides.

Values left ``None`` are filled by ``resolve``: per-dataset defaults (``digits`` is
small and easy, so it gets fewer epochs, smaller batches and 32x32 images), the
learning rate scaled with the batch, full precision (``--amp`` turns bf16/fp16 on).
The run folder's ``config.yaml`` holds the resolved config, so
``scenelab train --resume RUN`` needs no other flag.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from scenelab.attack_settings import check_adversarial
from scenelab.bounds import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, Bounds
from scenelab.data.spec import dataset_name
from scenelab.errors import ScenelabError
from scenelab.files import write_text
from scenelab.settings_io import read_yaml_mapping, typed_value

BASE_LR = 0.1  # for a batch of 256, scaled linearly (Goyal et al. 2017)
BASE_BATCH = 256
AMP_CHOICES = ("bf16", "fp16", "off")
DTYPE_CHOICES = ("float32", "float64")
CONV_CHOICES = ("native", "custom")
AUGMENT_CHOICES = ("study", "light", "none")
OPT_CHOICES = ("sgd", "adamw")  # torch.optim.SGD (the study's), torch.optim.AdamW

# Values a run may change when it is resumed: they do not alter what is computed.
RESUMABLE_CHANGES = frozenset(
    {"workers", "threads", "device", "compile", "ckpt_minutes", "out", "cache_images"}
)


MAX_SEED = 2**63 - 1  # the largest seed torch.manual_seed and numpy both take
MAX_CLASSES = 100_000  # a classifier larger than ImageNet-21k's 21,841 classes is a typo
# Beyond these a value is a typo that would exhaust the machine (or overflow a C integer in
# torch, as 2**63 did) rather than a run anyone means: the study trains at 128 px, batch 256.
MAX_IMAGE_SIZE = 1024
MAX_BATCH = 65_536  # the largest batches in the literature (Goyal et al. 2017: 8k; LARS: 32k)
MAX_WORKERS = 256  # loader processes
MAX_THREADS = 1024


# The range of every numeric RunConfig setting, by key. The flags of `scenelab train`
# (and the same-named flags of other commands) parse with these, and RunConfig.from_dict
# checks YAML configs and stored configs against them: flag and file cannot disagree.
# adv_epsilon and adv_step_size are pixel fractions, checked by attacks.epsilon.
SETTING_BOUNDS: dict[str, Bounds] = {
    "epochs": COUNT,
    "limit_train_batches": COUNT,
    "max_steps": COUNT,
    "accum_steps": COUNT,
    "val_every": COUNT,
    "batch_size": Bounds(1, MAX_BATCH, integer=True),
    "lr": POSITIVE,
    "wd": NON_NEGATIVE,
    "momentum": FRACTION,
    "warmup_epochs": NON_NEGATIVE,
    "label_smoothing": FRACTION,
    "image_size": Bounds(8, MAX_IMAGE_SIZE, integer=True),
    "workers": Bounds(0, MAX_WORKERS, integer=True),
    "threads": Bounds(1, MAX_THREADS, integer=True),
    "seed": Bounds(0, MAX_SEED, integer=True),
    "ckpt_minutes": POSITIVE,
    "grad_clip": POSITIVE,
    "ema": Bounds(0, 1, low_open=True, high_open=True),
    "mixup": POSITIVE,
    "cutmix": POSITIVE,
    "adv_steps": COUNT,
    "num_classes": Bounds(1, MAX_CLASSES, integer=True),
}
# Settings naming a file or folder: an empty string is refused, not read as the default.
PATH_SETTINGS = frozenset({"data", "pretrained", "out"})


@dataclass(frozen=True)
class DatasetDefaults:
    epochs: int
    batch_size: int
    augment: str
    workers: int
    threads: int | None  # None: PyTorch's choice (one per physical core)


# digits: 1,437 train images of 32x32; 10 epochs of batch 32 reach ~99% val top-1. Its
# tensors are too small to split across threads, and one thread (and no loader process)
# stays fast when other jobs share the CPU.
DIGITS_DEFAULTS = DatasetDefaults(epochs=10, batch_size=32, augment="none", workers=0, threads=1)
# Everything else is treated as MiniPlaces-like: the study's recipe.
SCENE_DEFAULTS = DatasetDefaults(
    epochs=60, batch_size=256, augment="study", workers=2, threads=None
)


def dataset_defaults(data: str) -> DatasetDefaults:
    return DIGITS_DEFAULTS if data == "digits" else SCENE_DEFAULTS


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Every setting of a training run, as given (``None``: the default, which `resolve`
    fills). ``batch_size`` is the global batch (all processes)."""

    data: str = "digits"
    model: str = "simplenet"
    conv: str = "native"
    pretrained: str | None = None
    epochs: int | None = None
    limit_train_batches: int | None = None  # batches per epoch at most (smoke runs); None: all
    max_steps: int | None = None  # optimizer steps at most, the schedule planned for them
    accum_steps: int = 1  # loader batches whose gradients are summed into one optimizer step
    val_every: int = 1  # validate every N epochs (and always after the last)
    batch_size: int | None = None
    lr: float | None = None
    wd: float = 1e-4
    opt: str = "sgd"
    momentum: float = 0.9  # SGD's
    nesterov: bool = False
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    image_size: int | None = None
    augment: str | None = None
    workers: int | None = None
    threads: int | None = None
    seed: int = 0
    amp: str | None = None
    # Of the parameters and the images. float64 (with --amp off) takes rounding out of a
    # comparison of two implementations, at several times float32's cost.
    dtype: str = "float32"
    channels_last: bool = False
    compile: bool = False
    deterministic: bool = False
    strict_data: bool = False
    cache_images: bool = False  # decode every image once, keep it in memory (data.cache)
    device: str = "auto"
    out: str | None = None
    ckpt_minutes: float | None = None
    grad_clip: float | None = None  # max L2 norm of all gradients together; None: no clipping
    ema: float | None = None  # decay of an exponential moving average of the weights; None: none
    mixup: float | None = None  # Beta(alpha, alpha) of MixUp (Zhang et al. 2018); None: off
    cutmix: float | None = None  # Beta(alpha, alpha) of CutMix (Yun et al. 2019); None: off
    # Adversarial training (scenelab.attacks.adversarial); all None unless adv != "none".
    adv: str = "none"
    adv_steps: int | None = None
    adv_epsilon: float | None = None  # pixels; "6/255" is accepted and parsed
    adv_step_size: float | None = None
    adv_target: str | None = None
    adv_random_start: bool | None = None
    num_classes: int | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> RunConfig:
        known = [field.name for field in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ScenelabError(
                f"{source}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(known)}"
            )
        hints = typing.get_type_hints(cls)
        checked = {
            name: typed_value(name, value, hints[name], source) for name, value in values.items()
        }
        for name, value in checked.items():
            problem = setting_problem(name, value)
            if problem:
                raise ScenelabError(f"{source}: {name} {problem}")
        return cls(**checked)

    @classmethod
    def from_yaml(cls, path: str | Path, flag: str = "--config") -> RunConfig:
        """The config in a YAML file; ``flag`` is what the messages name it by (the
        option it came from, or "" for a run folder's own config.yaml)."""
        return cls.from_dict(read_yaml_mapping(path, flag), source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __eq__(self, other: object) -> bool:
        """Equal settings are equal configs, resolved (ResolvedConfig) or not."""
        if not isinstance(other, RunConfig):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_yaml(self, path: str | Path) -> None:
        """Write the file whole or not at all (temporary file + rename): a run killed while
        writing it must still resume."""
        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def differences(self, other: RunConfig) -> list[str]:
        """``key: mine -> other`` for every setting that would change what is computed."""
        return [
            f"{field.name}: {getattr(self, field.name)!r} -> {getattr(other, field.name)!r}"
            for field in fields(self)
            if field.name not in RESUMABLE_CHANGES
            and getattr(self, field.name) != getattr(other, field.name)
        ]


def setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` by SETTING_BOUNDS and
    PATH_SETTINGS (``must be ..., got ...``), or None; strings still to be parsed
    (``adv_epsilon: 6/255``) and None pass."""
    if name in PATH_SETTINGS and value == "":
        return "must not be empty"
    bounds = SETTING_BOUNDS.get(name)
    if bounds is None or value is None or isinstance(value, (str, bool)):
        return None
    if bounds.contains(value):
        return None
    return f"must be {bounds.describe()}, got {value!r}"


def check_stored_config(values: Any, source: str, required: tuple[str, ...]) -> dict[str, Any]:
    """``values``, the config a run stored (its config.yaml, a checkpoint's "config"),
    checked exactly as a --config file is (RunConfig.from_dict) and holding ``required``."""
    if not isinstance(values, dict):
        raise ScenelabError(f"{source}: expected a mapping of setting: value")
    RunConfig.from_dict(values, source=source)
    missing = [key for key in required if values.get(key) is None]
    if missing:
        raise ScenelabError(f"{source}: lacks {', '.join(missing)}")
    return values


@dataclass(frozen=True, eq=False)
class ResolvedConfig(RunConfig):
    """A RunConfig that `resolve` checked and completed: every default filled (but
    ``num_classes``, which the data gives), adversarial epsilons parsed. The trainer takes
    only this and checks nothing again."""


def resolve(config: RunConfig, *, image_size: int) -> ResolvedConfig:
    """The one place a run's settings are checked and completed: fill every ``None`` but
    ``num_classes`` with its default (``image_size`` is the dataset's; mixed precision is
    off unless asked for), check every value; raises ScenelabError naming the flags."""
    defaults = dataset_defaults(config.data)
    batch_size = _given_or(config.batch_size, defaults.batch_size)
    filled = config.replace(
        epochs=_given_or(config.epochs, defaults.epochs),
        batch_size=batch_size,
        lr=_given_or(config.lr, BASE_LR * batch_size / BASE_BATCH if batch_size > 0 else None),
        augment=_given_or(config.augment, defaults.augment),
        workers=_given_or(config.workers, defaults.workers),
        threads=_given_or(config.threads, defaults.threads),
        image_size=_given_or(config.image_size, image_size),
        amp=_given_or(config.amp, "off"),
        out=_given_or(
            config.out, str(Path("runs") / f"{config.model}-{dataset_name(config.data)}")
        ),
    )
    adversarial, adversarial_problems = check_adversarial(filled)
    _refuse([*_problems(filled), *adversarial_problems])
    return ResolvedConfig(**{**filled.to_dict(), **adversarial})


def _given_or(value: Any, default: Any) -> Any:
    return default if value is None else value


def validate(config: RunConfig) -> None:
    """Refuse impossible values (None passes: a default), naming the flag."""
    _refuse([*_problems(config), *check_adversarial(config)[1]])


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ScenelabError("; ".join(problems))


def _problems(config: RunConfig) -> list[str]:
    """What is wrong with every setting but the adversarial ones."""
    problems = []
    for name in SETTING_BOUNDS:
        problem = setting_problem(name, getattr(config, name))
        if problem:
            problems.append(f"--{name.replace('_', '-')} {problem}")
    if config.nesterov and config.momentum == 0:
        problems.append("--nesterov needs a non-zero --momentum")
    if config.adv != "none" and (config.mixup is not None or config.cutmix is not None):
        problems.append("--mixup and --cutmix do not combine with --adv (its attack needs labels)")
    if config.adv != "none" and config.val_every != 1:
        problems.append(
            "--val-every does not combine with --adv (its collapse check reads the robust "
            "accuracy of every epoch)"
        )
    if config.nesterov and config.opt != "sgd":
        problems.append(f"--nesterov is SGD's; --opt {config.opt} has no such option")
    if config.epochs is not None and config.warmup_epochs > config.epochs:
        problems.append(
            f"--warmup-epochs {config.warmup_epochs} is longer than training "
            f"(--epochs {config.epochs})"
        )
    for flag, value, choices in (
        ("--amp", config.amp, AMP_CHOICES),
        ("--dtype", config.dtype, DTYPE_CHOICES),
        ("--conv", config.conv, CONV_CHOICES),
        ("--augment", config.augment, AUGMENT_CHOICES),
        ("--opt", config.opt, OPT_CHOICES),
    ):
        if value is not None and value not in choices:
            problems.append(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
    if config.dtype == "float64" and config.amp not in (None, "off"):
        problems.append(f"--dtype float64 needs --amp off (--amp {config.amp} computes in it)")
    return problems


def resumed_config(run_dir: Path, changes: dict[str, Any], who: str = "--resume") -> RunConfig:
    """The config a run saved (RUN/config.yaml) with ``changes``, refused unless every
    change is one that may change on a resume (RESUMABLE_CHANGES) or a larger ``epochs``
    (the run is extended): what `scenelab train --resume RUN` and the study (``who`` names
    the caller in the refusal) run to continue a run exactly."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        raise ScenelabError(f"{who} {run_dir}: not a run folder (it has no config.yaml)")
    saved = RunConfig.from_yaml(saved_path, flag=who)
    wanted = saved.replace(**{**changes, "out": str(run_dir)})
    extends = None not in (saved.epochs, wanted.epochs) and wanted.epochs > saved.epochs
    differences = saved.differences(wanted.replace(epochs=saved.epochs) if extends else wanted)
    if differences:
        raise ScenelabError(
            f"{who} {run_dir}: these settings differ from the run's config.yaml, so the run "
            f"could not continue exactly: {'; '.join(differences)} (only --epochs may change, "
            "to a larger number: that extends the run)"
        )
    return wanted

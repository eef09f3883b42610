"""The configuration of a training run: a dataclass, YAML in and out, CLI overrides.

Values left ``None`` are filled by ``resolve``: per-dataset defaults (``digits`` is
small and easy, so it gets fewer epochs, smaller batches and 32x32 images), the
learning rate scaled with the batch, the mixed precision the hardware supports.
The run folder's ``config.yaml`` holds the resolved config, so
``scenelab train --resume RUN`` needs no other flag.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from scenelab.attacks.adversarial import adversarial_problems, resolve_adversarial
from scenelab.errors import ScenelabError

BASE_LR = 0.1  # for a batch of 256, scaled linearly (Goyal et al. 2017)
BASE_BATCH = 256
AMP_CHOICES = ("bf16", "fp16", "off")
DTYPE_CHOICES = ("float32", "float64")
CONV_CHOICES = ("native", "custom")
AUGMENT_CHOICES = ("study", "light", "none")

# Values a run may change when it is resumed: they do not alter what is computed.
RESUMABLE_CHANGES = frozenset(
    {"workers", "threads", "device", "compile", "ckpt_minutes", "out", "cache_images"}
)


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


@dataclass
class RunConfig:
    """Every setting of a training run. ``batch_size`` is the global batch (all processes)."""

    data: str = "digits"
    model: str = "simplenet"
    conv: str = "native"
    pretrained: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    wd: float = 1e-4
    momentum: float = 0.9
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
        checked = {name: _typed(name, value, hints[name], source) for name, value in values.items()}
        return cls(**checked)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except OSError as error:
            raise ScenelabError(f"--config {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ScenelabError(f"--config {where}: not valid YAML ({problem})") from None
        if not isinstance(values, dict):
            raise ScenelabError(f"--config {path}: expected a mapping of setting: value")
        return cls.from_dict(values, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self, path: str | Path) -> None:
        """Write the file whole or not at all (temporary file + rename): a run killed while
        writing it must still resume."""
        path = Path(path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        os.replace(temporary, path)

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


# Settings that also take a string, parsed later ("6/255").
_ALSO_STRINGS = frozenset({"adv_epsilon", "adv_step_size"})


def _typed(name: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` if it has the type the field's annotation says, else ScenelabError.

    A float setting also takes an int, and a string that reads as a number (YAML 1.1
    reads ``1e-3`` as a string).
    """
    allowed = set(typing.get_args(hint)) or {hint}
    if value is None and type(None) in allowed:
        return value
    if bool in allowed and isinstance(value, bool):
        return value
    if int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    if float in allowed and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if float in allowed and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            if name in _ALSO_STRINGS:
                return value
    if str in allowed and isinstance(value, str):
        return value
    kinds = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    expected = " or ".join(kinds[kind] for kind in kinds if kind in allowed)
    if type(None) in allowed:
        expected += " or null"
    raise ScenelabError(
        f"{source}: {name} must be {expected}, got {value!r} ({type(value).__name__})"
    )


def resolve(config: RunConfig, *, image_size: int, default_amp: str) -> RunConfig:
    """Fill every ``None`` but ``num_classes`` (which the dataset gives) with its default,
    and check every value; raises ScenelabError."""
    defaults = dataset_defaults(config.data)
    batch_size = config.batch_size or defaults.batch_size
    resolved = config.replace(
        epochs=config.epochs if config.epochs is not None else defaults.epochs,
        batch_size=batch_size,
        lr=config.lr if config.lr is not None else BASE_LR * batch_size / BASE_BATCH,
        augment=config.augment or defaults.augment,
        workers=config.workers if config.workers is not None else defaults.workers,
        threads=config.threads or defaults.threads,
        image_size=config.image_size or image_size,
        amp=config.amp or ("off" if config.dtype == "float64" else default_amp),
        out=config.out or str(Path("runs") / f"{config.model}-{Path(config.data).name}"),
    )
    validate(resolved)
    resolved = resolved.replace(**resolve_adversarial(resolved))
    return resolved


def validate(config: RunConfig) -> None:
    """Refuse impossible values before any work starts, naming the flag."""
    problems = []
    if config.epochs is not None and config.epochs <= 0:
        problems.append(f"--epochs must be positive, got {config.epochs}")
    if config.batch_size is not None and config.batch_size <= 0:
        problems.append(f"--batch-size must be positive, got {config.batch_size}")
    # `not a < x < b` is True for NaN as well.
    if config.lr is not None and not 0 < config.lr < math.inf:
        problems.append(f"--lr must be a positive number, got {config.lr}")
    if not 0 <= config.wd < math.inf:
        problems.append(f"--wd must be >= 0, got {config.wd}")
    if not 0 <= config.momentum < 1:
        problems.append(f"--momentum must be in [0, 1), got {config.momentum}")
    if config.nesterov and config.momentum == 0:
        problems.append("--nesterov needs a non-zero --momentum")
    if not 0 <= config.warmup_epochs < math.inf:
        problems.append(f"--warmup-epochs must be >= 0, got {config.warmup_epochs}")
    if config.epochs is not None and config.warmup_epochs > config.epochs:
        problems.append(
            f"--warmup-epochs {config.warmup_epochs} is longer than training "
            f"(--epochs {config.epochs})"
        )
    if not 0 <= config.label_smoothing < 1:
        problems.append(f"--label-smoothing must be in [0, 1), got {config.label_smoothing}")
    if config.image_size is not None and config.image_size < 8:
        problems.append(f"--image-size must be at least 8, got {config.image_size}")
    if config.workers is not None and config.workers < 0:
        problems.append(f"--workers must be >= 0, got {config.workers}")
    if config.threads is not None and config.threads < 1:
        problems.append(f"--threads must be at least 1, got {config.threads}")
    if config.ckpt_minutes is not None and not config.ckpt_minutes > 0:
        problems.append(f"--ckpt-minutes must be positive, got {config.ckpt_minutes}")
    if config.grad_clip is not None and not 0 < config.grad_clip < math.inf:
        problems.append(f"--grad-clip must be a positive number, got {config.grad_clip}")
    for flag, value, choices in (
        ("--amp", config.amp, AMP_CHOICES),
        ("--dtype", config.dtype, DTYPE_CHOICES),
        ("--conv", config.conv, CONV_CHOICES),
        ("--augment", config.augment, AUGMENT_CHOICES),
    ):
        if value is not None and value not in choices:
            problems.append(f"{flag} must be one of {', '.join(choices)}, got {value!r}")
    if config.dtype == "float64" and config.amp not in (None, "off"):
        problems.append(f"--dtype float64 needs --amp off (--amp {config.amp} computes in it)")
    problems.extend(adversarial_problems(config))
    if problems:
        raise ScenelabError("; ".join(problems))

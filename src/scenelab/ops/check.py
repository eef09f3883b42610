"""A quick check of ``scenelab.ops.conv2d`` against PyTorch, for reports.

Two questions per convolution shape: does ``torch.autograd.gradcheck`` (finite
differences in float64) accept the hand-written backward, and how far are the output
and the three gradients from ``F.conv2d``'s in float32? The exhaustive, randomised
version of both lives in ``tests/ops``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from scenelab.ops.conv import conv2d


@dataclass(frozen=True)
class ConvCase:
    """One convolution: input (batch, in_channels, height, width) and its geometry."""

    name: str
    batch: int
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    size: tuple[int, int]
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    channels_last: bool = False


# The kinds of convolution SimpleNet, OurBestNet and ResNet-18 use, plus the corners of
# the im2col bookkeeping (dilation, groups, a rectangular kernel, NHWC memory).
CASES = (
    ConvCase("3x3, padding 1", 2, 4, 5, (3, 3), (7, 7), padding=1),
    ConvCase("7x7 stride 2, padding 3 (stem)", 2, 3, 4, (7, 7), (9, 9), stride=2, padding=3),
    ConvCase("1x1 (pointwise fast path)", 2, 6, 3, (1, 1), (5, 5)),
    ConvCase("1x1 stride 2", 2, 4, 4, (1, 1), (6, 6), stride=2),
    ConvCase("2x3 dilation 2, groups 2", 2, 4, 6, (2, 3), (8, 9), padding=1, dilation=2, groups=2),
    ConvCase("3x3 stride 2, channels_last", 2, 4, 5, (3, 3), (8, 8), 2, 1, channels_last=True),
)


@dataclass
class ConvCheck:
    """gradcheck's verdict (float64) and the largest absolute differences from F.conv2d
    (float32) of the output and of the gradients of input, weight and bias."""

    case: ConvCase
    gradcheck_passed: bool
    output_error: float
    grad_input_error: float
    grad_weight_error: float
    grad_bias_error: float

    def to_dict(self) -> dict:
        return asdict(self)


def _tensors(case: ConvCase, dtype: torch.dtype) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(case.batch, case.in_channels, *case.size, generator=generator, dtype=dtype)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight_shape = (case.out_channels, case.in_channels // case.groups, *case.kernel)
    weight = torch.randn(weight_shape, generator=generator, dtype=dtype)
    bias = torch.randn(case.out_channels, generator=generator, dtype=dtype)
    return [tensor.requires_grad_() for tensor in (x, weight, bias)]


def _geometry(case: ConvCase) -> tuple[int, int, int, int]:
    return case.stride, case.padding, case.dilation, case.groups


def check_case(case: ConvCase) -> ConvCheck:
    """gradcheck and parity with F.conv2d for one case, on one thread: the tensors are
    tiny, and on a busy machine more threads only wait for each other (gradcheck's
    thousands of small calls took 100x longer with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        passed = torch.autograd.gradcheck(
            lambda x, w, b: conv2d(x, w, b, *_geometry(case)),
            _tensors(case, torch.float64),
            raise_exception=False,
        )
        results = []
        for function in (conv2d, F.conv2d):
            x, weight, bias = _tensors(case, torch.float32)
            output = function(x, weight, bias, *_geometry(case))
            generator = torch.Generator().manual_seed(1)
            output.backward(torch.randn(output.shape, generator=generator))
            results.append((output, x.grad, weight.grad, bias.grad))
    finally:
        torch.set_num_threads(threads)
    errors = [(ours - theirs).abs().max().item() for ours, theirs in zip(*results, strict=True)]
    return ConvCheck(case, passed, *errors)


def check_conv2d() -> list[ConvCheck]:
    """gradcheck and parity with F.conv2d for each of ``CASES``."""
    return [check_case(case) for case in CASES]

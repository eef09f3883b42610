"""The geometry of one convolution call, checked: its arguments, its output size, which
path runs it (``scenelab.ops.conv`` says why), how the batch is chunked, and the buffers
every chunk reuses."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from scenelab.ops import gemm, im2col, implicit

IntPair = int | Sequence[int]
Padding = int | Sequence[int] | str

# Unfolded columns of one batch chunk are kept under this size (bytes).
COLUMN_BUDGET_BYTES = 4 * 2**20
# The dtypes whose stride-1 convolutions run as an implicit GEMM.
IMPLICIT_DTYPES = (torch.float32, torch.float64)
# ... and whose frame holds at most this many rows per output pixel (Hp*Wp / (OH*OW)):
# beyond it (a 3x3 layer below about 6x6) the wasted rows cost more than the columns.
IMPLICIT_MAX_OVERCOMPUTE = 2.0
# Convolutions with at most this many output pixels per sample run on rows (channels_last).
ROWS_MAX_POSITIONS = 64


def pair(value: IntPair, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair  # type: ignore[return-value]


def resolve_padding(
    padding: Padding, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Return (top, bottom, left, right) padding; "same" may be asymmetric as in PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
            pads = []
            for k, d in zip(kernel, dilation, strict=True):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)  # type: ignore[return-value]
        raise ValueError(f"padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be non-negative, got padding={padding!r}")
    return (ph, ph, pw, pw)


def check_arguments(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: IntPair,
    padding: Padding,
    dilation: IntPair,
    groups: int,
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    """``F.conv2d``'s arguments checked (ValueError naming the argument) and made pairs:
    (stride, (top, bottom, left, right) padding, dilation)."""
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if min(stride) < 1:
        raise ValueError(f"stride must be positive, got stride={stride}")
    if min(dilation) < 1:
        raise ValueError(f"dilation must be positive, got dilation={dilation}")
    if input.dim() != 4:
        raise ValueError(f"input must be 4-D (N, C, H, W), got shape {tuple(input.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (O, C/groups, kh, kw), got {tuple(weight.shape)}")
    pads = resolve_padding(padding, tuple(weight.shape[2:]), stride, dilation)
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got groups={groups!r}")
    channels, out_channels = input.shape[1], weight.shape[0]
    if channels % groups or out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide both input channels ({channels}) "
            f"and output channels ({out_channels})"
        )
    if weight.shape[1] * groups != channels:
        raise ValueError(
            f"channel mismatch: input has {channels} channels, weight {tuple(weight.shape)} "
            f"with groups={groups} expects {weight.shape[1] * groups}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"bias must have shape ({out_channels},), got {tuple(bias.shape)}")
    height = input.shape[2] + pads[0] + pads[1]
    width = input.shape[3] + pads[2] + pads[3]
    span_h = dilation[0] * (weight.shape[2] - 1) + 1
    span_w = dilation[1] * (weight.shape[3] - 1) + 1
    if span_h > height or span_w > width:
        raise ValueError(
            f"kernel {tuple(weight.shape[2:])} with dilation={dilation} spans {span_h}x{span_w}, "
            f"larger than the padded input {height}x{width}"
        )
    return stride, pads, dilation


class Geometry:
    """Everything about one convolution call that does not depend on the values."""

    def __init__(
        self,
        input: torch.Tensor,
        weight: torch.Tensor,
        stride: tuple[int, int],
        pads: tuple[int, int, int, int],
        dilation: tuple[int, int],
        groups: int,
    ) -> None:
        self.batch, self.channels, self.height, self.width = input.shape
        self.out_channels, _, self.kh, self.kw = weight.shape
        self.stride, self.dilation, self.groups = stride, dilation, groups
        self.pads = pads
        self.kernel = (self.kh, self.kw)
        top, bottom, left, right = pads
        padded_h, padded_w = self.height + top + bottom, self.width + left + right
        self.out_h = (padded_h - dilation[0] * (self.kh - 1) - 1) // stride[0] + 1
        self.out_w = (padded_w - dilation[1] * (self.kw - 1) - 1) // stride[1] + 1
        self.out_hw = (self.out_h, self.out_w)
        self.pointwise = self.kh == self.kw == 1 and pads == (0, 0, 0, 0) and dilation == (1, 1)
        self.channels_last = im2col.memory_format_of(input) == torch.channels_last
        self.k = (self.channels // groups) * self.kh * self.kw  # rows of one group's columns
        self.positions = self.out_h * self.out_w
        self.element_size = input.element_size()
        self.device_type = input.device.type
        # Stride 1 in full precision: the implicit GEMM (``scenelab.ops.implicit``). Its
        # kh*kw accumulating products round the output once per kernel offset, so bf16 and
        # fp16 keep one product over the columns, which accumulates in float32 inside.
        self.overcompute = padded_h * padded_w / self.positions
        stride_one_spatial = stride == (1, 1) and groups == 1 and not self.pointwise
        # Where oneDNN's float32 matmul is at hand (CPU), one product over the columns on
        # it beats the kh*kw products of the implicit GEMM on MKL (``scenelab.ops.gemm``).
        self.implicit = (
            stride_one_spatial
            and input.dtype in IMPLICIT_DTYPES
            and not gemm.uses_onednn(input)
            and self.overcompute <= IMPLICIT_MAX_OVERCOMPUTE
        )
        # The other stride-1 convolutions run on rows (channels_last): one product for the
        # whole chunk instead of a batch of small ones, and kh*kw strided accumulations for
        # col2im instead of F.fold (both measured faster, docs/benchmarks.md).
        # So do small images (at most ROWS_MAX_POSITIONS output pixels, the demo's layers),
        # where a batch of per-sample products is mostly call overhead.
        self.rows = groups == 1 and (
            (stride_one_spatial and not self.implicit) or self.positions <= ROWS_MAX_POSITIONS
        )
        # Rows are worked in channels_last. An NCHW input stays NCHW, and so do its output
        # and gradient: each chunk changes layout as it is copied into the padded buffer
        # (or the rows) and as its result is copied out, so that no whole-tensor copy in
        # the other layout exists, in forward or in backward.
        self.via_rows = self.rows and not self.channels_last
        self.channels_last = self.channels_last or self.rows

    def plan(self) -> implicit.Plan:
        return implicit.Plan(
            (self.batch, self.channels, self.height, self.width),
            (self.out_channels, self.channels, self.kh, self.kw),
            self.pads,
            self.dilation,
            self.channels_last,
            self.element_size,
        )


def chunk_size(geo: Geometry) -> int:
    """Samples per chunk so that one chunk's unfolded columns fit the budget, but at least
    one per CPU thread: ATen's im2col and col2im parallelise over the samples of a call."""
    if geo.pointwise and geo.groups == 1:
        return geo.batch  # no columns at all
    per_sample = geo.groups * geo.k * geo.positions * geo.element_size
    fitting = COLUMN_BUDGET_BYTES // per_sample
    threads = torch.get_num_threads() if geo.device_type == "cpu" else 1
    return max(1, min(geo.batch, max(threads, fitting - fitting % threads)))


class Workspace:
    """One zero-padded input and one column buffer per call, reused by every chunk.

    A fresh multi-MiB buffer per chunk is returned to the kernel when freed (glibc's mmap
    threshold) and page-faulted in afresh by the next chunk; reused, the padding's zero
    border is also written only once."""

    def __init__(self, geo: Geometry, step: int, like: torch.Tensor) -> None:
        self.geo, self.step, self.like = geo, step, like
        self._padded: torch.Tensor | None = None
        self._columns: torch.Tensor | None = None

    def padded(self, x: torch.Tensor) -> torch.Tensor:
        """Chunk ``x`` zero-padded, in the workspace's padded buffer."""
        geo = self.geo
        if geo.pads == (0, 0, 0, 0):
            return x.contiguous(memory_format=memory_format(geo))
        top, bottom, left, right = geo.pads
        if self._padded is None:
            shape = (self.step, geo.channels, geo.height + top + bottom, geo.width + left + right)
            self._padded = torch.empty(
                shape, dtype=x.dtype, device=x.device, memory_format=memory_format(geo)
            ).zero_()
        padded = self._padded[: x.shape[0]]
        padded[:, :, top : top + geo.height, left : left + geo.width] = x
        return padded

    def columns(self, n: int) -> torch.Tensor:
        """A flat buffer for the columns of ``n`` samples."""
        geo = self.geo
        per_sample = geo.groups * geo.k * geo.positions
        if self._columns is None:
            self._columns = self.like.new_empty(self.step * per_sample)
        return self._columns[: n * per_sample]


def memory_format(geo: Geometry) -> torch.memory_format:
    return torch.channels_last if geo.channels_last else torch.contiguous_format

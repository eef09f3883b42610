"""im2col and col2im as strided copies: one per call, written for the input's memory layout.

Every receptive field of a zero-padded input ``x_pad`` (N, C, Hp, Wp) is a strided view of
it, whatever its memory format::

    patches[n, c, i, j, oy, ox] = x_pad[n, c, oy*sh + i*dh, ox*sw + j*dw]

(``as_strided`` with the input's own strides), so im2col is a single copy of that view
into the layout the matrix product wants, which ATen runs as a vectorised, multi-threaded
copy, where ``F.unfold`` runs a scalar loop per sample and channel:

* ``"rows"`` (N*OH*OW, kh*kw*C), for a channels_last input: the innermost run of the copy
  is C channels (kw*C when dw == 1) contiguous in memory, and ``rows @ W^T`` is already the
  NHWC output;
* ``"unfold"`` (N, C*kh*kw, OH*OW), ``F.unfold``'s own layout, for contiguous (NCHW)
  inputs: the innermost run is a row of OW pixels.

``col2im``, the adjoint, is kh*kw strided accumulations of the gradient's patches into a
zero padded gradient (one ``add_`` per kernel offset, each over every sample and channel at
once), then the padding is cut off. The op uses it for stride-1 convolutions on rows, where
it beat ``F.fold`` (in bf16 by 2-3x); ``F.fold`` stays for strides > 1
(``benchmarks/conv_im2col.py``, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Literal

import torch

Layout = Literal["rows", "unfold"]


def pad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Zero-pad (top, bottom, left, right), keeping ``x``'s memory format."""
    top, bottom, left, right = pads
    if pads == (0, 0, 0, 0):
        return x
    n, c, h, w = x.shape
    padded = torch.empty(
        (n, c, h + top + bottom, w + left + right),
        dtype=x.dtype,
        device=x.device,
        memory_format=memory_format_of(x),
    ).zero_()
    padded[:, :, top : top + h, left : left + w] = x
    return padded


def memory_format_of(x: torch.Tensor) -> torch.memory_format:
    """channels_last for a tensor that is channels_last and not also plain contiguous."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


def patches(
    x_pad: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
) -> torch.Tensor:
    """The (N, C, kh, kw, OH, OW) view of every receptive field of ``x_pad`` (no copy)."""
    sn, sc, sh_, sw_ = x_pad.stride()
    n, c = x_pad.shape[:2]
    return x_pad.as_strided(
        (n, c, *kernel, *out_hw),
        (sn, sc, dilation[0] * sh_, dilation[1] * sw_, stride[0] * sh_, stride[1] * sw_),
        x_pad.storage_offset(),
    )


def im2col(
    x_pad: torch.Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
    layout: Layout,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The columns of ``x_pad`` (already padded) in ``layout`` (module docstring), written
    into ``out`` (any contiguous tensor of as many elements) when it is given."""
    view = patches(x_pad, kernel, stride, dilation, out_hw)
    n, c = x_pad.shape[:2]
    positions = out_hw[0] * out_hw[1]
    if layout == "rows":  # (n, OH, OW, kh, kw, C)
        view = view.permute(0, 4, 5, 2, 3, 1)
        shape: tuple[int, ...] = (n * positions, c * kernel[0] * kernel[1])
    else:
        shape = (n, c * kernel[0] * kernel[1], positions)
    if out is None:
        return view.reshape(shape)
    out.view(view.shape).copy_(view)
    return out.view(shape)


def col2im(
    grad_cols: torch.Tensor,
    input_shape: tuple[int, int, int, int],
    pads: tuple[int, int, int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    out_hw: tuple[int, int],
    layout: Layout,
    memory_format: torch.memory_format,
) -> torch.Tensor:
    """The adjoint of ``im2col`` (after ``pad``): columns in ``layout`` -> (n, C, H, W)."""
    n, c, h, w = input_shape
    top, bottom, left, right = pads
    kh, kw = kernel
    oh, ow = out_hw
    if layout == "rows":
        grad_patches = grad_cols.view(n, oh, ow, kh, kw, c).permute(0, 5, 3, 4, 1, 2)
    else:
        grad_patches = grad_cols.view(n, c, kh, kw, oh, ow)
    padded = torch.empty(
        (n, c, h + top + bottom, w + left + right),
        dtype=grad_cols.dtype,
        device=grad_cols.device,
        memory_format=memory_format,
    ).zero_()
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dilation[0], j * dilation[1]
            target = padded[
                :,
                :,
                y0 : y0 + stride[0] * (oh - 1) + 1 : stride[0],
                x0 : x0 + stride[1] * (ow - 1) + 1 : stride[1],
            ]
            target.add_(grad_patches[:, :, i, j])
    if pads == (0, 0, 0, 0):
        return padded
    return padded[:, :, top : top + h, left : left + w]

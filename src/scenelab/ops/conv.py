"""2-D convolution from scratch: im2col, one matmul, col2im, or an implicit GEMM.

For an input ``x`` of shape (N, C, H, W) and a weight of shape (O, C/G, kh, kw),
im2col (``scenelab.ops.im2col``: one strided copy of the padded input, the same columns
``F.unfold`` gives) gathers every receptive field into a column::

    cols[n, (c, i, j), l] = x_pad[n, c, oy*sh + i*dh, ox*sw + j*dw],   l = oy*OW + ox

so that the convolution is one matrix product per group::

    out[n, g] = W[g] @ cols[n, g]          (O/G x C/G*kh*kw) @ (C/G*kh*kw x L)

The backward pass is the same product read the other way round:

    grad_W[g]    = sum_n grad_out[n, g] @ cols[n, g]^T
    grad_cols    = W[g]^T @ grad_out[n, g]         then  grad_x = col2im(grad_cols)
    grad_bias    = sum over n and l of grad_out

Which form runs, each measured (``docs/benchmarks.md``, "Implicit GEMM" and "oneDNN
products"):

* Stride 1, one group, float32 on CPU with oneDNN at hand: rows (below), their products on
  oneDNN's matmul (``scenelab.ops.gemm``: 2-2.4x MKL's sgemm for these shapes).
* Otherwise stride 1, one group, float32/float64: an implicit GEMM
  (``scenelab.ops.implicit``), the same sum split by kernel offset over shifted views of the
  padded input, so that no columns exist, unless its wasted frame rows exceed
  ``geometry.IMPLICIT_MAX_OVERCOMPUTE`` per pixel (small images). bf16/fp16 do not take it:
  kh*kw accumulating products would round the output kh*kw times, where one product over the
  columns accumulates in float32 inside.
* Other stride-1 convolutions with one group, and every one with at most
  ``geometry.ROWS_MAX_POSITIONS`` output pixels per sample, run on *rows*, worked in
  channels_last (an NCHW input, its output and gradients change layout chunk by chunk, never
  as whole tensors): the columns are (N*L x kh*kw*C), each a contiguous run of channels, the
  product is one (L x Ck) @ (Ck x O) per chunk whose result already is the NHWC output,
  grad_weight one (O x nL) @ (nL x Ck), and for stride 1 col2im is kh*kw strided
  accumulations of one (nL x O) @ (O x Ck) product (faster than ``F.fold`` there; ``F.fold``
  stays for strides > 1, where it won).
* The rest (the strided stem in NCHW, groups): ``F.unfold``'s column layout and a batched
  product with the weight shared across the batch; col2im is ``F.fold``.
* The batch is processed in chunks so that the columns of one chunk stay small
  (``geometry.COLUMN_BUDGET_BYTES``), in one padded-input and one column buffer per call
  (``Workspace``): a fresh multi-MiB buffer per chunk was page-faulted in afresh each time.
* The columns are *rebuilt* in backward instead of saved: saving them costs the
  whole unfolded activation (kh*kw times the input) for every layer until backward.
* A 1x1 convolution without padding is a plain matmul over channels; it needs no
  unfold at all (a stride only subsamples the input first).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scenelab.ops import gemm, im2col, implicit
from scenelab.ops.geometry import (
    Geometry,
    IntPair,
    Padding,
    Workspace,
    check_arguments,
    chunk_size,
    memory_format,
)


def _im2col(x: torch.Tensor, geo: Geometry, layout: im2col.Layout, work: Workspace):
    """The columns of chunk ``x``: (n*L, kh*kw*C) for "rows", (n, G, C/G*kh*kw, L) else."""
    n = x.shape[0]
    cols = im2col.im2col(
        work.padded(x),
        geo.kernel,
        geo.stride,
        geo.dilation,
        geo.out_hw,
        layout,
        out=work.columns(n),
    )
    return cols if layout == "rows" else cols.view(n, geo.groups, geo.k, geo.positions)


def _fold(grad_cols: torch.Tensor, n: int, geo: Geometry) -> torch.Tensor:
    """col2im, the adjoint of ``_im2col``'s "unfold" layout: (n, G, Ck, L) -> (n, C, H, W).

    ``F.fold`` here: kh*kw strided accumulations (``im2col.col2im``) measured 4-15x slower on
    this CPU (``benchmarks/conv_im2col.py``)."""
    top, bottom, left, right = geo.pads
    cols = grad_cols.reshape(n, geo.groups * geo.k, geo.positions)
    if top == bottom and left == right:
        size, padding = (geo.height, geo.width), (top, left)
    else:
        size, padding = (geo.height + top + bottom, geo.width + left + right), (0, 0)
    grad = F.fold(cols, size, geo.kernel, geo.dilation, padding, geo.stride)
    if padding == (0, 0) and geo.pads != (0, 0, 0, 0):
        grad = grad[:, :, top : top + geo.height, left : left + geo.width]
    return grad


def _weight_rows(weight: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """The weight as (O, kh*kw*C), the order of a "rows" column (free if channels_last)."""
    return weight.permute(0, 2, 3, 1).reshape(geo.out_channels, -1)


def _pointwise_input(x: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """A 1x1 convolution reads only every stride-th pixel."""
    if geo.stride != (1, 1):
        x = x[:, :, :: geo.stride[0], :: geo.stride[1]]
    return x


def _output_buffer(
    input: torch.Tensor, geo: Geometry, layout: torch.memory_format | None = None
) -> torch.Tensor:
    """Uninitialised (len(input), O, OH, OW) output in ``layout``, by default the input's."""
    shape = (input.shape[0], geo.out_channels, geo.out_h, geo.out_w)
    return torch.empty(
        shape,
        dtype=input.dtype,
        device=input.device,
        memory_format=layout or im2col.memory_format_of(input),
    )


def _as_product(out: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """The output viewed as the matrix product writes it: (n, L, O) for NHWC, else (n, O, L)."""
    n = out.shape[0]
    if geo.channels_last:
        return out.permute(0, 2, 3, 1).view(n, geo.positions, geo.out_channels)
    return out.view(n, geo.out_channels, geo.positions)


def _shared(matrix: torch.Tensor, batch: int) -> torch.Tensor:
    """One matrix seen as a batch of ``batch`` (stride 0): bmm reads it without copying,
    where a broadcasting matmul would first copy the batched operand."""
    return matrix.expand(batch, *matrix.shape)


def _forward_chunk(
    x: torch.Tensor, weight: torch.Tensor, geo: Geometry, out: torch.Tensor, work: Workspace
):
    """Write the convolution of chunk ``x`` into ``out``, its slice of the product buffer."""
    n, groups = x.shape[0], geo.groups
    if geo.pointwise and groups == 1:
        x = _pointwise_input(x, geo)
        w2d = weight.reshape(geo.out_channels, geo.channels)
        if geo.channels_last:
            rows = x.permute(0, 2, 3, 1).reshape(-1, geo.channels)
            torch.mm(rows, w2d.t(), out=out.view(-1, geo.out_channels))
        else:
            torch.bmm(_shared(w2d, n), x.reshape(n, geo.channels, geo.positions), out=out)
        return
    if groups == 1 and geo.channels_last:
        rows = _im2col(x, geo, "rows", work)  # (nL, kh*kw*C)
        out.view(-1, geo.out_channels).copy_(gemm.mm_t(rows, _weight_rows(weight, geo)))
        return
    cols = _im2col(x, geo, "unfold", work)  # (n, G, Ck, L)
    w3d = weight.reshape(groups, geo.out_channels // groups, geo.k)
    if groups == 1:
        torch.bmm(_shared(w3d[0], n), cols[:, 0], out=out)  # (n, O, L)
    elif geo.channels_last:
        out.view(n, geo.positions, geo.out_channels).copy_(
            (w3d @ cols).view(n, geo.out_channels, geo.positions).transpose(1, 2)
        )
    else:
        torch.matmul(w3d, cols, out=out.view(n, groups, geo.out_channels // groups, -1))


def _backward_chunk(
    x: torch.Tensor,
    weight: torch.Tensor,
    grad_out: torch.Tensor,
    geo: Geometry,
    need_input: bool,
    need_weight: bool,
    work: Workspace,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of one batch chunk: (grad_input, grad_weight summed over the chunk)."""
    n, groups = x.shape[0], geo.groups
    grad_input = grad_weight = None
    if geo.pointwise and groups == 1:
        xs = _pointwise_input(x, geo)
        w2d = weight.reshape(geo.out_channels, geo.channels)
        if geo.channels_last:
            g_rows = grad_out.permute(0, 2, 3, 1).reshape(-1, geo.out_channels)  # (nL, O)
            if need_weight:
                x_rows = xs.permute(0, 2, 3, 1).reshape(-1, geo.channels)
                grad_weight = g_rows.t() @ x_rows
            if need_input:
                g_x = (g_rows @ w2d).view(n, geo.out_h, geo.out_w, geo.channels)
                g_x = g_x.permute(0, 3, 1, 2)
        else:
            g = grad_out.reshape(n, geo.out_channels, geo.positions)
            if need_weight:
                x_cl = xs.reshape(n, geo.channels, geo.positions)
                grad_weight = torch.bmm(g, x_cl.transpose(1, 2)).sum(0)
            if need_input:
                g_x = torch.bmm(_shared(w2d.t(), n), g).view(n, geo.channels, geo.out_h, geo.out_w)
        if need_input:
            if geo.stride == (1, 1):
                grad_input = g_x
            else:
                grad_input = torch.zeros_like(x, memory_format=memory_format(geo))
                grad_input[:, :, :: geo.stride[0], :: geo.stride[1]] = g_x
        if grad_weight is not None:
            grad_weight = grad_weight.view_as(weight)
        return grad_input, grad_weight

    if geo.channels_last and groups == 1:
        g_rows = grad_out.permute(0, 2, 3, 1).reshape(-1, geo.out_channels)  # (nL, O)
        if need_weight:
            columns = _im2col(x, geo, "rows", work)  # (nL, kh*kw*C)
            grad_rows = gemm.mm_t(g_rows.t(), columns.t())  # (O, kh*kw*C)
            grad_weight = grad_rows.view(geo.out_channels, geo.kh, geo.kw, -1).permute(0, 3, 1, 2)
        if need_input and geo.stride == (1, 1):  # one (nL x O) @ (O x kh*kw*C), kh*kw adds
            grad_rows = gemm.mm_t(g_rows, _weight_rows(weight, geo).t())
            grad_input = im2col.col2im(
                grad_rows,
                (n, geo.channels, geo.height, geo.width),
                geo.pads,
                geo.kernel,
                geo.stride,
                geo.dilation,
                geo.out_hw,
                "rows",
                torch.channels_last,
            )
        elif need_input:  # (C*kh*kw x O) @ (O x L): F.fold's own layout, no transposing copy
            w2d = weight.reshape(geo.out_channels, geo.k)
            g_ol = g_rows.view(n, geo.positions, geo.out_channels).transpose(1, 2)
            grad_input = _fold(torch.bmm(_shared(w2d.t(), n), g_ol), n, geo)
        return grad_input, grad_weight

    w3d = weight.reshape(groups, geo.out_channels // groups, geo.k)
    if groups == 1:
        g_ol = grad_out.reshape(n, geo.out_channels, geo.positions)
        if need_weight:
            cols = _im2col(x, geo, "unfold", work)[:, 0]
            grad_weight = torch.bmm(g_ol, cols.transpose(1, 2)).sum(0).view_as(weight)
        if need_input:
            grad_cols = torch.bmm(_shared(w3d[0].t(), n), g_ol)  # (n, Ck, L)
            grad_input = _fold(grad_cols, n, geo)
        return grad_input, grad_weight

    g = grad_out.reshape(n, groups, geo.out_channels // groups, geo.positions)
    if need_weight:
        cols = _im2col(x, geo, "unfold", work)
        grad_weight = (g @ cols.transpose(-1, -2)).sum(0).view_as(weight)
    if need_input:
        grad_input = _fold(w3d.transpose(1, 2) @ g, n, geo)
    return grad_input, grad_weight


class Conv2dFunction(torch.autograd.Function):
    """The autograd node; call it through :func:`conv2d`, which checks the arguments."""

    @staticmethod
    def forward(ctx, input, weight, bias, stride, pads, dilation, groups):  # type: ignore[override]
        geo = Geometry(input, weight, stride, pads, dilation, groups)
        ctx.geo = geo
        ctx.has_bias = bias is not None
        ctx.save_for_backward(input, weight)
        out = _output_buffer(input, geo)
        if geo.implicit:
            implicit.forward(input, weight, bias, geo.plan(), out)
            return out
        step = chunk_size(geo)
        work = Workspace(geo, step, input)
        # An NCHW input on rows: each chunk's product in a channels_last scratch, then out.
        scratch = _output_buffer(input[:step], geo, torch.channels_last) if geo.via_rows else None
        for i in range(0, geo.batch, step):
            chunk = out[i : i + step]
            target = chunk if scratch is None else scratch[: len(chunk)]
            _forward_chunk(input[i : i + step], weight, geo, _as_product(target, geo), work)
            if scratch is not None:
                chunk.copy_(target)
        if bias is not None:
            out += bias.view(1, -1, 1, 1)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # type: ignore[override]
        input, weight = ctx.saved_tensors
        geo: Geometry = ctx.geo
        need_input, need_weight, need_bias = ctx.needs_input_grad[:3]
        layout = im2col.memory_format_of(input)  # on rows, the chunks change layout themselves
        grad_out = grad_out.contiguous(memory_format=layout)
        grad_input = grad_weight = grad_bias = None
        if geo.implicit and (need_input or need_weight):
            if need_input:
                grad_input = torch.empty_like(input, memory_format=memory_format(geo))
            grad_weight = implicit.backward(
                input, weight, grad_out, geo.plan(), grad_input, need_weight
            )
            if grad_weight is not None:
                grad_weight = grad_weight.contiguous(memory_format=im2col.memory_format_of(weight))
        elif need_input or need_weight:
            step = chunk_size(geo)
            work = Workspace(geo, step, input)
            whole = step == geo.batch and not geo.via_rows  # one chunk's own gradient will do
            if need_input and not whole:
                grad_input = torch.empty_like(input, memory_format=layout)
            for i in range(0, geo.batch, step):
                g_in, g_w = _backward_chunk(
                    input[i : i + step],
                    weight,
                    grad_out[i : i + step],
                    geo,
                    need_input,
                    need_weight,
                    work,
                )
                if need_input and not whole:
                    grad_input[i : i + step] = g_in
                elif need_input:
                    grad_input = g_in
                if need_weight:
                    grad_weight = g_w if grad_weight is None else grad_weight.add_(g_w)
        if need_bias and ctx.has_bias:
            grad_bias = grad_out.sum((0, 2, 3))
        return grad_input, grad_weight, grad_bias, None, None, None, None


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Drop-in for ``torch.nn.functional.conv2d``, computed with im2col, matmul and col2im.

    Accepts int or pair kernel geometry, ``padding="same"|"valid"``, groups
    (depthwise included), float32/float64/bfloat16, CPU or CUDA, contiguous or
    channels_last input, and follows ``torch.autocast`` like the built-in conv.
    Raises ``ValueError`` naming the argument before any work is done.
    """
    stride_hw, pads, dilation_hw = check_arguments(
        input, weight, bias, stride, padding, dilation, groups
    )

    device_type = input.device.type
    if torch.is_autocast_enabled(device_type):
        dtype = torch.get_autocast_dtype(device_type)
        input, weight = input.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
        with torch.autocast(device_type, enabled=False):
            return Conv2dFunction.apply(input, weight, bias, stride_hw, pads, dilation_hw, groups)
    return Conv2dFunction.apply(input, weight, bias, stride_hw, pads, dilation_hw, groups)

"""Stride-1 convolution as an implicit GEMM over shifted views of the padded input.

No columns are built. The input of a batch chunk of ``s`` samples is zero-padded once into
a buffer that is *pixel-major*: (s*Hp*Wp, C) rows for channels_last (NHWC) inputs, the
transposed (C, s*Hp*Wp) for NCHW ones (a "CNHW" buffer, so that each channel is one long
run over every pixel of the chunk). Output pixel (n, oy, ox) is given the frame row
``r = n*Hp*Wp + oy*Wp + ox``; for kernel offset (i, j) its input pixel is row
``r + i*dh*Wp + j*dw`` of the padded buffer. So for every offset, the
``M = (s-1)*Hp*Wp + (OH-1)*Wp + OW`` buffer rows starting at ``off_ij = i*dh*Wp + j*dw``
are one ordinary (M x C) matrix (a slice, no copy), and the convolution is kh*kw
accumulating products into the (M x O) output frame::

    frame[:M]                  = sum_ij  x_pad[off_ij : off_ij + M] @ W_ij^T     (W_ij: O x C)
    grad_W_ij                  = frame_grad[:M]^T @ x_pad[off_ij : off_ij + M]
    grad_x_pad[off_ij : +M]   += frame_grad[:M] @ W_ij                         (col2im)

Frame rows with ``ox >= OW`` or ``oy >= OH`` (the padding's own positions) are computed and
dropped (forward) or held at zero (backward): Hp*Wp / (OH*OW) extra work, 13% for a 3x3
layer at 32x32, 27% at 16x16. This is the "implicit GEMM" formulation of convolution
(Chetlur et al., "cuDNN: Efficient Primitives for Deep Learning", 2014, section 3.1), with
the shifted-view trick for stride 1 of e.g. Vasudevan, Anderson & Gregg, "Parallel
Multi Channel Convolution using General Matrix Multiplication" (2017).

The buffers (padded input, frame; in backward also the padded gradient) are allocated once
per call and reused by every chunk: their zero borders are written once.
"""

from __future__ import annotations

import torch

# Frame rows of one chunk are kept under this many bytes per buffer.
FRAME_BUDGET_BYTES = 2 * 2**20


class Plan:
    """The shapes and offsets of one stride-1 convolution call."""

    def __init__(
        self,
        input_shape: torch.Size,
        weight_shape: torch.Size,
        pads: tuple[int, int, int, int],
        dilation: tuple[int, int],
        channels_last: bool,
        element_size: int,
    ) -> None:
        self.batch, self.channels, self.height, self.width = input_shape
        self.out_channels, _, kh, kw = weight_shape
        self.top, bottom, self.left, right = pads
        self.padded_h = self.height + self.top + bottom
        self.padded_w = self.width + self.left + right
        self.out_h = self.padded_h - dilation[0] * (kh - 1)
        self.out_w = self.padded_w - dilation[1] * (kw - 1)
        self.kernel = (kh, kw)
        self.channels_last = channels_last
        self.plane = self.padded_h * self.padded_w
        self.offsets = [
            i * dilation[0] * self.padded_w + j * dilation[1] for i in range(kh) for j in range(kw)
        ]
        widest = max(self.channels, self.out_channels) * element_size * self.plane
        self.chunk = max(1, min(self.batch, FRAME_BUDGET_BYTES // widest))

    def rows(self, samples: int) -> int:
        """M: the frame rows of ``samples`` samples that can hold an output pixel."""
        return (samples - 1) * self.plane + (self.out_h - 1) * self.padded_w + self.out_w

    def buffer(self, samples: int, channels: int, like: torch.Tensor) -> torch.Tensor:
        """A zeroed pixel-major buffer viewed as (samples*Hp*Wp, channels) rows."""
        if self.channels_last:
            return like.new_zeros(samples * self.plane, channels)
        return like.new_zeros(channels, samples * self.plane).t()

    def pixels(self, buffer: torch.Tensor, samples: int) -> torch.Tensor:
        """The first ``samples`` samples of ``buffer`` as (samples, Hp, Wp, channels)."""
        flat = buffer[: samples * self.plane]
        return flat.unflatten(0, (samples, self.padded_h, self.padded_w))

    def interior(self, buffer: torch.Tensor, samples: int) -> torch.Tensor:
        """The unpadded (samples, H, W, channels) part of a padded buffer."""
        view = self.pixels(buffer, samples)
        return view[:, self.top : self.top + self.height, self.left : self.left + self.width]

    def valid(self, frame: torch.Tensor, samples: int) -> torch.Tensor:
        """The (samples, OH, OW, channels) output pixels of a frame."""
        return self.pixels(frame, samples)[:, : self.out_h, : self.out_w]


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1)


def weight_taps(weight: torch.Tensor) -> torch.Tensor:
    """The weight as (kh*kw, C, O): tap ``t`` is W_ij^T, the right operand of the forward."""
    return weight.permute(2, 3, 1, 0).reshape(-1, weight.shape[1], weight.shape[0]).contiguous()


def forward(
    input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, plan: Plan, out
) -> None:
    """Write the convolution of ``input`` (plus ``bias``) into ``out`` (N, O, OH, OW)."""
    taps = weight_taps(weight)
    padded = plan.buffer(plan.chunk, plan.channels, input)
    frame = plan.buffer(plan.chunk, plan.out_channels, input)
    bias_nhwc = None if bias is None else bias.view(1, 1, 1, -1)
    for start in range(0, plan.batch, plan.chunk):
        stop = min(plan.batch, start + plan.chunk)
        samples, m = stop - start, plan.rows(stop - start)
        plan.interior(padded, samples).copy_(_nhwc(input[start:stop]))
        rows = frame[:m]
        for tap, offset in enumerate(plan.offsets):
            shifted = padded[offset : offset + m]
            if tap == 0:
                torch.mm(shifted, taps[0], out=rows)
            else:
                rows.addmm_(shifted, taps[tap])
        target = _nhwc(out[start:stop])
        if bias_nhwc is None:
            target.copy_(plan.valid(frame, samples))
        else:
            torch.add(plan.valid(frame, samples), bias_nhwc, out=target)


def backward(
    input: torch.Tensor,
    weight: torch.Tensor,
    grad_out: torch.Tensor,
    plan: Plan,
    grad_input: torch.Tensor | None,
    need_weight: bool,
) -> torch.Tensor | None:
    """Write grad_input into ``grad_input`` (if given); return grad_weight (O, C, kh, kw)."""
    taps = weight_taps(weight)
    grad_frame = plan.buffer(plan.chunk, plan.out_channels, grad_out)
    padded = plan.buffer(plan.chunk, plan.channels, input) if need_weight else None
    grad_padded = None if grad_input is None else plan.buffer(plan.chunk, plan.channels, grad_out)
    grad_taps = (
        grad_out.new_zeros(len(plan.offsets), plan.out_channels, plan.channels)
        if need_weight
        else None
    )
    for start in range(0, plan.batch, plan.chunk):
        stop = min(plan.batch, start + plan.chunk)
        samples, m = stop - start, plan.rows(stop - start)
        plan.valid(grad_frame, samples).copy_(_nhwc(grad_out[start:stop]))
        g_rows = grad_frame[:m]
        if padded is not None:
            plan.interior(padded, samples).copy_(_nhwc(input[start:stop]))
            for tap, offset in enumerate(plan.offsets):
                grad_taps[tap].addmm_(g_rows.t(), padded[offset : offset + m])
        if grad_padded is not None:
            if start:
                grad_padded.zero_()
            for tap, offset in enumerate(plan.offsets):
                grad_padded[offset : offset + m].addmm_(g_rows, taps[tap].t())
            _nhwc(grad_input[start:stop]).copy_(plan.interior(grad_padded, samples))
    if grad_taps is None:
        return None
    kh, kw = plan.kernel
    return grad_taps.view(kh, kw, plan.out_channels, plan.channels).permute(2, 3, 0, 1)

"""scenelab.ops.im2col against F.unfold and F.fold directly, in both layouts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenelab.ops import im2col

LAYOUTS = [("unfold", torch.contiguous_format), ("rows", torch.channels_last)]


@st.composite
def geometries(draw):
    """Kernel, stride (also larger than the kernel), dilation, asymmetric padding, odd sizes."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))  # top, bottom, left, right
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    height = draw(st.integers(max(1, spans[0] - pads[0] - pads[1]), spans[0] + 7))
    width = draw(st.integers(max(1, spans[1] - pads[2] - pads[3]), spans[1] + 7))
    return {
        "shape": (draw(st.integers(1, 3)), draw(st.integers(1, 5)), height, width),
        "kernel": kernel,
        "stride": stride,
        "dilation": dilation,
        "pads": pads,
    }


def out_hw(g: dict) -> tuple[int, int]:
    top, bottom, left, right = g["pads"]
    padded = (g["shape"][2] + top + bottom, g["shape"][3] + left + right)
    return tuple(
        (p - d * (k - 1) - 1) // s + 1
        for p, k, s, d in zip(padded, g["kernel"], g["stride"], g["dilation"], strict=True)
    )


def reference_unfold(x: torch.Tensor, g: dict) -> torch.Tensor:
    top, bottom, left, right = g["pads"]
    return F.unfold(
        F.pad(x, (left, right, top, bottom)), g["kernel"], g["dilation"], 0, g["stride"]
    )


def as_unfold_layout(cols: torch.Tensor, layout: str, g: dict) -> torch.Tensor:
    """Columns of either layout in F.unfold's (N, C*kh*kw, L)."""
    if layout == "unfold":
        return cols
    n, c = g["shape"][:2]
    positions = out_hw(g)[0] * out_hw(g)[1]
    return cols.view(n, positions, *g["kernel"], c).permute(0, 4, 2, 3, 1).reshape(n, -1, positions)


def from_unfold_layout(cols: torch.Tensor, layout: str, g: dict) -> torch.Tensor:
    if layout == "unfold":
        return cols
    n, c = g["shape"][:2]
    kh, kw = g["kernel"]
    return cols.view(n, c, kh, kw, -1).permute(0, 4, 2, 3, 1).reshape(-1, kh * kw * c)


def reference_fold(cols: torch.Tensor, g: dict) -> torch.Tensor:
    top, bottom, left, right = g["pads"]
    _, _, h, w = g["shape"]
    padded = F.fold(
        cols, (h + top + bottom, w + left + right), g["kernel"], g["dilation"], 0, g["stride"]
    )
    return padded[:, :, top : top + h, left : left + w]


def run_im2col(x: torch.Tensor, g: dict, layout: str) -> torch.Tensor:
    x_pad = im2col.pad(x, g["pads"])
    return im2col.im2col(x_pad, g["kernel"], g["stride"], g["dilation"], out_hw(g), layout)


def run_col2im(cols: torch.Tensor, g: dict, layout: str, memory_format) -> torch.Tensor:
    return im2col.col2im(
        cols,
        g["shape"],
        g["pads"],
        g["kernel"],
        g["stride"],
        g["dilation"],
        out_hw(g),
        layout,
        memory_format,
    )


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(geometries(), st.sampled_from(LAYOUTS))
def test_im2col_equals_unfold(g, layout):
    layout, memory_format = layout
    x = torch.randn(g["shape"], dtype=torch.float64).contiguous(memory_format=memory_format)
    cols = run_im2col(x, g, layout)
    assert torch.equal(as_unfold_layout(cols, layout, g), reference_unfold(x, g))


@FAST
@given(geometries(), st.sampled_from(LAYOUTS))
def test_col2im_equals_fold(g, layout):
    layout, memory_format = layout
    positions = out_hw(g)[0] * out_hw(g)[1]
    n, c = g["shape"][:2]
    unfold_cols = torch.randn(
        n, c * g["kernel"][0] * g["kernel"][1], positions, dtype=torch.float64
    )
    grad = run_col2im(from_unfold_layout(unfold_cols, layout, g), g, layout, memory_format)
    assert grad.shape == g["shape"]
    torch.testing.assert_close(grad, reference_fold(unfold_cols, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("layout", "memory_format"), LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_simplenet_shapes_and_low_precision(layout, memory_format, dtype):
    """The 7x7/2 stem and a 3x3 "same" layer, in float32 and bfloat16 (copies are exact)."""
    for g in (
        {
            "shape": (2, 3, 21, 19),
            "kernel": (7, 7),
            "stride": (2, 2),
            "dilation": (1, 1),
            "pads": (3, 3, 3, 3),
        },
        {
            "shape": (1, 16, 9, 8),
            "kernel": (3, 3),
            "stride": (1, 1),
            "dilation": (1, 1),
            "pads": (1, 1, 1, 1),
        },
    ):
        x = torch.randn(g["shape"]).to(dtype).contiguous(memory_format=memory_format)
        cols = run_im2col(x, g, layout)
        assert cols.dtype == dtype
        assert torch.equal(as_unfold_layout(cols, layout, g), reference_unfold(x, g))
        grad = run_col2im(cols, g, layout, memory_format)
        reference = reference_fold(as_unfold_layout(cols, layout, g).double(), g)
        torch.testing.assert_close(grad.double(), reference, rtol=2e-2, atol=2e-2)


def test_pad_keeps_the_memory_format():
    x = torch.randn(2, 5, 4, 3).contiguous(memory_format=torch.channels_last)
    padded = im2col.pad(x, (1, 2, 0, 3))
    assert padded.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(padded, F.pad(x, (0, 3, 1, 2)))


@FAST
@given(geometries(), st.sampled_from(LAYOUTS), st.integers(0, 5))
def test_im2col_into_a_given_buffer_equals_unfold(g, layout, spare):
    """The op's reused column buffer: ``out=`` a slice of a larger flat buffer."""
    layout, memory_format = layout
    x = torch.randn(g["shape"], dtype=torch.float64).contiguous(memory_format=memory_format)
    n, c = g["shape"][:2]
    numel = n * c * g["kernel"][0] * g["kernel"][1] * out_hw(g)[0] * out_hw(g)[1]
    buffer = torch.full((numel + spare,), float("nan"), dtype=torch.float64)
    x_pad = im2col.pad(x, g["pads"])
    cols = im2col.im2col(
        x_pad, g["kernel"], g["stride"], g["dilation"], out_hw(g), layout, out=buffer[:numel]
    )
    assert cols.data_ptr() == buffer.data_ptr()
    assert torch.equal(as_unfold_layout(cols, layout, g), reference_unfold(x, g))

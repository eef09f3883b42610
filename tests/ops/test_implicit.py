"""scenelab.ops.implicit (stride-1 implicit GEMM) against F.conv2d, its autograd, gradcheck."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenelab.ops import conv as conv_module
from scenelab.ops import conv2d, gemm, implicit

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

FORMATS = [torch.contiguous_format, torch.channels_last]


@st.composite
def stride_one_convs(draw):
    """Stride-1 convolutions: rectangular kernels, dilation, asymmetric padding, odd sizes."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    height = draw(st.integers(max(1, spans[0] - pads[0] - pads[1]), spans[0] + 6))
    width = draw(st.integers(max(1, spans[1] - pads[2] - pads[3]), spans[1] + 6))
    return {
        "shape": (draw(st.integers(1, 5)), draw(st.integers(1, 4)), height, width),
        "out_channels": draw(st.integers(1, 4)),
        "kernel": kernel,
        "dilation": dilation,
        "pads": pads,
        "memory_format": draw(st.sampled_from(FORMATS)),
        "chunk": draw(st.integers(1, 5)),  # samples per chunk: a short last one too
    }


def reference(x, w, b, c):
    top, bottom, left, right = c["pads"]
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, 1, 0, c["dilation"])


def run_implicit(x, w, b, grad_out, c):
    """implicit.forward and implicit.backward called directly: (out, grad_input, grad_weight)."""
    plan = implicit.Plan(
        x.shape,
        w.shape,
        c["pads"],
        c["dilation"],
        c["memory_format"] == torch.channels_last,
        x.element_size(),
    )
    plan.chunk = min(c["chunk"], x.shape[0])
    out = torch.empty(
        (x.shape[0], w.shape[0], plan.out_h, plan.out_w),
        dtype=x.dtype,
        memory_format=c["memory_format"],
    )
    implicit.forward(x, w, b, plan, out)
    grad_input = torch.empty_like(x)
    grad_weight = implicit.backward(x, w, grad_out, plan, grad_input, need_weight=True)
    return out, grad_input, grad_weight


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stride_one_convs(), st.booleans())
def test_forward_and_backward_match_pytorch(c, with_bias):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(c["shape"], dtype=torch.float64, generator=generator)
    x = x.contiguous(memory_format=c["memory_format"]).requires_grad_()
    w_shape = (c["out_channels"], c["shape"][1], *c["kernel"])
    w = torch.randn(w_shape, dtype=torch.float64, generator=generator).requires_grad_()
    b = torch.randn(c["out_channels"], dtype=torch.float64) if with_bias else None
    expected = reference(x, w, b, c)
    grad_out = torch.randn_like(expected).contiguous(memory_format=c["memory_format"])
    expected_gx, expected_gw = torch.autograd.grad(expected, (x, w), grad_out)
    out, grad_input, grad_weight = run_implicit(x.detach(), w.detach(), b, grad_out, c)
    assert out.is_contiguous(memory_format=c["memory_format"])
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_input, expected_gx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_weight, expected_gw, rtol=1e-12, atol=1e-12)


def _spy(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


CASES = {  # (input shape, weight shape, padding, dilation)
    "3x3 same": ((3, 4, 12, 11), (5, 4, 3, 3), 1, 1),
    "asymmetric same": ((2, 3, 10, 9), (4, 3, 4, 2), "same", (1, 2)),
    "dilation": ((2, 3, 13, 20), (3, 3, 3, 3), (2, 1), (2, 3)),
    "batch 1, odd": ((1, 5, 9, 7), (2, 5, 3, 2), 1, 1),
}


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_conv2d_takes_the_implicit_path_and_gradchecks(monkeypatch, case, memory_format):
    x_shape, w_shape, padding, dilation = CASES[case]
    monkeypatch.setattr(implicit, "FRAME_BUDGET_BYTES", 1)  # one sample per chunk
    forwards = _spy(monkeypatch, implicit, "forward")
    backwards = _spy(monkeypatch, implicit, "backward")
    columns = _spy(monkeypatch, conv_module.im2col, "im2col")
    x = torch.randn(x_shape, dtype=torch.float64).contiguous(memory_format=memory_format)
    w = torch.randn(w_shape, dtype=torch.float64, requires_grad=True)
    b = torch.randn(w_shape[0], dtype=torch.float64, requires_grad=True)
    x.requires_grad_()
    ours = conv2d(x, w, b, 1, padding, dilation)
    expected = F.conv2d(x, w, b, 1, padding, dilation)
    assert ours.is_contiguous(memory_format=memory_format)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda *t: conv2d(*t, 1, padding, dilation), (x, w, b))
    assert forwards and backwards and not columns


def test_float32_matches_pytorch_on_simplenet_shapes():
    """The study's 3x3 layers in float32: errors relative to the largest value, as in
    test_conv.py (a sum over thousands of products rounds at about 1e-6 of it)."""
    for (c, size), memory_format in zip([(64, 32), (128, 16)], FORMATS, strict=True):
        x = torch.randn(3, c, size, size).contiguous(memory_format=memory_format)
        w = torch.randn(c, c, 3, 3) / 24
        x.requires_grad_(), w.requires_grad_()
        ours, expected = conv2d(x, w, padding=1), F.conv2d(x, w, padding=1)
        grad_out = torch.randn_like(expected)
        pairs = zip(
            (ours, *torch.autograd.grad(ours, (x, w), grad_out)),
            (expected, *torch.autograd.grad(expected, (x, w), grad_out)),
            strict=True,
        )
        for a, e in pairs:
            assert ((a - e).abs().max() / e.abs().max()).item() <= 1e-5


@pytest.mark.parametrize("memory_format", FORMATS)
@pytest.mark.parametrize(
    ("dtype", "size", "implicit_expected"),
    [
        (torch.float32, 12, True),  # 14*14 / (12*12) = 1.36 rows per pixel
        (torch.float32, 4, False),  # 6*6 / (4*4) = 2.25: columns (rows) instead
        (torch.bfloat16, 12, False),  # low precision: one product over the columns
    ],
)
@pytest.mark.parametrize("onednn", [False, True])
def test_path_choice(monkeypatch, memory_format, dtype, size, implicit_expected, onednn):
    """Without oneDNN's float32 matmul the implicit GEMM takes stride-1 float32 layers;
    with it, one product over the columns on oneDNN does (``scenelab.ops.gemm``)."""
    if onednn and gemm._ONEDNN_LINEAR is None:
        pytest.skip("this PyTorch has no oneDNN linear")
    if not onednn:
        monkeypatch.setattr(gemm, "_ONEDNN_LINEAR", None)
    implicit_expected = implicit_expected and not onednn
    forwards = _spy(monkeypatch, implicit, "forward")
    columns = _spy(monkeypatch, conv_module.im2col, "im2col")
    col2im = _spy(monkeypatch, conv_module.im2col, "col2im")
    x = torch.randn(2, 8, size, size, dtype=dtype).contiguous(memory_format=memory_format)
    w = torch.randn(4, 8, 3, 3, dtype=dtype, requires_grad=True)
    x.requires_grad_()
    out = conv2d(x, w, padding=1)
    out.float().sum().backward()
    assert out.is_contiguous(memory_format=memory_format)
    assert bool(forwards) == implicit_expected
    assert bool(columns) == bool(col2im) == (not implicit_expected)
    (expected_gx,) = torch.autograd.grad(F.conv2d(x, w, padding=1).float().sum(), (x,))
    tolerance = 1e-5 if dtype == torch.float32 else 5e-2
    torch.testing.assert_close(x.grad, expected_gx, rtol=tolerance, atol=tolerance)


ROWS_CASES = {  # (input shape, weight shape, stride, padding, dilation), NCHW float32 on rows
    "3x3 same": ((5, 6, 9, 9), (4, 6, 3, 3), 1, 1, 1),
    "3x3 valid (no padded buffer)": ((5, 6, 9, 8), (4, 6, 3, 3), 1, 0, 1),
    "1x1 small image": ((5, 6, 4, 4), (7, 6, 1, 1), 1, 0, 1),
    "7x7 stride 2 small image": ((5, 3, 16, 15), (4, 3, 7, 7), 2, 3, 1),
    "dilated": ((5, 6, 10, 10), (4, 6, 3, 3), 1, 2, 2),
}


@pytest.mark.parametrize("case", list(ROWS_CASES))
def test_nchw_input_on_rows_keeps_its_layout_chunk_by_chunk(monkeypatch, case):
    """An NCHW input that runs on rows changes layout chunk by chunk: output and
    grad_input stay NCHW and equal F.conv2d's, with chunks of one sample."""
    from scenelab.ops import geometry

    x_shape, w_shape, stride, padding, dilation = ROWS_CASES[case]
    monkeypatch.setattr(geometry, "COLUMN_BUDGET_BYTES", 8)  # one sample per thread
    x = torch.randn(x_shape, requires_grad=True)
    w = torch.randn(w_shape, requires_grad=True)
    b = torch.randn(w_shape[0], requires_grad=True)
    assert geometry.Geometry(x, w, (stride,) * 2, (padding,) * 4, (dilation,) * 2, 1).rows
    ours = conv2d(x, w, b, stride, padding, dilation)
    expected = F.conv2d(x, w, b, stride, padding, dilation)
    assert ours.is_contiguous()
    grad_out = torch.randn_like(expected)
    ours_grads = torch.autograd.grad(ours, (x, w, b), grad_out)
    assert ours_grads[0].is_contiguous()
    for a, e in zip(
        (ours, *ours_grads),
        (expected, *torch.autograd.grad(expected, (x, w, b), grad_out)),
        strict=True,
    ):
        assert ((a - e).abs().max() / e.abs().max()).item() <= 1e-5

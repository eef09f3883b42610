"""scenelab.ops.gemm: ``a @ b.T`` on oneDNN for float32 CPU tensors, torch.mm otherwise."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scenelab.ops import conv2d, gemm

needs_onednn = pytest.mark.skipif(
    gemm._ONEDNN_LINEAR is None, reason="this PyTorch has no oneDNN linear"
)


def _operands(transposed_a: bool, transposed_b: bool, dtype: torch.dtype):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(37, 70, generator=generator, dtype=dtype)
    b = torch.randn(19, 70, generator=generator, dtype=dtype)
    if transposed_a:  # the same values, stored column-major (as grad_weight's g_rows.T)
        a = a.t().contiguous().t()
    if transposed_b:
        b = b.t().contiguous().t()
    return a, b


@pytest.mark.parametrize("transposed_a", [False, True])
@pytest.mark.parametrize("transposed_b", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_mm_t_equals_the_float64_product(transposed_a, transposed_b, dtype):
    a, b = _operands(transposed_a, transposed_b, dtype)
    expected = a.double() @ b.double().t()
    got = gemm.mm_t(a, b)
    assert got.dtype == dtype and got.shape == (37, 19)
    tolerance = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 2e-2}[dtype]
    assert ((got.double() - expected).abs().max() / expected.abs().max()).item() <= tolerance


@needs_onednn
def test_float32_cpu_products_run_on_onednn(monkeypatch):
    """A stride-1 float32 3x3 layer: forward and both gradients through oneDNN's linear,
    matching F.conv2d."""
    calls = []
    real = gemm._ONEDNN_LINEAR
    monkeypatch.setattr(gemm, "_ONEDNN_LINEAR", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = torch.randn(4, 16, 12, 12, requires_grad=True)
    w = torch.randn(8, 16, 3, 3, requires_grad=True)
    ours = conv2d(x, w, padding=1)
    expected = F.conv2d(x, w, padding=1)
    grad_out = torch.randn_like(expected)
    for a, e in zip(
        (ours, *torch.autograd.grad(ours, (x, w), grad_out)),
        (expected, *torch.autograd.grad(expected, (x, w), grad_out)),
        strict=True,
    ):
        assert ((a - e).abs().max() / e.abs().max()).item() <= 1e-5
    assert len(calls) >= 3  # forward, grad_weight, grad_input


def test_float64_and_bfloat16_stay_off_onednn_linear():
    assert not gemm.uses_onednn(torch.zeros(2, 2, dtype=torch.float64))
    assert not gemm.uses_onednn(torch.zeros(2, 2, dtype=torch.bfloat16))

"""scenelab.ops.check: gradcheck and parity with F.conv2d, and that both catch a broken conv."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scenelab.ops import check
from scenelab.ops.check import CASES, ConvCase, check_case, check_conv2d


def test_scenelab_conv_passes_every_case():
    results = check_conv2d()
    assert [result.case for result in results] == list(CASES)
    for result in results:
        assert result.gradcheck_passed, result.case
        errors = (
            result.output_error,
            result.grad_input_error,
            result.grad_weight_error,
            result.grad_bias_error,
        )
        assert all(0 <= error < 1e-4 for error in errors), (result.case, errors)


class _WrongWeightGradient(torch.autograd.Function):
    """F.conv2d forward; its weight gradient is 1% too large."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.geometry
        grad_x = torch.nn.grad.conv2d_input(
            x.shape, weight, grad_output, stride, padding, dilation, groups
        )
        grad_w = torch.nn.grad.conv2d_weight(
            x, weight.shape, grad_output, stride, padding, dilation, groups
        )
        return grad_x, 1.01 * grad_w, grad_output.sum((0, 2, 3)), None, None, None, None


CASE = ConvCase("3x3", 2, 3, 4, (3, 3), (5, 5), padding=1)


def test_a_wrong_weight_gradient_fails_gradcheck_and_shows_in_the_errors(monkeypatch):
    monkeypatch.setattr(check, "conv2d", _WrongWeightGradient.apply)
    result = check_case(CASE)
    assert not result.gradcheck_passed
    assert result.output_error < 1e-6 and result.grad_input_error < 1e-5
    # 1% of the weight gradient F.conv2d gives for the same tensors and output gradient
    x, weight, bias = check._tensors(CASE, torch.float32)
    output = F.conv2d(x, weight, bias, 1, 1)
    output.backward(torch.randn(output.shape, generator=torch.Generator().manual_seed(1)))
    expected = 0.01 * weight.grad.abs().max().item()
    assert abs(result.grad_weight_error - expected) < 1e-3 * expected + 1e-6


def test_an_output_offset_is_measured_exactly(monkeypatch):
    monkeypatch.setattr(check, "conv2d", lambda *args: F.conv2d(*args) + 0.25)
    result = check_case(CASE)
    assert result.gradcheck_passed  # the gradients are right
    assert abs(result.output_error - 0.25) < 1e-6
    assert result.grad_input_error < 1e-6 and result.grad_weight_error < 1e-6

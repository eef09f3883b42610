"""The matrix products of the rows path: ``a @ b.T`` on the fastest GEMM at hand.

On CPU, PyTorch sends float32 products to MKL's sgemm and bfloat16 ones to oneDNN. For the
shapes of a convolution's products, tall and narrow ((N*L x kh*kw*C) @ (kh*kw*C x O) with O
of 64-128), oneDNN's float32 matmul runs 2-2.4x faster than sgemm on this project's CPU
(``python benchmarks/conv_products.py``, docs/benchmarks.md "oneDNN products"). PyTorch
reaches it, for plain dense tensors, through ``torch.ops.mkldnn._linear_pointwise``, the
op its compiler uses for linear layers; where that op is missing (a build without oneDNN,
another device, float64) the product is ``torch.mm``.
"""

from __future__ import annotations

import torch


def _linear() -> object | None:
    """The op, if this PyTorch has it and it computes ``a @ b.T`` (checked once, on 2x2)."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        linear = torch.ops.mkldnn._linear_pointwise
        a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]])
        if torch.equal(linear(a, b, None, "none", [], ""), a @ b.t()):
            return linear
    except (AttributeError, RuntimeError, TypeError):
        pass
    return None


_ONEDNN_LINEAR = _linear()


def uses_onednn(a: torch.Tensor) -> bool:
    """Whether :func:`mm_t` runs ``a``'s products on oneDNN."""
    return _ONEDNN_LINEAR is not None and a.device.type == "cpu" and a.dtype == torch.float32


# Products with a side shorter than this stay on torch.mm: they gain nothing from oneDNN,
# and the private op is handed only the kind of product it was measured on.
MIN_SIDE = 8


def _plain(t: torch.Tensor) -> bool:
    """Strides exactly (K, 1) or, transposed, exactly (1, M), size-1 dimensions included:
    the only layouts handed to the private op (any other, e.g. the arbitrary stride a size-1
    dimension may carry, goes to torch.mm, which handles every stride)."""
    return t.stride() in ((t.shape[1], 1), (1, t.shape[0]))


def mm_t(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b.T`` for 2-D ``a`` (M x K) and ``b`` (N x K): (M x N)."""
    sides_ok = min(a.shape[0], a.shape[1], b.shape[0]) >= MIN_SIDE
    if uses_onednn(a) and b.dtype == torch.float32 and sides_ok and _plain(a) and _plain(b):
        return _ONEDNN_LINEAR(a, b, None, "none", [], "")  # type: ignore[operator]
    return a @ b.t()

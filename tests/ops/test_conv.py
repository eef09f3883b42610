"""scenelab.ops.conv2d against PyTorch's own convolution and torch.autograd.gradcheck."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from scenelab.ops import conv2d

# PyTorch warns when its own "same" padding needs an asymmetric pad; the reference is right anyway.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@st.composite
def conv_configs(draw, max_size: int = 9):
    """Random valid convolutions: rectangular kernels, stride (also > kernel), padding, dilation,
    groups (depthwise included), non-square inputs, batch 1."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_per_group = draw(st.integers(1, 3))
    depthwise = draw(st.booleans()) and groups > 1
    out_per_group = 1 if depthwise else draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(
        st.one_of(
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
            st.integers(0, 3),
            st.just("valid"),
            st.just("same"),
        )
    )
    if padding == "same":
        stride = (1, 1)
    pad_h, pad_w = (0, 0) if isinstance(padding, str) else torch.nn.modules.utils._pair(padding)
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    height = draw(st.integers(max(1, span_h - 2 * pad_h), max(span_h, max_size)))
    width = draw(st.integers(max(1, span_w - 2 * pad_w), max(span_w, max_size)))
    return {
        "batch": draw(st.integers(1, 3)),
        "in_channels": groups * in_per_group,
        "out_channels": groups * out_per_group,
        "kernel": (kh, kw),
        "size": (height, width),
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "bias": draw(st.booleans()),
        "channels_last": draw(st.booleans()),
    }


def conv_config(**changes) -> dict:
    """One convolution for a hand-written test: a 3x3 conv of 4 to 4 channels on 8x8 by
    default, with ``changes`` applied."""
    config = {
        "batch": 2,
        "in_channels": 4,
        "out_channels": 4,
        "kernel": (3, 3),
        "size": (8, 8),
        "stride": (1, 1),
        "padding": 1,
        "dilation": (1, 1),
        "groups": 1,
        "bias": True,
        "channels_last": False,
    }
    return {**config, **changes}


def make_tensors(config: dict, dtype: torch.dtype, device: str = "cpu", seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    shape = (config["batch"], config["in_channels"], *config["size"])
    x = torch.randn(shape, generator=generator, dtype=dtype).to(device)
    if config["channels_last"]:
        x = x.contiguous(memory_format=torch.channels_last)
    w_shape = (config["out_channels"], config["in_channels"] // config["groups"], *config["kernel"])
    w = torch.randn(w_shape, generator=generator, dtype=dtype).to(device)
    b = torch.randn(config["out_channels"], generator=generator, dtype=dtype).to(device)
    return x.requires_grad_(), w.requires_grad_(), (b.requires_grad_() if config["bias"] else None)


def geometry(config: dict) -> tuple:
    return config["stride"], config["padding"], config["dilation"], config["groups"]


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    scale = expected.abs().max().clamp_min(torch.finfo(expected.dtype).tiny)
    return ((actual - expected).abs().max() / scale).item()


def compare_with_pytorch(config: dict, dtype: torch.dtype, device: str = "cpu") -> list[float]:
    """Relative errors of output, grad_input, grad_weight, grad_bias against F.conv2d."""
    x, w, b = make_tensors(config, dtype, device)
    ours = conv2d(x, w, b, *geometry(config))
    reference = F.conv2d(x, w, b, *geometry(config))
    assert ours.shape == reference.shape
    grad_out = torch.randn_like(reference)
    inputs = [t for t in (x, w, b) if t is not None]
    grads_ours = torch.autograd.grad(ours, inputs, grad_out)
    grads_reference = torch.autograd.grad(reference, inputs, grad_out)
    return [relative_error(ours, reference)] + [
        relative_error(a, e) for a, e in zip(grads_ours, grads_reference, strict=True)
    ]


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(conv_configs())
def test_matches_pytorch_float64(config):
    assert max(compare_with_pytorch(config, torch.float64)) <= 1e-10


@FAST
@given(conv_configs(max_size=14))
def test_matches_pytorch_float32(config):
    assert max(compare_with_pytorch(config, torch.float32)) <= 1e-5


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_configs(max_size=6))
def test_gradcheck(config):
    x, w, b = make_tensors(config, torch.float64)
    inputs = tuple(t for t in (x, w, b) if t is not None)

    def function(*tensors):
        return conv2d(
            tensors[0], tensors[1], tensors[2] if b is not None else None, *geometry(config)
        )

    # fast_mode compares the Jacobian along random directions instead of column by column
    # (PyTorch's "fast gradcheck"); a full gradcheck follows below on one fixed configuration.
    assert torch.autograd.gradcheck(function, inputs, fast_mode=True)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_configs(max_size=5))
def test_double_backward_gradgradcheck(config):
    x, w, b = make_tensors(config, torch.float64)
    inputs = tuple(t for t in (x, w, b) if t is not None)

    def function(*tensors):
        return conv2d(
            tensors[0], tensors[1], tensors[2] if b is not None else None, *geometry(config)
        )

    assert torch.autograd.gradgradcheck(function, inputs, fast_mode=True)


SIMPLENET_LAYERS = [  # (in, out, kernel, stride, padding, size): the study's network
    (3, 64, 7, 2, 3, 32),
    (64, 64, 1, 1, 0, 8),
    (64, 64, 3, 1, 1, 8),
    (128, 512, 1, 1, 0, 4),
]


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("layer", SIMPLENET_LAYERS)
def test_simplenet_layers_match(layer, channels_last):
    cin, cout, k, s, p, size = layer
    config = conv_config(
        batch=4,
        in_channels=cin,
        out_channels=cout,
        kernel=(k, k),
        size=(size, size),
        stride=(s, s),
        padding=p,
        channels_last=channels_last,
    )
    assert max(compare_with_pytorch(config, torch.float32)) <= 1e-5


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("groups", [1, 2])
def test_batch_split_into_chunks_matches(monkeypatch, threads, channels_last, groups):
    """A column budget of a few bytes forces the smallest chunks (one sample per thread);
    a batch of 5 leaves a short last chunk."""
    from scenelab.ops import conv as conv_module
    from scenelab.ops import geometry

    monkeypatch.setattr(geometry, "COLUMN_BUDGET_BYTES", 8)
    calls = []
    real_im2col = conv_module.im2col.im2col
    monkeypatch.setattr(
        conv_module.im2col,
        "im2col",
        lambda x, *a, **k: calls.append(len(x)) or real_im2col(x, *a, **k),
    )
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        config = conv_config(
            batch=5,
            out_channels=6,
            kernel=(3, 2),
            size=(7, 6),
            stride=(2, 1),
            padding=(1, 0),
            dilation=(1, 2),
            groups=groups,
            channels_last=channels_last,
        )
        assert max(compare_with_pytorch(config, torch.float64)) <= 1e-10
    finally:
        torch.set_num_threads(previous)
    chunks = [threads] * (5 // threads) + ([5 % threads] if 5 % threads else [])
    assert calls == chunks * 2  # forward, then again in backward for grad_weight


def test_channels_last_in_channels_last_out():
    x = torch.randn(2, 8, 10, 10).contiguous(memory_format=torch.channels_last)
    w = torch.randn(16, 8, 3, 3)
    for weight, padding in ((w, 1), (w[:, :, :1, :1], 0)):
        out = conv2d(x, weight, padding=padding)
        assert out.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(out, F.conv2d(x, weight, padding=padding))


@pytest.mark.parametrize("dtype", [torch.bfloat16])
def test_low_precision_close_to_float64(dtype):
    x, w, b = (
        t.detach()
        for t in make_tensors(
            conv_config(in_channels=6, size=(9, 9), groups=2),
            torch.float64,
        )
    )
    ours = conv2d(x.to(dtype), w.to(dtype), b.to(dtype), 1, 1, 1, 2)
    assert ours.dtype == dtype
    reference = F.conv2d(x, w, b, 1, 1, 1, 2)
    assert relative_error(ours.double(), reference) < 2e-2


def test_follows_autocast_like_the_builtin_conv():
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    w = torch.randn(5, 3, 3, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = conv2d(x, w, None, 1, 1)
        reference = F.conv2d(x, w, None, 1, 1)
    assert ours.dtype == reference.dtype == torch.bfloat16
    torch.testing.assert_close(ours, reference, rtol=2e-2, atol=2e-2)
    (grad_w,) = torch.autograd.grad(ours.float().sum(), w)
    assert grad_w.dtype == torch.float32  # the master weight keeps its precision


def test_full_gradcheck_on_a_strided_dilated_grouped_conv():
    config = conv_config(
        batch=1,
        kernel=(3, 2),
        size=(6, 5),
        stride=(2, 1),
        padding=(1, 2),
        dilation=(1, 2),
        groups=2,
    )
    x, w, b = make_tensors(config, torch.float64)
    assert torch.autograd.gradcheck(lambda *t: conv2d(*t, *geometry(config)), (x, w, b))


def test_pointwise_stride_one_needs_no_unfold(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a 1x1 stride-1 convolution must not unfold")

    monkeypatch.setattr(F, "unfold", forbidden)
    monkeypatch.setattr(F, "fold", forbidden)
    x = torch.randn(3, 8, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 8, 1, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: conv2d(x, w), (x, w), fast_mode=True)


def test_pointwise_stride_one_needs_no_im2col(monkeypatch):
    from scenelab.ops import im2col

    def forbidden(*args, **kwargs):
        raise AssertionError("a 1x1 stride-1 convolution must not build columns")

    monkeypatch.setattr(im2col, "im2col", forbidden)
    for memory_format in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(3, 8, 5, 6, dtype=torch.float64).contiguous(memory_format=memory_format)
        w = torch.randn(4, 8, 1, 1, dtype=torch.float64, requires_grad=True)
        x.requires_grad_()
        assert torch.autograd.gradcheck(lambda x, w: conv2d(x, w), (x, w), fast_mode=True)


def test_input_gradient_only_when_needed(monkeypatch):
    calls = []
    real_fold = F.fold
    monkeypatch.setattr(F, "fold", lambda *a, **k: calls.append(1) or real_fold(*a, **k))
    x = torch.randn(2, 3, 9, 9)  # pixels: no gradient wanted
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    conv2d(x, w, padding=1).sum().backward()
    assert calls == [] and w.grad is not None


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"input": torch.randn(3, 8, 8)}, "input must be 4-D"),
        ({"weight": torch.randn(4, 2, 3, 3)}, "channel mismatch"),
        ({"groups": 2, "weight": torch.randn(3, 1, 3, 3)}, "groups=2"),
        ({"weight": torch.randn(4, 3, 11, 3)}, "larger than the padded input"),
        ({"stride": 0}, "stride"),
        ({"stride": (1, -2)}, "stride"),
        ({"dilation": 0}, "dilation"),
        ({"padding": -1}, "padding"),
        ({"padding": "full"}, "padding"),
        ({"padding": "same", "stride": 2}, "padding='same'"),
        ({"bias": torch.randn(5)}, "bias"),
    ],
)
def test_bad_arguments_raise_before_any_work(monkeypatch, kwargs, names):
    def forbidden(*args, **kw):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(F, "unfold", forbidden)
    monkeypatch.setattr(torch, "matmul", forbidden)
    arguments = {"input": torch.randn(2, 3, 8, 8), "weight": torch.randn(4, 3, 3, 3)} | kwargs
    with pytest.raises(ValueError, match=names.replace("(", r"\(").replace(")", r"\)")):
        conv2d(**arguments)


@pytest.mark.cuda
@FAST
@given(conv_configs())
def test_matches_pytorch_on_cuda(config):
    torch.backends.cudnn.allow_tf32 = False  # the reference must not round to TF32
    torch.backends.cuda.matmul.allow_tf32 = False
    assert max(compare_with_pytorch(config, torch.float64, device="cuda")) <= 1e-10
    assert max(compare_with_pytorch(config, torch.float32, device="cuda")) <= 1e-5


# The strided im2col/col2im paths (scenelab.ops.im2col): NCHW and NHWC, each corner.
CORNERS = {
    "odd sizes": conv_config(size=(7, 5), out_channels=3),
    "stride larger than the kernel": conv_config(kernel=(2, 2), stride=(3, 4), size=(11, 10)),
    "dilation": conv_config(dilation=(2, 3), size=(9, 10), padding=(2, 1)),
    "groups": conv_config(in_channels=6, out_channels=9, groups=3),
    "depthwise": conv_config(in_channels=5, out_channels=5, groups=5, kernel=(3, 2)),
    "asymmetric same": conv_config(kernel=(4, 2), padding="same", dilation=(1, 2)),
    "batch 1": conv_config(batch=1, size=(6, 9)),
    "stem 7x7/2": conv_config(
        in_channels=3, kernel=(7, 7), stride=(2, 2), padding=3, size=(17, 15)
    ),
}


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("corner", list(CORNERS))
def test_strided_paths_match_pytorch(corner, channels_last):
    config = {**CORNERS[corner], "channels_last": channels_last}
    assert max(compare_with_pytorch(config, torch.float64)) <= 1e-10
    x, w, b = make_tensors(config, torch.float64)
    assert torch.autograd.gradcheck(
        lambda *t: conv2d(*t, *geometry(config)), (x, w, b), fast_mode=True
    )


class _Recorder(TorchDispatchMode):
    """Records the ATen ops (and their tensor dtypes) that run while it is active."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, list[torch.dtype]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        dtypes = [a.dtype for a in args if isinstance(a, torch.Tensor)]
        self.calls.append((func.overloadpacket.__name__, dtypes))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("channels_last", [False, True])
def test_autocast_bf16_products_run_in_bf16(channels_last):
    config = conv_config(in_channels=8, out_channels=16, size=(10, 10), channels_last=channels_last)
    x, w, b = make_tensors(config, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference = F.conv2d(x, w, b, 1, 1)
        with _Recorder() as recorder:
            ours = conv2d(x, w, b, 1, 1)
            ours.float().sum().backward()
    products = [dtypes for name, dtypes in recorder.calls if name in ("mm", "bmm", "addmm")]
    assert len(products) >= 3  # forward, grad_input, grad_weight
    assert all(d == torch.bfloat16 for dtypes in products for d in dtypes), products
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(ours, reference, rtol=2e-2, atol=5e-2)
    assert w.grad.dtype == torch.float32


HOST_SYNCS = {"_local_scalar_dense", "nonzero", "item", "_to_copy", "is_nonzero"}


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("corner", ["stem 7x7/2", "groups", "asymmetric same"])
def test_no_host_sync_inside_the_op(corner, channels_last):
    """No .item(), int(tensor), nonzero or device copy: on a GPU each would stall the stream.
    (aten::_local_scalar_dense is what .item(), int() and bool() of a tensor dispatch to.)"""
    config = {**CORNERS[corner], "channels_last": channels_last}
    x, w, b = make_tensors(config, torch.float32)
    with _Recorder() as recorder:
        conv2d(x, w, b, *geometry(config)).sum().backward()
    assert not [name for name, _ in recorder.calls if name in HOST_SYNCS]


@pytest.mark.cuda
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("corner", list(CORNERS))
def test_no_host_sync_on_cuda(corner, channels_last):
    config = {**CORNERS[corner], "channels_last": channels_last}
    x, w, b = make_tensors(config, torch.float32, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        conv2d(x, w, b, *geometry(config)).sum().backward()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            conv2d(x, w, b, *geometry(config)).float().sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")

"""CustomConv2d and convert_convs: drop-in for nn.Conv2d in real models."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from scenelab.models.simplenet import SimpleNet
from scenelab.nn import CustomConv2d, convert_convs


def test_same_constructor_init_and_state_dict_keys():
    torch.manual_seed(0)
    native = nn.Conv2d(6, 8, (3, 5), stride=2, padding=(1, 2), dilation=1, groups=2, bias=True)
    torch.manual_seed(0)
    custom = CustomConv2d(6, 8, (3, 5), stride=2, padding=(1, 2), dilation=1, groups=2, bias=True)
    assert native.state_dict().keys() == custom.state_dict().keys()
    for key, value in native.state_dict().items():
        assert torch.equal(value, custom.state_dict()[key])
    x = torch.randn(2, 6, 11, 9)
    torch.testing.assert_close(custom(x), native(x), rtol=1e-5, atol=1e-6)


def test_convert_convs_round_trips_resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        native_out = model(x)
        convert_convs(model, to="custom")
        assert sum(isinstance(m, CustomConv2d) for m in model.modules()) == 20
        custom_out = model(x)
        convert_convs(model, to="native")
        assert not any(isinstance(m, CustomConv2d) for m in model.modules())
        back_out = model(x)
    torch.testing.assert_close(custom_out, native_out, rtol=1e-4, atol=1e-5)
    assert torch.equal(back_out, native_out)


def test_state_dicts_load_across():
    torch.manual_seed(0)
    native = torchvision.models.resnet18(num_classes=10).eval()
    custom = convert_convs(torchvision.models.resnet18(num_classes=10), to="custom").eval()
    custom.load_state_dict(native.state_dict())
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(custom(x), native(x), rtol=1e-4, atol=1e-5)
    native.load_state_dict(convert_convs(custom, to="native").state_dict())


def test_conversion_keeps_the_parameter_objects():
    model = SimpleNet(num_classes=5)
    before = [id(p) for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    convert_convs(model, to="custom")
    assert [id(p) for p in model.parameters()] == before
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    optimizer.step()  # the optimizer built before the swap still updates the model


BATCH = 8
STUDY_LR = 0.1 * BATCH / 256  # the study's learning rate, scaled linearly with the batch


def train_twenty_steps(
    conv: str, dtype: torch.dtype, memory_format: torch.memory_format = torch.contiguous_format
) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = convert_convs(SimpleNet(num_classes=10), to=conv).to(dtype, memory_format=memory_format)
    optimizer = torch.optim.SGD(model.parameters(), lr=STUDY_LR, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        images = torch.rand(BATCH, 3, 32, 32, generator=generator, dtype=dtype)
        images = images.contiguous(memory_format=memory_format)
        labels = torch.randint(0, 10, (BATCH,), generator=generator)
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


def relative_difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    flat_a, flat_b = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return ((flat_a - flat_b).norm() / flat_b.norm()).item()


def test_twenty_sgd_steps_agree_with_native_float32():
    native = train_twenty_steps("native", torch.float32)
    custom = train_twenty_steps("custom", torch.float32)
    overall = relative_difference(custom, native)
    weights = [
        relative_difference([c], [n]) for c, n in zip(custom, native, strict=True) if n.dim() > 1
    ]
    # For scale: PyTorch against itself, NCHW vs channels_last kernels, after the same 20 steps.
    native_nhwc = train_twenty_steps("native", torch.float32, torch.channels_last)
    floor = relative_difference(native_nhwc, native)
    print(
        f"20 SGD steps, float32: all parameters {overall:.1e}, worst weight {max(weights):.1e}"
        f" (native NCHW vs native NHWC: {floor:.1e})"
    )
    assert overall <= 1e-3
    assert max(weights) <= 1e-3


def test_twenty_sgd_steps_identical_up_to_rounding_in_float64():
    native = train_twenty_steps("native", torch.float64)
    custom = train_twenty_steps("custom", torch.float64)
    worst = max(relative_difference([c], [n]) for c, n in zip(custom, native, strict=True))
    print(f"20 SGD steps, float64: worst parameter tensor {worst:.1e}")
    assert worst <= 1e-10

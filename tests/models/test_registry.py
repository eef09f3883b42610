from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from scenelab.cli import main
from scenelab.errors import ScenelabError
from scenelab.models import (
    build_model,
    check_image_size,
    count_macs,
    count_parameters,
    list_models,
)
from scenelab.models.inception import MODULE_WIDTHS, STEM_CHANNELS, InceptionModule
from scenelab.nn import CustomConv2d, Normalize


def conv_params(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def test_simplenet_parameters_and_macs_by_hand():
    classes = 100
    layers = [(7, 3, 64), (1, 64, 64), (3, 64, 64), (1, 64, 256)]
    layers += [(1, 256, 128), (3, 128, 128), (1, 128, 512)]
    expected = sum(conv_params(*layer) for layer in layers) + 512 * classes + classes
    model = build_model("simplenet", classes)
    assert count_parameters(model) == expected == 365_028

    # 128 -> 64 (stem) -> 32 (pool): stage 1 at 32x32 -> 16 (pool): stage 2 at 16x16.
    sizes = [64, 32, 32, 32, 16, 16, 16]
    macs = sum(
        k * k * c_in * c_out * s * s for (k, c_in, c_out), s in zip(layers, sizes, strict=True)
    )
    assert count_macs(model, 128) == macs + 512 * classes


def test_resnet18_parameters_equal_torchvision():
    ours = build_model("resnet18", 100)
    reference = torchvision.models.resnet18(num_classes=100)
    assert count_parameters(ours) == count_parameters(reference) == 11_227_812


@pytest.mark.parametrize("modules", [2, 3, 4])
def test_ourbestnet_parameters_by_hand(modules):
    def conv_bn(k, c_in, c_out):  # conv without bias, BatchNorm weight and bias
        return conv_params(k, c_in, c_out, bias=False) + 2 * c_out

    classes, channels = 100, STEM_CHANNELS
    expected = conv_params(7, 3, STEM_CHANNELS)
    for one, reduce3, three, reduce5, five, pool in MODULE_WIDTHS[:modules]:
        expected += conv_bn(1, channels, one)
        expected += conv_bn(1, channels, reduce3) + conv_bn(3, reduce3, three)
        expected += conv_bn(1, channels, reduce5) + conv_bn(3, reduce5, five)
        expected += conv_bn(3, five, five) + conv_bn(1, channels, pool)
        channels = one + three + five + pool
    expected += channels * classes + classes
    model = build_model(f"ourbestnet{modules}", classes)
    assert count_parameters(model) == expected
    assert sum(isinstance(m, InceptionModule) for m in model.modules()) == modules
    assert isinstance(model[-2], nn.Dropout)


@pytest.mark.parametrize("name", ["simplenet", "ourbestnet3", "resnet18"])
def test_models_take_pixels_and_custom_conv_gives_the_same_output(name):
    torch.manual_seed(0)
    native = build_model(name, 7).eval()
    custom = build_model(name, 7, conv="custom").eval()
    custom.load_state_dict(native.state_dict())  # state dicts are interchangeable
    assert isinstance(next(native.children()), Normalize)
    assert any(isinstance(m, CustomConv2d) for m in custom.modules())
    images = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        expected = native(images)
        torch.testing.assert_close(custom(images), expected, rtol=1e-4, atol=1e-4)
    assert expected.shape == (2, 7)


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ScenelabError, match="ourbestnet3, ourbestnet4, alexnet"):
        build_model("simplenet2", 10)
    assert list_models()[:4] == ["simplenet", "ourbestnet2", "ourbestnet3", "ourbestnet4"]


def test_pretrained_backbone_loads_and_classifier_is_replaced(tmp_path):
    imagenet = torchvision.models.resnet18()  # 1000 classes, as torchvision ships it
    path = tmp_path / "resnet18.pth"
    torch.save(imagenet.state_dict(), path)
    model = build_model("resnet18", 20, pretrained=path)
    for key, value in imagenet.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.net.state_dict()[key], value), key
    assert model.net.fc.weight.shape == (20, 512)


def test_pretrained_that_does_not_fit_prints_a_readable_diff(tmp_path):
    weights = torchvision.models.resnet18().state_dict()
    weights["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    del weights["layer4.1.bn2.running_var"]
    weights["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(weights, path)
    with pytest.raises(ScenelabError) as error:
        build_model("resnet18", 20, pretrained=path)
    message = str(error.value)
    assert "\n" not in message  # one line
    assert "1 missing from the file: layer4.1.bn2.running_var;" in message
    assert "1 not in the model: extra.weight;" in message
    assert "conv1.weight: file (64, 3, 3, 3), model (64, 3, 7, 7)" in message
    with pytest.raises(ScenelabError, match="scenelab model"):
        build_model("simplenet", 20, pretrained=path)


def test_models_command_prints_counts(capsys):
    assert main(["models", "simplenet", "--num-classes", "100"]) == 0
    out = capsys.readouterr().out
    assert "simplenet" in out and "365,028" in out and "160.2 M" in out


def test_list_models_filters_by_shell_pattern_like_torchvision():
    expected = torchvision.models.list_models(module=torchvision.models, include="resnet*")
    assert list_models("resnet*") == expected
    assert list_models("ourbestnet?") == ["ourbestnet2", "ourbestnet3", "ourbestnet4"]
    assert list_models("nothing*") == []


def test_models_command_takes_patterns(capsys):
    assert main(["models", "resnet1*", "simplenet", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    for name in ("simplenet", "resnet18", "resnet101", "resnet152"):
        assert f"\n{name} " in out, out
    assert main(["models", "nothing*"]) == 2
    assert "unknown model nothing*" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "smallest"), [("squeezenet1_0", 21), ("alexnet", 63)])
def test_image_size_check_agrees_with_a_real_forward(name, smallest):
    """The meta-device check refuses exactly the sizes a real CPU forward fails on, and
    the smallest size it names is the first one a real forward takes."""
    model = build_model(name, 2).eval()
    for size in (smallest - 1, smallest):
        with torch.no_grad():
            try:
                model(torch.zeros(1, 3, size, size))
                real_error = None
            except RuntimeError as error:
                real_error = str(error).splitlines()[0]
        if real_error is None:
            check_image_size(name, size)
        else:
            with pytest.raises(ScenelabError) as refused:
                check_image_size(name, size)
            assert str(refused.value) == (
                f"--model {name} --image-size {size}: the model cannot take {size}x{size} "
                f"images; the smallest size it takes is {smallest} ({real_error})"
            )
    assert real_error is None  # the size it names works

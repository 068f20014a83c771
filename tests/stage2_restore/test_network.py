import pytest
import torch

from shared.errors import ConfigError
from stage2_restore.network import STATIC_CLASSES, Restorer, RestorerConfig, count_parameters, macs_per_image

TINY = {"width": 8, "heads": 2, "embedding_dim": 16, "descriptor_tokens": 2}


def inputs(batch=1, height=32, width=32, dim=16):
    torch.manual_seed(0)
    return torch.rand(batch, 3, height, width), torch.randn(batch, dim), torch.zeros(batch, dtype=torch.long)


def test_faithful_size_of_onerestore():
    # OneRestore reports 5.98 M parameters at width 32 with a 324-d descriptor.
    assert 5.5e6 < count_parameters(Restorer(RestorerConfig(descriptor="static"))) < 6.5e6


@pytest.mark.parametrize("descriptor", ["static", "dynamic"])
@pytest.mark.parametrize("size", [(1, 1), (17, 33), (513, 1025)])
def test_output_size_equals_input_size(descriptor, size):
    model = Restorer(RestorerConfig(descriptor=descriptor, **TINY)).eval()
    image, embedding, class_index = inputs(1, *size)
    with torch.no_grad():
        assert model(image, embedding, class_index).shape == image.shape


@pytest.mark.parametrize("descriptor", ["static", "dynamic"])
def test_forward_backward_reaches_descriptor_and_backbone(descriptor):
    model = Restorer(RestorerConfig(descriptor=descriptor, **TINY))
    image, embedding, class_index = inputs(2, 24, 40)
    model(image, embedding, class_index).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert model.descriptor.parameters().__next__().grad.abs().sum() > 0
    assert model.stem.weight.grad.abs().sum() > 0


def test_the_descriptor_steers_the_output():
    torch.manual_seed(0)
    dynamic = Restorer(RestorerConfig(descriptor="dynamic", **TINY)).eval()
    image, embedding, _ = inputs(1, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(dynamic(image, embedding), dynamic(image, -embedding))
    static = Restorer(RestorerConfig(descriptor="static", **TINY)).eval()
    with torch.no_grad():
        low = static(image, class_index=torch.tensor([STATIC_CLASSES.index("low")]))
        haze = static(image, class_index=torch.tensor([STATIC_CLASSES.index("haze")]))
    assert not torch.allclose(low, haze)


def test_missing_descriptor_input_is_refused():
    with pytest.raises(ValueError, match="needs an embedding"):
        Restorer(RestorerConfig(descriptor="dynamic", **TINY))(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="needs class_index"):
        Restorer(RestorerConfig(descriptor="static", **TINY))(torch.rand(1, 3, 8, 8))


def test_save_and_load_round_trip(tmp_path):
    model = Restorer(RestorerConfig(descriptor="dynamic", **TINY)).eval()
    image, embedding, _ = inputs(1, 20, 20)
    model.save_pretrained(tmp_path / "fp32")
    model.save_pretrained(tmp_path / "fp16", half=True)
    with torch.no_grad():
        expected = model(image, embedding)
        assert torch.equal(Restorer.from_pretrained(tmp_path / "fp32")(image, embedding), expected)
        assert torch.allclose(Restorer.from_pretrained(tmp_path / "fp16")(image, embedding), expected, atol=2e-2)
    with pytest.raises(ConfigError, match="not a run or checkpoint folder"):
        Restorer.from_pretrained(tmp_path)


def test_config_errors_name_the_choices():
    with pytest.raises(ConfigError, match="choose one of static, dynamic"):
        RestorerConfig(descriptor="clip")
    with pytest.raises(ConfigError, match="multiple of heads"):
        RestorerConfig(width=12, heads=8)
    with pytest.raises(ConfigError, match="square"):
        RestorerConfig(descriptor_dim=300)


def test_macs_grow_with_pixels():
    model = Restorer(RestorerConfig(descriptor="dynamic", **TINY))
    small, large = macs_per_image(model, 64), macs_per_image(model, 128)
    assert small > 0 and 3.5 < large / small < 4.5

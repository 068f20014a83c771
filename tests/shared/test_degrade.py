import numpy as np
import pytest

from shared.degrade import CDD11_CATEGORIES, DegradationModel, components_of, depth_from_disparity, monocular_depth_proxy
from shared.degrade.extras import BlurSynthesizer
from shared.errors import ConfigError

MODEL = DegradationModel()
EXTRAS = ("noise", "blur", "jpeg", "low_haze_rain_blur_noise_jpeg")


@pytest.fixture(scope="module")
def photo():
    yy, xx = np.mgrid[:48, :64] / 64.0
    texture = 0.1 * np.sign(np.sin(40 * xx) * np.sin(40 * yy))  # edges, so that blur shows
    return np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy + texture, 0.5 + 0.2 * np.sin(8 * xx)], axis=2).astype(np.float32)


def test_eleven_cdd11_categories_in_paper_order():
    assert len(CDD11_CATEGORIES) == 11
    assert CDD11_CATEGORIES[0] == "low" and CDD11_CATEGORIES[-1] == "low_haze_snow"


def test_components_apply_in_physical_order_whatever_the_name():
    assert components_of("haze_low_rain") == ("low", "rain", "haze")
    assert components_of("noise_blur") == ("blur", "noise")
    assert components_of("clear") == ()


@pytest.mark.parametrize("bad", ["fog", "low_low", "low__haze", ""])
def test_unknown_category_lists_the_choices(bad):
    with pytest.raises(ConfigError, match="low, rain, snow, haze"):
        components_of(bad)


@pytest.mark.parametrize("category", CDD11_CATEGORIES + EXTRAS)
def test_every_category_is_deterministic_bounded_and_changes_the_image(photo, category):
    first, params = MODEL.degrade(photo, category, "img-1", seed=7)
    again, _ = MODEL.degrade(photo, category, "img-1", seed=7)
    other_seed, _ = MODEL.degrade(photo, category, "img-1", seed=8)
    np.testing.assert_array_equal(first, again)
    assert first.dtype == np.float32 and first.shape == photo.shape
    assert first.min() >= 0 and first.max() <= 1
    assert np.abs(first - photo).mean() > 1e-3
    assert not np.array_equal(first, other_seed)
    assert set(params) == set(components_of(category))


def test_a_component_is_the_same_in_every_composite(photo):
    _, alone = MODEL.degrade(photo, "low", "img-2", seed=0)
    _, composite = MODEL.degrade(photo, "low_haze_rain", "img-2", seed=0)
    assert composite["low"] == alone["low"]


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (5, 2)])
@pytest.mark.parametrize("category", ["low_haze_rain", "low_haze_snow", "blur_noise_jpeg"])
def test_odd_and_tiny_sizes(shape, category):
    image = np.full(shape + (3,), 0.5, np.float32)
    degraded, _ = MODEL.degrade(image, category, "tiny", seed=0)
    assert degraded.shape == image.shape and np.isfinite(degraded).all()


def test_low_light_darkens(photo):
    degraded, params = MODEL.degrade(photo, "low", "a", seed=0)
    assert degraded.mean() < 0.6 * photo.mean()
    assert 2.0 <= params["low"]["gamma"] <= 3.0


def test_haze_follows_the_scattering_model_with_a_depth_map():
    black = np.zeros((32, 32, 3), np.float32)
    depth = np.tile(np.linspace(0, 1, 32, dtype=np.float32)[:, None], (1, 32))  # top near, bottom far
    hazy, params = MODEL.degrade(black, "haze", "h", seed=0, depth=depth)
    airlight = np.asarray(params["haze"]["airlight"])
    assert params["haze"]["depth_source"] == "map"
    # On a black scene I = A(1 - t): brighter with distance, never above the airlight.
    assert hazy[-1].mean() > hazy[0].mean() + 0.05
    assert (hazy <= airlight + 1e-6).all()
    assert 1.0 <= params["haze"]["beta"] <= 2.0 and ((0.57 <= airlight) & (airlight <= 0.93)).all()


def test_rain_and_snow_only_add_light(photo):
    for category in ("rain", "snow"):
        degraded, _ = MODEL.degrade(photo, category, "w", seed=3)
        assert (degraded >= photo - 1e-6).all()
        assert (degraded > photo + 0.05).mean() > 0.002


def test_blur_keeps_the_mean_and_removes_detail():
    rng = np.random.default_rng(0)
    texture = rng.random((64, 64, 3)).astype(np.float32)
    blurred, params = BlurSynthesizer()(texture, np.random.default_rng(1))
    assert abs(blurred.mean() - texture.mean()) < 0.02
    assert blurred.std() < 0.6 * texture.std()
    assert params["kind"] in ("motion", "defocus")


def test_depth_helpers():
    disparity = np.array([[100.0, 50.0], [10.0, np.inf]], np.float32)
    depth = depth_from_disparity(disparity)
    assert depth[0, 0] < depth[0, 1] < depth[1, 0]  # larger disparity = nearer
    assert np.isfinite(depth).all() and depth.min() >= 0 and depth.max() <= 1
    proxy = monocular_depth_proxy(np.full((20, 10, 3), 0.3, np.float32))
    assert proxy[0].mean() > proxy[-1].mean()  # the top of the frame is farther

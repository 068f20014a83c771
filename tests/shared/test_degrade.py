import numpy as np
import pytest
from scipy import ndimage

from shared.degrade import CDD11_CATEGORIES, DegradationModel, components_of, depth_from_disparity, monocular_depth_proxy
from shared.degrade.blur import DefocusBlur, GaussianBlur, MotionBlur, ShakeBlur
from shared.degrade.rain import FineRain, StreakRain
from shared.degrade.snow import BokehSnow
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
    assert set(params) == set(components_of(category)) | {"order"}


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


@pytest.mark.parametrize("family", ["lime", "curve", "camera", "underexposed", "dark_lime"])
def test_low_light_darkens(photo, family):
    degraded, params = DegradationModel(low=(family,)).degrade(photo, "low", "a", seed=0)
    assert degraded.mean() < 0.6 * photo.mean()
    assert params["low"]["family"] == family


def test_haze_follows_the_scattering_model_with_a_depth_map():
    black = np.zeros((32, 32, 3), np.float32)
    depth = np.tile(np.linspace(0, 1, 32, dtype=np.float32)[:, None], (1, 32))  # top near, bottom far
    hazy, params = DegradationModel.from_family_set("classic").degrade(black, "haze", "h", seed=0, depth=depth)
    airlight = np.asarray(params["haze"]["airlight"])
    assert params["haze"]["depth_source"] == "map"
    # On a black scene I = A(1 - t): brighter with distance, never above the airlight.
    assert hazy[-1].mean() > hazy[0].mean() + 0.05
    assert (hazy <= airlight + 1e-6).all()
    assert 1.0 <= params["haze"]["beta"] <= 2.0 and ((0.57 <= airlight) & (airlight <= 0.93)).all()


@pytest.mark.parametrize(
    ("component", "family"), [("rain", "streaks"), ("rain", "heavy"), ("rain", "soft"), ("snow", "flakes"), ("snow", "streaks")]
)
def test_rain_and_snow_streaks_only_add_light(component, family):
    scene = np.random.default_rng(0).uniform(0.1, 0.6, (128, 160, 3)).astype(np.float32)
    degraded, _ = DegradationModel(**{component: (family,)}).degrade(scene, component, "w", seed=3)
    assert (degraded >= scene - 1e-6).all()
    assert (degraded > scene + 0.05).mean() > 0.002


def test_fine_rain_is_thin_faint_and_falls_nearly_vertically():
    scene = np.full((256, 256, 3), 0.3, np.float32)
    one_layer = FineRain(layers=(1, 1), veil=(0.0, 0.0), light_gain=(1.5, 1.5))
    fine, params = one_layer(scene, np.random.default_rng(1))
    streaks, _ = StreakRain()(scene, np.random.default_rng(1))
    change = (fine - scene)[..., 0]
    # Faint: a pixel moves at most `opacity` of the way toward the drop's light (0.45 here); painted streaks go much further.
    assert 0.001 < change.mean() and change.max() <= params["layers"][0]["opacity"] * (0.45 - 0.3) + 1e-4
    assert change.max() < 0.5 * np.abs(streaks - scene).max()

    def correlation(dy: int, dx: int) -> float:
        centred = change - change.mean()
        shifted = np.roll(centred, (dy, dx), axis=(0, 1))
        return float((centred * shifted).mean() / (centred**2).mean())

    # Thin and near-vertical: a streak still overlaps itself 3 px down, but not 3 px across.
    assert correlation(3, 0) > 0.5 and correlation(0, 3) < 0.2


def test_bokeh_snow_is_large_translucent_discs():
    scene = np.full((256, 256, 3), 0.1, np.float32)
    # Few discs of radius 20-22 px at 512 (10-11 px here), no fine flakes: each disc stands alone.
    sparse = BokehSnow(discs_per_megapixel=(40.0, 40.0), radius=(20.0, 22.0), fine_density=(0.0, 0.0), level=(1.0, 1.0))
    bokeh, params = sparse(scene, np.random.default_rng(2))
    mask = (bokeh[..., 0] - 0.1) / 0.9
    labels, count = ndimage.label(mask > 0.05)
    areas = np.bincount(labels.ravel())[1:]
    assert params["discs"] >= 5 and count >= 3
    # A disc of radius 10 px covers about 314 px; a flake of `flakes` is a few px across.
    assert np.median(areas) > 200
    # Translucent: at most `opacity` 0.7 except where discs overlap.
    assert np.median(mask[mask > 0.05]) <= 0.7


@pytest.mark.parametrize("blur", [DefocusBlur(), GaussianBlur(), MotionBlur(), ShakeBlur()], ids=lambda b: type(b).__name__)
def test_blur_keeps_the_mean_and_removes_detail(blur):
    rng = np.random.default_rng(0)
    texture = rng.random((64, 64, 3)).astype(np.float32)
    blurred, params = blur(texture, np.random.default_rng(1))
    assert abs(blurred.mean() - texture.mean()) < 0.02
    assert blurred.std() < 0.75 * texture.std()
    assert 0.0 <= params["severity"] <= 1.0


def test_depth_helpers():
    disparity = np.array([[100.0, 50.0], [10.0, np.inf]], np.float32)
    depth = depth_from_disparity(disparity)
    assert depth[0, 0] < depth[0, 1] < depth[1, 0]  # larger disparity = nearer
    assert np.isfinite(depth).all() and depth.min() >= 0 and depth.max() <= 1
    proxy = monocular_depth_proxy(np.full((20, 10, 3), 0.3, np.float32))
    assert proxy[0].mean() > proxy[-1].mean()  # the top of the frame is farther


# --- generator families -------------------------------------------------------------------------

import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from shared.degrade import FAMILIES, FAMILY_SETS, HELD_OUT  # noqa: E402
from shared.degrade.camera import srgb_to_linear  # noqa: E402
from shared.degrade.lowlight import CameraLowLight, DarkLimeLowLight, LimeLowLight, UnderexposedLowLight  # noqa: E402
from shared.degrade.noise import CameraNoise  # noqa: E402


def _scene_array() -> np.ndarray:
    """A 160x192 textured scene: smooth shading, edges and a bright sky band."""
    yy, xx = np.mgrid[:160, :192] / 192.0
    texture = 0.08 * np.sign(np.sin(30 * xx) * np.sin(30 * yy))
    sky = (yy < 0.2) * 0.3
    return np.clip(np.stack([0.3 + 0.4 * xx + sky, 0.35 + 0.3 * yy + texture + sky, 0.4 + 0.2 * np.sin(6 * xx) + sky], 2), 0, 1).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def scene():
    return _scene_array()


def _within(value, bounds) -> bool:
    low, high = bounds
    return low - 1e-6 <= value <= high + 1e-6


def _check_ranges(family, params: dict) -> None:
    """Every drawn parameter named like a field lies in that field's (low, high) range."""
    for field in dataclasses.fields(family):
        bounds = getattr(family, field.name)
        if field.name in params and isinstance(bounds, tuple) and len(bounds) == 2 and not isinstance(bounds[0], tuple):
            drawn = params[field.name]
            if field.name == "layers":
                drawn = len(drawn)
            values = drawn if isinstance(drawn, list) else [drawn]
            for value in values:
                if value is not None and field.name not in ("airlight", "exposure"):
                    assert _within(value, bounds), f"{type(family).__name__}.{field.name}={value} outside {bounds}"
    for layer in params.get("layers", []):
        for name, value in layer.items():
            bounds = getattr(family, name, None)
            if isinstance(bounds, tuple) and len(bounds) == 2 and not isinstance(bounds[0], tuple) and name != "angle_deg":
                assert _within(value, bounds), f"{type(family).__name__} layer {name}={value} outside {bounds}"


@pytest.mark.parametrize(("component", "name"), [(c, n) for c, names in FAMILIES.items() for n in names])
def test_every_family_is_deterministic_in_range_and_records_its_severity(scene, component, name):
    family = FAMILIES[component][name]()
    kwargs = {"depth": None} if component == "haze" else {}
    first, params = family(scene, np.random.default_rng(5), **kwargs)
    again, _ = family(scene, np.random.default_rng(5), **kwargs)
    np.testing.assert_array_equal(first, again)
    assert first.shape == scene.shape and first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1
    assert np.abs(first - scene).mean() > 1e-3
    assert 0.0 <= params["severity"] <= 1.0
    _check_ranges(family, params)


# Input PSNR bands per single degradation (dB) over several seeds: wide enough for every family,
# narrow enough to catch a generator that does nothing or wipes the image out.
PSNR_BANDS = {"low": (4, 20), "haze": (7, 30), "rain": (10, 36), "snow": (9, 38), "blur": (18, 45), "noise": (15, 45), "jpeg": (24, 50)}


@pytest.mark.parametrize(("component", "name"), [(c, n) for c, names in FAMILIES.items() for n in names])
def test_input_psnr_of_each_family_is_in_a_sane_band(scene, component, name):
    model = DegradationModel(**{component: (name,)})
    values = []
    for seed in range(3):
        degraded, _ = model.degrade(scene, component, f"p{seed}", seed=seed)
        values.append(10 * np.log10(1 / max(float(np.mean((degraded - scene) ** 2)), 1e-10)))
    low, high = PSNR_BANDS[component]
    assert low <= np.mean(values) <= high, f"{component}:{name} mean input PSNR {np.mean(values):.1f} dB outside [{low}, {high}]"


def test_variants_differ_and_each_is_reproducible(scene):
    images = [MODEL.degrade(scene, "low_haze_rain", "v", seed=0, variant=k)[0] for k in range(3)]
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images[1], images[2])
    np.testing.assert_array_equal(images[2], MODEL.degrade(scene, "low_haze_rain", "v", seed=0, variant=2)[0])


def test_a_variant_is_the_same_in_another_process(scene):
    """Seeds are hashed with SHA-256, not Python's salted hash(): a new process makes the same image."""
    here = hashlib.sha256(MODEL.degrade(scene, "haze_rain_noise_jpeg", "img-9", seed=4, variant=3)[0].tobytes()).hexdigest()
    code = (
        "import hashlib; from tests.shared.test_degrade import _scene_array; from shared.degrade import DegradationModel; "
        "image = DegradationModel().degrade(_scene_array(), 'haze_rain_noise_jpeg', 'img-9', seed=4, variant=3)[0]; "
        "print(hashlib.sha256(image.tobytes()).hexdigest())"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONHASHSEED": "123", "PYTHONPATH": root, "OMP_NUM_THREADS": "1"}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root)
    assert there.stdout.strip() == here


def test_the_manifest_records_family_and_order_and_the_camera_comes_last(scene):
    model = DegradationModel.from_family_set("all")
    for variant in range(12):
        _, params = model.degrade(scene, "low_haze_rain_snow_blur_noise_jpeg", "o", seed=1, variant=variant)
        order = params["order"]
        assert sorted(order) == sorted(components_of("low_haze_rain_snow_blur_noise_jpeg"))
        assert order[-2:] == ["noise", "jpeg"] and order.index("blur") > max(order.index(c) for c in ("rain", "snow", "haze"))
        for component in order:
            assert params[component]["family"] in FAMILIES[component]
        if params["low"]["family"] in ("camera", "underexposed"):
            assert order.index("low") == order.index("blur") + 1
    orders = {tuple(model.degrade(scene, "haze_rain_snow", "o", seed=1, variant=v)[1]["order"]) for v in range(12)}
    assert len(orders) > 2  # the weather stacks in more than one order


def test_training_never_uses_a_held_out_family_and_validation_uses_only_those():
    for component, held_out in HELD_OUT.items():
        assert held_out not in FAMILY_SETS["train"][component]
        assert FAMILY_SETS["heldout"][component] == (held_out,)
        assert len(FAMILY_SETS["train"][component]) >= 2


def test_an_unknown_family_lists_the_choices():
    with pytest.raises(ConfigError, match="unknown rain family 'hail'; choose one of streaks, heavy, drops, soft, fine$"):
        DegradationModel(rain=("hail",))
    sets = "train, heldout, all, weather, underexposed, heavy_rain, dark, dark_weather, classic"
    with pytest.raises(ConfigError, match=f"unknown family set 'real'; choose one of {sets}"):
        DegradationModel.from_family_set("real")


def test_dark_lime_is_lime_under_less_light_and_leaves_the_training_set_as_it_was(scene):
    """`dark` swaps `lime` for `dark_lime` and nothing else; the same draw gives a third to a half of lime's values."""
    assert FAMILY_SETS["train"]["low"] == ("lime", "camera") and FAMILY_SETS["dark"]["low"] == ("dark_lime", "camera")
    others = {c: f for c, f in FAMILY_SETS["dark"].items() if c != "low"}
    assert others == {c: f for c, f in FAMILY_SETS["train"].items() if c != "low"}
    assert FAMILY_SETS["dark_weather"] == {**FAMILY_SETS["weather"], "low": ("dark_lime", "camera")}
    noiseless = {"photons_at_white": (1e7, 1e7), "read_noise": (0.0, 0.0)}
    lime, dark_lime = LimeLowLight(**noiseless), DarkLimeLowLight(**noiseless)
    for seed in range(8):
        lit, lit_params = lime(scene, np.random.default_rng(seed))
        dark, dark_params = dark_lime(scene, np.random.default_rng(seed))
        gamma, exposure = lit_params["gamma"], lit_params["exposure"]
        assert dark_params["gamma"] == gamma and dark_params["exposure"] == pytest.approx(0.2 + 0.75 * (exposure - 0.6))
        # lime's severity is the one every recorded split was worded with; dark_lime's starts at "in low light".
        assert lit_params["severity"] == min(1.0, 0.5 * (gamma - 2.0) + 0.5 * (1.0 - exposure) / 0.4)
        assert dark_params["severity"] == pytest.approx(1 / 3 + 2 / 3 * lit_params["severity"])
        assert dark.mean() / lit.mean() == pytest.approx(dark_params["exposure"] / exposure, rel=0.01)


def test_underexposure_at_base_iso_is_as_dark_as_a_night_shot_with_a_fifth_of_its_grain_or_less():
    """The cue `underexposed` teaches: darkness alone, without the grain of the other low-light families."""
    flat = np.full((96, 96, 3), 0.5, np.float32)
    camera, underexposed = CameraLowLight(jpeg_probability=0.0), UnderexposedLowLight(jpeg_probability=0.0)
    means, grains = {}, {}
    for name, family in (("camera", camera), ("underexposed", underexposed)):
        dark = [family(flat, np.random.default_rng(seed))[0] for seed in range(8)]
        means[name] = np.mean([d.mean() for d in dark])
        grains[name] = np.mean([(d - d.mean(axis=(0, 1)))[8:-8, 8:-8].std() / max(d.mean(), 1e-3) for d in dark])
    assert means["underexposed"] < 0.5 * 0.5 and means["underexposed"] < 1.2 * means["camera"]
    assert grains["underexposed"] < 0.2 * grains["camera"], grains


def test_camera_noise_grows_with_the_signal_as_a_sensors_does():
    """Shot noise: the raw-domain variance rises linearly with the light (a flat grey ramp of patches)."""
    levels = (0.15, 0.35, 0.6, 0.85)
    noise = CameraNoise(shot_noise=(0.01, 0.01), jpeg_probability=0.0)
    deviations = []
    for level in levels:
        flat = np.full((96, 96, 3), level, np.float32)
        noisy, params = noise(flat, np.random.default_rng(0))
        linear_noisy, linear_clean = srgb_to_linear(noisy), srgb_to_linear(flat)  # back towards the sensor's domain
        deviations.append(float((linear_noisy - linear_clean)[8:-8, 8:-8, 1].std()))
    assert all(a < b for a, b in zip(deviations, deviations[1:], strict=False)), deviations
    # ...and it is correlated between neighbours (demosaicked), unlike i.i.d. Gaussian noise.
    flat = np.full((96, 96, 3), 0.5, np.float32)
    residual = noise(flat, np.random.default_rng(1))[0][..., 1] - 0.5
    correlation = np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]
    assert correlation > 0.2


@pytest.mark.parametrize(("category", "digest"), [("low_haze_rain", "07d538d555463b4c"), ("low_haze_snow", "072a248e68807536")])
def test_the_classic_set_reproduces_the_first_releases_composites(category, digest):
    """Pinned from the first release's synthesizer (checked against it): earlier evaluation sets stay valid."""
    degraded, _ = DegradationModel.from_family_set("classic").degrade(_scene_array(), category, "x1", 1234)
    assert hashlib.sha256(np.round(degraded * 255).astype(np.uint8).tobytes()).hexdigest()[:16] == digest


def test_demosaic_keeps_the_recorded_samples_and_fills_the_rest():
    from shared.degrade.camera import demosaic, mosaic

    raw = np.random.default_rng(0).random((8, 10)).astype(np.float32)
    rgb = demosaic(raw)
    np.testing.assert_array_equal(mosaic(rgb), raw)  # every site keeps what its sensor recorded
    flat = demosaic(mosaic(np.full((8, 10, 3), [0.2, 0.5, 0.7], np.float32)))
    np.testing.assert_allclose(flat, np.broadcast_to([0.2, 0.5, 0.7], flat.shape), atol=1e-6)


def test_a_close_up_is_a_crop_enlarged_to_the_same_size(photo):
    from shared.degrade.close_up import close_up

    ramp = np.repeat(np.linspace(0, 1, 64, dtype=np.float32)[None, :, None], 48, axis=0).repeat(3, axis=2)
    enlarged = close_up(ramp, np.random.default_rng(0), zoom=(2.0, 2.0))
    assert enlarged.shape == ramp.shape and enlarged.dtype == np.float32
    # Half the ramp spread over the whole width: the slope halves (away from the borders' filter support).
    assert np.diff(enlarged[24, 8:-8, 0]).mean() == pytest.approx(np.diff(ramp[24, :, 0]).mean() / 2, rel=0.1)
    np.testing.assert_array_equal(close_up(photo, np.random.default_rng(3)), close_up(photo, np.random.default_rng(3)))

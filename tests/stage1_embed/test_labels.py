import numpy as np
import pytest

from shared.degrade import DegradationModel
from stage1_embed.labels import (
    CATEGORY_CLASSES,
    LABELS,
    PROMPTER_CATEGORIES,
    category_of,
    parse_steering,
    prompt_of,
    severity_of,
    targets_of,
)


def test_prompt_template_words_the_labels():
    on = np.array([1, 1, 1, 0, 0, 0])
    assert prompt_of(on, np.array([0.5, 0.9, 0.8, 0, 0, 0])) == "a photo taken in low light, with dense haze and heavy rain"
    assert prompt_of(np.array([0, 0, 0, 1, 1, 0]), np.array([0, 0, 0, 0.1, 0.2, 0])) == "a photo with light snow and slight noise"
    assert prompt_of(np.zeros(6), np.zeros(6)) == "a clear photo"
    assert prompt_of(np.array([0, 1, 1, 0, 1, 1]), np.full(6, 0.5)) == "a photo with haze, rain, noise and blur"


def test_category_of_follows_cdd11_names():
    assert category_of(np.array([1, 1, 1, 0, 1, 0])) == "low_haze_rain"
    assert category_of(np.zeros(6)) == "clear"
    assert len(CATEGORY_CLASSES) == 12 and set(CATEGORY_CLASSES) <= set(PROMPTER_CATEGORIES)


@pytest.mark.parametrize("category", ["low_haze_rain", "snow_blur", "rain_noise", "clear"])
def test_targets_from_recorded_synthesis_parameters(category):
    image = np.full((32, 32, 3), 0.5, np.float32)
    _, params = DegradationModel().degrade(image, category, "x", seed=0)
    presence, severity = targets_of(category, params)
    expected = [label in category.split("_") for label in LABELS]
    np.testing.assert_array_equal(presence.astype(bool), expected)
    assert ((0 <= severity) & (severity <= 1)).all() and (severity[~presence.astype(bool)] == 0).all()


def test_severity_is_the_familys_own_clipped_and_required():
    assert severity_of("haze", {"family": "scattering", "severity": 0.4}) == pytest.approx(0.4)
    assert severity_of("rain", {"severity": 1.3}) == 1.0 and severity_of("low", {"severity": -0.1}) == 0.0
    with pytest.raises(ValueError, match="haze parameters carry no severity; rebuild the pairs"):
        severity_of("haze", {"beta": 1.0})


@pytest.mark.parametrize("family", ["scattering", "random_depth", "patchy"])
def test_a_thicker_haze_is_more_severe(family):
    from shared.degrade import FAMILIES

    image = np.full((32, 32, 3), 0.3, np.float32)
    cls = FAMILIES["haze"][family]
    thin = cls(beta=(0.3, 0.3))(image, np.random.default_rng(0))[1]["severity"]
    thick = cls(beta=(2.0, 2.0))(image, np.random.default_rng(0))[1]["severity"]
    assert thin < thick


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("haze and rain", "a photo with haze and rain"),
        ("dense fog and light rain at night", "a photo taken in low light, with dense haze and light rain"),
        ("very dark, some grain", "a photo taken in very low light, with slight noise"),  # "grain" is not rain
        ("dim light with haze", "a photo taken in low light, with haze"),  # "light" here is not a severity
        ("clear", "a clear photo"),
    ],
)
def test_steering_text_becomes_template_prompt(text, prompt):
    assert prompt_of(*parse_steering(text)) == prompt


def test_steering_keeps_estimated_severity_unless_a_word_sets_it():
    estimate = np.array([0.0, 0.9, 0.1, 0.0, 0.0, 0.0], np.float32)  # assessor: dense haze, light rain
    presence, severity = parse_steering("haze and heavy rain", estimate)
    assert presence.tolist() == [False, True, True, False, False, False]
    assert severity[1] == pytest.approx(0.9) and severity[2] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="names no degradation"):
        parse_steering("make it pretty")

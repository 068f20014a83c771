import numpy as np
import pytest

from shared.degrade import DegradationModel
from stage1_embed.labels import CATEGORY_CLASSES, LABELS, PROMPTER_CATEGORIES, category_of, prompt_of, severity_of, targets_of


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


def test_severity_extremes():
    assert severity_of("haze", {"beta": 1.0}) == 0.0 and severity_of("haze", {"beta": 2.0}) == 1.0
    assert severity_of("low", {"gamma": 3.0, "exposure": 0.6}) == 1.0
    assert severity_of("noise", {"kind": "gaussian", "sigma": 0.12}) == pytest.approx(1.0)
    assert severity_of("blur", {"kind": "motion", "length": 7.0}) == 0.0

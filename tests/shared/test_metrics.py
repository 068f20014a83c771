import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from shared.metrics import psnr, rgb_to_y, ssim


def test_psnr_of_a_constant_offset_is_hand_computed():
    clean = np.full((16, 16, 3), 0.5)
    assert psnr(clean, clean + 0.1) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01 -> 10*log10(1/0.01)
    assert psnr(clean, clean + 0.01) == pytest.approx(40.0, abs=1e-9)


def test_psnr_identical_is_infinite():
    image = np.random.default_rng(0).random((8, 8, 3))
    assert psnr(image, image) == math.inf


def test_psnr_y_channel_hand_computed():
    clean = np.full((8, 8, 3), 0.5)
    # Y differs by 0.1 * (65.481 + 128.553 + 24.966) / 255
    expected = -20 * math.log10(0.1 * 219.0 / 255.0)
    assert psnr(clean, clean + 0.1, y_channel=True) == pytest.approx(expected, abs=1e-9)
    assert rgb_to_y(np.ones(3)) == pytest.approx(235 / 255)


def test_ssim_of_constant_images_is_hand_computed():
    # Constant images: variances are 0, so SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * 1)^2.
    c1 = 1e-4
    expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1)
    assert ssim(np.full((16, 16, 3), 0.5), np.full((16, 16, 3), 0.6)) == pytest.approx(expected, abs=1e-6)


def test_ssim_matches_scikit_image_and_is_one_on_identity():
    rng = np.random.default_rng(1)
    clean, noisy = rng.random((20, 24, 3)), rng.random((20, 24, 3))
    assert ssim(clean, clean) == pytest.approx(1.0)
    reference = structural_similarity(clean, noisy, data_range=1.0, channel_axis=-1)
    assert ssim(clean, noisy) == pytest.approx(reference)


def test_tiny_images_and_shape_mismatch():
    assert ssim(np.zeros((1, 1, 3)), np.zeros((1, 1, 3))) == 1.0
    assert 0 < ssim(np.zeros((5, 4, 3)), np.full((5, 4, 3), 0.1)) < 1
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)))

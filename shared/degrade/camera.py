"""A camera's image pipeline run backwards and forwards, so that noise is added where sensors add it.

After Brooks et al. 2019, "Unprocessing images for learned raw denoising": an sRGB photo is
unprocessed into a linear Bayer mosaic (inverse tone curve, inverse gamma, inverse white
balance, RGGB sampling); there shot noise (variance proportional to the signal) and read noise
(constant variance) are added, and the mosaic is processed back (bilinear demosaic, white
balance — possibly wrong —, gamma, tone curve). Demosaicking spreads each raw sample over its
neighbours and the white-balance gains scale the channels apart, which is why real camera noise
is spatially correlated and coloured (chroma noise), unlike i.i.d. Gaussian noise in sRGB.
Only the noise goes through the demosaic; the scene itself is kept sharp, so that a "noise"
pair teaches denoising and not demosaic sharpening.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage

# Brooks et al.'s sampling of white-balance gains (red, blue; green is 1).
RED_GAIN = (1.9, 2.4)
BLUE_GAIN = (1.5, 1.9)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    return np.where(image <= 0.04045, image / 12.92, ((np.clip(image, 0, 1) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return np.where(image <= 0.0031308, image * 12.92, 1.055 * image ** (1 / 2.4) - 0.055).astype(np.float32)


def tone_curve(image: np.ndarray) -> np.ndarray:
    """The smoothstep global tone curve Brooks et al. fit to camera output."""
    image = np.clip(image, 0.0, 1.0)
    return (3 * image**2 - 2 * image**3).astype(np.float32)


def inverse_tone_curve(image: np.ndarray) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    return (0.5 - np.sin(np.arcsin(1.0 - 2.0 * image) / 3.0)).astype(np.float32)


def _bayer_masks(height: int, width: int) -> np.ndarray:
    """HxWx3 0/1 masks of an RGGB colour filter array."""
    masks = np.zeros((height, width, 3), np.float32)
    masks[0::2, 0::2, 0] = 1
    masks[0::2, 1::2, 1] = 1
    masks[1::2, 0::2, 1] = 1
    masks[1::2, 1::2, 2] = 1
    return masks


def mosaic(image: np.ndarray) -> np.ndarray:
    """The HxW raw frame an RGGB sensor records of a linear HxWx3 scene."""
    return (image * _bayer_masks(*image.shape[:2])).sum(axis=2).astype(np.float32)


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaic of an RGGB frame: recorded samples are kept, each missing one is the mean of its nearest recorded ones."""
    masks = _bayer_masks(*raw.shape)
    kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32)
    out = np.empty(masks.shape, np.float32)
    for channel in range(3):
        weights = ndimage.convolve(masks[..., channel], kernel, mode="mirror")
        values = ndimage.convolve(raw * masks[..., channel], kernel, mode="mirror")
        out[..., channel] = np.where(masks[..., channel] > 0, raw, values / np.maximum(weights, 1e-6))
    return out


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with Pillow's JPEG at `quality` (4:2:0 chroma subsampling, as cameras do)."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0


def sample_sensor_noise(rng: np.random.Generator, shot: tuple[float, float]) -> tuple[float, float]:
    """(shot, read) noise levels: log-uniform shot, read tied to it log-linearly as in Brooks et al."""
    log_shot = rng.uniform(math.log(shot[0]), math.log(shot[1]))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    return math.exp(log_shot), math.exp(log_read)


def capture(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    exposure: float,
    shot_noise: float,
    read_noise: float,
    red_gain: float,
    blue_gain: float,
    white_balance_error: tuple[float, float],
    digital_gain: float,
) -> np.ndarray:
    """Photograph the scene `image` (sRGB) again: raw-domain exposure cut and sensor noise, then the ISP.

    `exposure` scales the linear light reaching the sensor (1 = as the photo was taken);
    `digital_gain` is the ISP's brightening afterwards (a camera pushing a dark frame up);
    `white_balance_error` multiplies the red and blue gains the ISP applies, a colour cast.
    """
    linear = srgb_to_linear(inverse_tone_curve(image))
    gains = np.array([red_gain, 1.0, blue_gain], np.float32)
    raw = mosaic(linear / gains) * exposure
    variance = np.maximum(raw, 0.0) * shot_noise + read_noise
    noise = rng.normal(0.0, 1.0, raw.shape).astype(np.float32) * np.sqrt(variance)
    # Demosaicking is linear: the signal's share is taken as perfectly reconstructed (no softening
    # to learn), and only the noise is interpolated, which gives it the sensor's correlation.
    rgb = (linear / gains * exposure + demosaic(noise)) * digital_gain
    applied = gains * np.array([white_balance_error[0], 1.0, white_balance_error[1]], np.float32)
    return tone_curve(linear_to_srgb(rgb * applied))

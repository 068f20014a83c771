"""Sensor noise, three independent families; each records a `severity` in [0, 1] from its
effective standard deviation at mid-grey (0.01 -> 0, 0.10 -> 1).

- `gaussian`: i.i.d. additive Gaussian noise in sRGB (the denoising benchmarks' model).
- `poisson`: shot noise alone at a photon count per unit of sRGB intensity.
- `camera`: real camera noise (Brooks et al. 2019, shared.degrade.camera): shot + read noise in
  the linear Bayer raw, from mild low ISO to high ISO, then demosaic, white balance, tone
  curve and usually JPEG. Correlated between neighbours (chroma
  blotches: each channel interpolated from its own sites), larger in the shadows' relative terms, smoothed by JPEG: what PolyU's pairs show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from shared.degrade.camera import BLUE_GAIN, RED_GAIN, capture, jpeg_round_trip, sample_sensor_noise


def _severity(sigma: float) -> float:
    return float(min(1.0, max(0.0, (sigma - 0.01) / 0.09)))


@dataclass(frozen=True)
class GaussianNoise:
    sigma: tuple[float, float] = (0.01, 0.1)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"sigma": float(rng.uniform(*self.sigma))}
        params["severity"] = _severity(params["sigma"])
        noisy = image + rng.normal(0.0, params["sigma"], size=image.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class PoissonNoise:
    photons: tuple[float, float] = (25.0, 500.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"photons": float(np.exp(rng.uniform(np.log(self.photons[0]), np.log(self.photons[1]))))}
        params["severity"] = _severity(math.sqrt(0.5 / params["photons"]))
        noisy = rng.poisson(np.clip(image, 0, 1) * params["photons"]) / params["photons"]
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class CameraNoise:
    """The photo taken again at the same exposure by a noisy sensor: noise added in raw, then the ISP."""

    shot_noise: tuple[float, float] = (0.0002, 0.015)
    jpeg_probability: float = 0.8
    jpeg_quality: tuple[int, int] = (60, 95)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        shot, read = sample_sensor_noise(rng, self.shot_noise)
        params = {
            "shot_noise": shot,
            "read_noise": read,
            "red_gain": float(rng.uniform(*RED_GAIN)),
            "blue_gain": float(rng.uniform(*BLUE_GAIN)),
            "jpeg_quality": int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
            if rng.random() < self.jpeg_probability
            else None,
        }
        # sRGB deviation at 20 % linear grey: raw std times the slopes of gamma (~1.1) and tone curve (~1.5).
        params["severity"] = _severity(1.7 * math.sqrt(0.2 * shot + read))
        noisy = capture(image, rng, exposure=1.0, shot_noise=shot, read_noise=read, red_gain=params["red_gain"],
                        blue_gain=params["blue_gain"], white_balance_error=(1.0, 1.0), digital_gain=1.0)  # fmt: skip
        if params["jpeg_quality"] is not None:
            noisy = jpeg_round_trip(noisy, params["jpeg_quality"])
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params

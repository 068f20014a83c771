"""Low light: a Retinex illumination map darkened by a gamma and a global scale, plus sensor noise.

OneRestore (CDD-11) estimates an illumination map L with LIME, smooths it with a guided filter
and outputs (I / L) * L**gamma, gamma ~ U(2, 3), plus Gaussian noise. We estimate L the way LIME
initialises it (max over RGB), guided-filter it, and add a global exposure scale so that bright
skies darken too; the noise is physical (Poisson shot noise at a photon count plus Gaussian read
noise) instead of a fixed sigma, because real night shots are shot-noise limited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.degrade.kernels import guided_filter


@dataclass(frozen=True)
class LowLightSynthesizer:
    """Darken `I` to `I * L**(gamma-1) * exposure`, then add shot and read noise."""

    gamma: tuple[float, float] = (2.0, 3.0)
    exposure: tuple[float, float] = (0.6, 1.0)
    photons_at_white: tuple[float, float] = (200.0, 1000.0)
    read_noise: tuple[float, float] = (0.005, 0.02)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {
            "gamma": float(rng.uniform(*self.gamma)),
            "exposure": float(rng.uniform(*self.exposure)),
            "photons_at_white": float(rng.uniform(*self.photons_at_white)),
            "read_noise": float(rng.uniform(*self.read_noise)),
        }
        gray = image.mean(axis=2)
        radius = max(1, min(image.shape[:2]) // 64)
        illumination = np.clip(guided_filter(gray, image.max(axis=2), radius, eps=0.01), 0.02, 1.0)
        dark = image * (illumination ** (params["gamma"] - 1.0))[..., None] * params["exposure"]
        photons = params["photons_at_white"]
        noisy = rng.poisson(np.clip(dark, 0, 1) * photons) / photons
        noisy = noisy + rng.normal(0.0, params["read_noise"], size=image.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params

"""Capture degradations beyond CDD-11: blur (defocus or motion), noise (Gaussian or Poisson), JPEG.

They compose after the weather/light model in camera order: optics blur, then sensor noise,
then compression.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from shared.degrade.kernels import convolve, disk_kernel, line_kernel


@dataclass(frozen=True)
class BlurSynthesizer:
    """Defocus (pillbox) or linear motion blur, chosen at random.

    Sizes are for a 512 px short side and shrink with smaller images, but never below half,
    so that thumbnails still get a visible blur.
    """

    motion_probability: float = 0.5
    defocus_radius: tuple[float, float] = (1.5, 5.0)
    motion_length: tuple[float, float] = (7.0, 21.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        scale = max(0.5, min(image.shape[:2]) / 512)
        if rng.random() < self.motion_probability:
            params = {"kind": "motion", "length": float(rng.uniform(*self.motion_length)), "angle_deg": float(rng.uniform(0, 180))}
            kernel = line_kernel(max(3.0, params["length"] * scale), params["angle_deg"])
            kernel /= kernel.sum()
        else:
            params = {"kind": "defocus", "radius": float(rng.uniform(*self.defocus_radius))}
            kernel = disk_kernel(max(1.0, params["radius"] * scale))
        return np.clip(convolve(image, kernel), 0.0, 1.0), params


@dataclass(frozen=True)
class NoiseSynthesizer:
    """Additive Gaussian noise (sigma in [0,1] units) or Poisson noise at a photon count."""

    poisson_probability: float = 0.5
    gaussian_sigma: tuple[float, float] = (0.02, 0.1)
    poisson_photons: tuple[float, float] = (20.0, 200.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        if rng.random() < self.poisson_probability:
            params = {"kind": "poisson", "photons": float(rng.uniform(*self.poisson_photons))}
            noisy = rng.poisson(np.clip(image, 0, 1) * params["photons"]) / params["photons"]
        else:
            params = {"kind": "gaussian", "sigma": float(rng.uniform(*self.gaussian_sigma))}
            noisy = image + rng.normal(0.0, params["sigma"], size=image.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class JpegSynthesizer:
    """Round trip through Pillow's JPEG encoder at a random quality."""

    quality: tuple[int, int] = (15, 60)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"quality": int(rng.integers(self.quality[0], self.quality[1] + 1))}
        buffer = io.BytesIO()
        Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=params["quality"])
        buffer.seek(0)
        decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255.0
        return decoded, params

"""Snow as multi-layer flakes over the image: I' = I*(1-m) + 1*m (OneRestore's snow model).

Three depth layers (small and dense far away, large and sparse close by), each a scatter of
soft discs smeared by a short motion blur in the falling direction. Sizes are given for a
512 px short side and scale with the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shared.degrade.kernels import convolve, line_kernel


@dataclass(frozen=True)
class SnowSynthesizer:
    """Composite white flakes of several sizes, with motion blur and per-layer opacity."""

    flake_sigma: tuple[tuple[float, float], ...] = ((0.5, 1.0), (1.2, 2.2), (2.5, 4.5))
    density: tuple[tuple[float, float], ...] = ((0.002, 0.006), (0.0004, 0.0015), (0.00005, 0.0003))
    motion_length: tuple[float, float] = (1.0, 10.0)
    angle_deg: tuple[float, float] = (-30.0, 30.0)
    opacity: tuple[float, float] = (0.6, 1.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        mask = np.zeros((height, width), np.float32)
        layers = []
        for sigma_range, density_range in zip(self.flake_sigma, self.density, strict=True):
            layer = {
                "flake_sigma": float(rng.uniform(*sigma_range)),
                "density": float(rng.uniform(*density_range)),
                "motion_length": float(rng.uniform(*self.motion_length)),
                "opacity": float(rng.uniform(*self.opacity)),
            }
            sigma = max(0.3, layer["flake_sigma"] * scale)
            seeds = (rng.random((height, width)) < layer["density"]).astype(np.float32)
            # A Gaussian of peak 1 per flake: multiply by its normalisation 2*pi*sigma^2.
            flakes = ndimage.gaussian_filter(seeds, sigma) * (2 * np.pi * sigma**2)
            flakes = convolve(flakes, line_kernel(max(1.0, layer["motion_length"] * scale), angle))
            flakes /= max(1.0, layer["motion_length"] * scale) ** 0.5
            layer_mask = np.clip(flakes, 0.0, 1.0) * layer["opacity"]
            mask = 1.0 - (1.0 - mask) * (1.0 - layer_mask)
            layers.append(layer)
        snowy = image * (1.0 - mask[..., None]) + mask[..., None]
        return np.clip(snowy, 0.0, 1.0).astype(np.float32), {"angle_deg": angle, "layers": layers}

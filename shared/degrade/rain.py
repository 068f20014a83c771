"""Rain as rendered streak layers added to the image (OneRestore adds a rain mask: I + R).

Each layer scatters seed drops at a density, draws them into streaks with an anti-aliased line
kernel (angle, length) and softens them with a small Gaussian blur; nearer layers are longer,
sparser and brighter. Lengths are given for a 512 px short side and scale with the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shared.degrade.kernels import convolve, line_kernel


@dataclass(frozen=True)
class RainSynthesizer:
    """Add 1-3 layers of motion-blurred streaks at a common wind angle."""

    layers: tuple[int, int] = (1, 3)
    angle_deg: tuple[float, float] = (-25.0, 25.0)
    length: tuple[float, float] = (12.0, 40.0)
    density: tuple[float, float] = (0.001, 0.004)
    brightness: tuple[float, float] = (0.25, 0.6)
    blur_sigma: tuple[float, float] = (0.4, 1.2)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        rain = np.zeros((height, width), np.float32)
        layers = []
        for _ in range(int(rng.integers(self.layers[0], self.layers[1] + 1))):
            layer = {
                "angle_deg": angle + float(rng.normal(0.0, 3.0)),
                "length": float(rng.uniform(*self.length)),
                "density": float(rng.uniform(*self.density)),
                "brightness": float(rng.uniform(*self.brightness)),
                "blur_sigma": float(rng.uniform(*self.blur_sigma)),
            }
            drops = (rng.random((height, width)) < layer["density"]) * rng.uniform(0.5, 1.0, (height, width))
            streaks = convolve(drops.astype(np.float32), line_kernel(max(1.0, layer["length"] * scale), layer["angle_deg"]))
            streaks = ndimage.gaussian_filter(streaks, layer["blur_sigma"] * max(scale, 0.25))
            rain += np.clip(streaks, 0.0, 1.0) * layer["brightness"]
            layers.append(layer)
        rainy = image + np.clip(rain, 0.0, 1.0)[..., None]
        return np.clip(rainy, 0.0, 1.0).astype(np.float32), {"layers": layers}

"""Haze by the atmospheric scattering model I = J*t + A*(1-t), t = exp(-beta * depth).

As in OneRestore's CDD-11 synthesis: beta ~ U(1, 2), airlight A ~ U(0.6, 0.9), and the depth
term is a blurred, normalised distance clipped at 0.7 (so that nothing is fully whited out).
A real depth or disparity map is used when given (scikit-image's `motorcycle` ships one);
otherwise `monocular_depth_proxy` supplies a documented guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def depth_from_disparity(disparity: np.ndarray) -> np.ndarray:
    """Normalised distance in [0,1] (1 = far) from a stereo disparity map; invalid pixels get the median."""
    disparity = np.asarray(disparity, dtype=np.float32)
    valid = np.isfinite(disparity) & (disparity > 0)
    if not valid.any():
        return np.full(disparity.shape, 0.5, np.float32)
    filled = np.where(valid, disparity, np.median(disparity[valid]))
    low, high = np.percentile(filled, [1, 99])
    near = np.clip((filled - low) / max(high - low, 1e-6), 0.0, 1.0)
    return (1.0 - near).astype(np.float32)


def monocular_depth_proxy(image: np.ndarray) -> np.ndarray:
    """Distance guess in [0,1] (1 = far) for photos without a depth map.

    Two priors of outdoor scenes: the ground plane recedes towards the top of the frame
    (weight 0.6), and bright, unsaturated regions are sky or far background (weight 0.4).
    Heavily smoothed, since haze density varies slowly.
    """
    height, width = image.shape[:2]
    rows = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None] * np.ones((1, width), np.float32)
    brightness = image.mean(axis=2)
    saturation = image.max(axis=2) - image.min(axis=2)
    sky = np.clip(brightness - saturation, 0.0, 1.0)
    sigma = max(1.0, min(height, width) / 16)
    depth = 0.6 * rows + 0.4 * ndimage.gaussian_filter(sky, sigma)
    depth = depth - depth.min()
    return (depth / max(float(depth.max()), 1e-6)).astype(np.float32)


@dataclass(frozen=True)
class HazeSynthesizer:
    """Scatter an airlight over the image, thicker with distance."""

    beta: tuple[float, float] = (1.0, 2.0)
    airlight: tuple[float, float] = (0.6, 0.9)
    airlight_tint: float = 0.03
    max_distance: float = 0.7

    def __call__(self, image: np.ndarray, rng: np.random.Generator, depth: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        base = float(rng.uniform(*self.airlight))
        tint = rng.uniform(-self.airlight_tint, self.airlight_tint, size=3)
        params = {
            "beta": float(rng.uniform(*self.beta)),
            "airlight": [float(np.clip(base + t, 0.0, 1.0)) for t in tint],
            "depth_source": "map" if depth is not None else "monocular_proxy",
        }
        distance = depth if depth is not None else monocular_depth_proxy(image)
        # OneRestore blurs depth with a 22x22 box at CDD-11's ~1080p; scale it to the image.
        box = max(1, round(22 * min(image.shape[:2]) / 720))
        distance = np.minimum(ndimage.uniform_filter(distance, size=box, mode="nearest"), self.max_distance)
        transmission = np.exp(-params["beta"] * distance)[..., None]
        airlight = np.asarray(params["airlight"], np.float32)
        hazy = image * transmission + airlight * (1.0 - transmission)
        return np.clip(hazy, 0.0, 1.0).astype(np.float32), params

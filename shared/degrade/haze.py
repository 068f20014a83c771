"""Haze by the atmospheric scattering model I = J*t + A*(1-t), t = exp(-beta * d), three families.

- `scattering` (OneRestore's CDD-11 synthesis): homogeneous, beta ~ U(1, 2), airlight
  A ~ U(0.6, 0.9) nearly grey, the distance d a blurred normalised depth clipped at 0.7 (so
  nothing is fully whited out). Depth from a real map when given (scikit-image's `motorcycle`
  ships one), else `monocular_depth_proxy`.
- `random_depth`: homogeneous, but over a random smooth depth field (indoor scenes, close-ups,
  cluttered streets where no monocular prior holds) and a coloured airlight (yellow smog, blue
  dusk mist), thicker on average.
- `patchy`: non-homogeneous haze (NH-HAZE-like): beta varies in space as a smooth random field
  of drifting banks, over the monocular depth, with a coloured airlight.
Each records a `severity` in [0, 1]: beta over its range for `scattering` (as the first release),
how much of the scene the haze hides on average for the others.
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


def smooth_random_field(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    """A smooth field in [0,1] whose blobs are about `scale` of the short side across."""
    height, width = shape
    sigma = max(1.0, scale * min(height, width))
    field = ndimage.gaussian_filter(rng.standard_normal((height, width)).astype(np.float32), sigma, mode="wrap")
    field -= field.min()
    return (field / max(float(field.max()), 1e-6)).astype(np.float32)


def _scatter(image: np.ndarray, optical_depth: np.ndarray, airlight: np.ndarray) -> np.ndarray:
    transmission = np.exp(-optical_depth)[..., None]
    return np.clip(image * transmission + airlight * (1.0 - transmission), 0.0, 1.0).astype(np.float32)


def _coloured_airlight(rng: np.random.Generator, brightness: tuple[float, float], tint: float) -> list[float]:
    """A grey level shifted along the warm-cool axis by up to `tint` (yellow-brown smog .. blue mist)."""
    base = float(rng.uniform(*brightness))
    warmth = float(rng.uniform(-tint, tint))
    shift = warmth * np.array([1.0, 0.25, -1.0]) + rng.uniform(-0.01, 0.01, size=3)
    return [float(np.clip(base + s, 0.0, 1.0)) for s in shift]


def _hidden_fraction(optical_depth: np.ndarray) -> float:
    return float(np.clip(1.0 - np.exp(-optical_depth).mean(), 0.0, 1.0))


@dataclass(frozen=True)
class ScatteringHaze:
    """Scatter a nearly grey airlight over the image, thicker with (real or guessed) distance."""

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
        params["severity"] = float(np.clip(params["beta"] - 1.0, 0.0, 1.0))
        distance = depth if depth is not None else monocular_depth_proxy(image)
        # OneRestore blurs depth with a 22x22 box at CDD-11's ~1080p; scale it to the image.
        box = max(1, round(22 * min(image.shape[:2]) / 720))
        distance = np.minimum(ndimage.uniform_filter(distance, size=box, mode="nearest"), self.max_distance)
        return _scatter(image, params["beta"] * distance, np.asarray(params["airlight"], np.float32)), params


@dataclass(frozen=True)
class RandomDepthHaze:
    """Homogeneous haze over a random smooth depth field, with a coloured airlight."""

    beta: tuple[float, float] = (0.8, 2.5)
    depth_range: tuple[float, float] = (0.2, 0.9)
    blob_scale: tuple[float, float] = (0.1, 0.4)
    airlight: tuple[float, float] = (0.55, 0.95)
    airlight_tint: float = 0.1

    def __call__(self, image: np.ndarray, rng: np.random.Generator, depth: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        params = {
            "beta": float(rng.uniform(*self.beta)),
            "blob_scale": float(rng.uniform(*self.blob_scale)),
            "airlight": _coloured_airlight(rng, self.airlight, self.airlight_tint),
        }
        near, far = self.depth_range
        distance = near + (far - near) * smooth_random_field(image.shape[:2], rng, params["blob_scale"])
        optical_depth = params["beta"] * distance
        params["severity"] = float(min(1.0, _hidden_fraction(optical_depth) / 0.85))
        return _scatter(image, optical_depth, np.asarray(params["airlight"], np.float32)), params


@dataclass(frozen=True)
class PatchyHaze:
    """Non-homogeneous haze: banks of denser and thinner haze drifting across the scene."""

    beta: tuple[float, float] = (0.8, 2.2)
    patchiness: tuple[float, float] = (0.5, 1.0)
    blob_scale: tuple[float, float] = (0.08, 0.25)
    airlight: tuple[float, float] = (0.6, 0.95)
    airlight_tint: float = 0.08

    def __call__(self, image: np.ndarray, rng: np.random.Generator, depth: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        params = {
            "beta": float(rng.uniform(*self.beta)),
            "patchiness": float(rng.uniform(*self.patchiness)),
            "blob_scale": float(rng.uniform(*self.blob_scale)),
            "airlight": _coloured_airlight(rng, self.airlight, self.airlight_tint),
            "depth_source": "map" if depth is not None else "monocular_proxy",
        }
        distance = 0.25 + 0.75 * (depth if depth is not None else monocular_depth_proxy(image))
        banks = smooth_random_field(image.shape[:2], rng, params["blob_scale"])
        # beta(x) = beta * (1 - p + 2p * bank): p = 1 leaves clear gaps beside banks twice as thick.
        density = params["beta"] * (1.0 - params["patchiness"] + 2.0 * params["patchiness"] * banks)
        optical_depth = density * distance
        params["severity"] = float(min(1.0, _hidden_fraction(optical_depth) / 0.8))
        return _scatter(image, optical_depth, np.asarray(params["airlight"], np.float32)), params

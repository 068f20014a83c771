"""Blur, four independent families, and JPEG compression.

Sizes are for a 512 px short side and shrink with smaller images, but never below half, so that
thumbnails still get a visible blur. Each blur records a `severity` in [0, 1] over its own range.
- `defocus`: a pillbox (out-of-focus lens).
- `gaussian`: a Gaussian point spread (soft optics, atmospheric turbulence, upscaled images).
- `motion`: a straight line (panning, a moving subject).
- `shake`: a random camera-shake trajectory (a random walk with inertia, after Boracchi & Foi
  2012, "Modeling the performance of image restoration from motion blur"), rasterised sub-pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shared.degrade.camera import jpeg_round_trip
from shared.degrade.kernels import convolve, disk_kernel, line_kernel


def _scale(image: np.ndarray) -> float:
    return max(0.5, min(image.shape[:2]) / 512)


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _blurred(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.clip(convolve(image, kernel / kernel.sum()), 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class DefocusBlur:
    radius: tuple[float, float] = (1.0, 5.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"radius": float(rng.uniform(*self.radius))}
        params["severity"] = _clip01((params["radius"] - 1.0) / 4.0)
        return _blurred(image, disk_kernel(max(0.5, params["radius"] * _scale(image)))), params


@dataclass(frozen=True)
class GaussianBlur:
    sigma: tuple[float, float] = (0.8, 3.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"sigma": float(rng.uniform(*self.sigma))}
        params["severity"] = _clip01((params["sigma"] - 0.8) / 2.2)
        sigma = params["sigma"] * _scale(image)
        return np.clip(ndimage.gaussian_filter(image, (sigma, sigma, 0), mode="reflect"), 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class MotionBlur:
    length: tuple[float, float] = (5.0, 25.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"length": float(rng.uniform(*self.length)), "angle_deg": float(rng.uniform(0, 180))}
        params["severity"] = _clip01((params["length"] - 5.0) / 20.0)
        return _blurred(image, line_kernel(max(3.0, params["length"] * _scale(image)), params["angle_deg"])), params


def shake_kernel(extent: float, rng: np.random.Generator, steps: int = 64, jitter: float = 0.6) -> np.ndarray:
    """A normalised kernel of a random camera-shake path that spans about `extent` px."""
    position = np.zeros(2)
    path = [position.copy()]
    velocity = rng.normal(0.0, 1.0, 2)
    for _ in range(steps - 1):
        # Inertia keeps the path smooth; jitter turns it; a pull to the start keeps it compact.
        velocity = 0.85 * velocity + jitter * rng.normal(0.0, 1.0, 2) - 0.02 * position
        position = position + velocity
        path.append(position.copy())
    path = np.array(path)
    path -= path.mean(axis=0)
    span = max(float(np.abs(path).max()) * 2, 1e-6)
    path *= max(extent, 1.0) / span
    size = (int(np.ceil(max(extent, 1.0))) | 1) + 2
    centre = size // 2
    kernel = np.zeros((size, size), np.float32)
    for y, x in path + centre:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                kernel[y0 + dy, x0 + dx] += weight
    return kernel / kernel.sum()


@dataclass(frozen=True)
class ShakeBlur:
    extent: tuple[float, float] = (5.0, 25.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"extent": float(rng.uniform(*self.extent))}
        params["severity"] = _clip01((params["extent"] - 5.0) / 20.0)
        return _blurred(image, shake_kernel(params["extent"] * _scale(image), rng)), params


@dataclass(frozen=True)
class JpegCompression:
    """Round trip through Pillow's JPEG encoder at a random quality."""

    quality: tuple[int, int] = (15, 60)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {"quality": int(rng.integers(self.quality[0], self.quality[1] + 1))}
        params["severity"] = _clip01((60 - params["quality"]) / 45)
        return jpeg_round_trip(image, params["quality"]), params

"""Snow, four independent families, composited as I' = I*(1-m) + w*m (OneRestore's snow model).

Sizes are for a 512 px short side and scale with the image.
- `flakes` (CDD-11-like): three depth layers of soft discs (small and dense far away, large and
  sparse close by), each smeared by a short motion blur in the falling direction.
- `streaks`: falling snow caught by a longer exposure: flakes drawn out into faint streaks.
- `dense`: a blizzard: many fine flakes in front of a white veil that lifts the blacks and
  washes out contrast (snow in the air too thick to resolve).
- `bokeh`: flakes close to the lens of a camera focused on the scene: large, soft, translucent
  discs (each flake's circle of confusion), over a thin layer of fine far flakes. The other
  families draw every flake in focus; flakes near a real camera rarely are.
Each records a `severity` in [0, 1]: the fraction of the frame the snow hides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shared.degrade.kernels import convolve, ellipse_window, line_kernel


def flake_layer(
    shape: tuple[int, int], rng: np.random.Generator, *, sigma: float, density: float, motion_length: float, angle_deg: float
) -> np.ndarray:
    """A HxW mask in [0,1] of Gaussian flakes of peak 1, smeared along `angle_deg` by `motion_length` px."""
    seeds = (rng.random(shape) < density).astype(np.float32)
    # A Gaussian of peak 1 per flake: multiply by its normalisation 2*pi*sigma^2.
    flakes = ndimage.gaussian_filter(seeds, sigma) * (2 * np.pi * sigma**2)
    flakes = convolve(flakes, line_kernel(max(1.0, motion_length), angle_deg))
    flakes /= max(1.0, motion_length) ** 0.5
    return np.clip(flakes, 0.0, 1.0).astype(np.float32)


def depth_layers(
    shape: tuple[int, int],
    rng: np.random.Generator,
    scale: float,
    angle: float,
    sigma_ranges: tuple[tuple[float, float], ...],
    density_ranges: tuple[tuple[float, float], ...],
    motion_length: tuple[float, float],
    opacity: tuple[float, float],
) -> tuple[np.ndarray, list[dict]]:
    """One flake layer per depth (a sigma and a density range each), stacked over one another: (mask, drawn layers)."""
    mask = np.zeros(shape, np.float32)
    layers = []
    for sigma_range, density_range in zip(sigma_ranges, density_ranges, strict=True):
        layer = {
            "flake_sigma": float(rng.uniform(*sigma_range)),
            "density": float(rng.uniform(*density_range)),
            "motion_length": float(rng.uniform(*motion_length)),
            "opacity": float(rng.uniform(*opacity)),
        }
        flakes = flake_layer(shape, rng, sigma=max(0.3, layer["flake_sigma"] * scale), density=layer["density"],
                             motion_length=layer["motion_length"] * scale, angle_deg=angle)  # fmt: skip
        mask = _over(mask, flakes * layer["opacity"])
        layers.append(layer)
    return mask, layers


def _over(mask: np.ndarray, layer: np.ndarray) -> np.ndarray:
    return 1.0 - (1.0 - mask) * (1.0 - layer)


@dataclass(frozen=True)
class FlakeSnow:
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
        mask, layers = depth_layers((height, width), rng, scale, angle, self.flake_sigma, self.density, self.motion_length, self.opacity)
        coverage = sum(layer["density"] * 2 * np.pi * layer["flake_sigma"] ** 2 * layer["opacity"] for layer in layers)
        snowy = image * (1.0 - mask[..., None]) + mask[..., None]
        params = {"angle_deg": angle, "layers": layers, "severity": float(min(1.0, coverage / 0.1))}
        return np.clip(snowy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class StreakSnow:
    """Falling snow at a slow shutter: 2-3 layers of flakes drawn into faint streaks."""

    layers: tuple[int, int] = (2, 3)
    flake_sigma: tuple[float, float] = (0.6, 2.0)
    density: tuple[float, float] = (0.0003, 0.002)
    motion_length: tuple[float, float] = (10.0, 30.0)
    angle_deg: tuple[float, float] = (-40.0, 40.0)
    opacity: tuple[float, float] = (0.4, 0.9)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        mask = np.zeros((height, width), np.float32)
        layers = []
        for _ in range(int(rng.integers(self.layers[0], self.layers[1] + 1))):
            layer = {
                "flake_sigma": float(rng.uniform(*self.flake_sigma)),
                "density": float(rng.uniform(*self.density)),
                "motion_length": float(rng.uniform(*self.motion_length)),
                "angle_deg": angle + float(rng.normal(0.0, 5.0)),
                "opacity": float(rng.uniform(*self.opacity)),
            }
            # flake_layer keeps a streak as bright as the root of its length allows; 1.3 lifts long streaks to a visible level.
            streaks = flake_layer((height, width), rng, sigma=max(0.3, layer["flake_sigma"] * scale), density=layer["density"],
                                  motion_length=layer["motion_length"] * scale, angle_deg=layer["angle_deg"])  # fmt: skip
            mask = _over(mask, np.clip(streaks * 1.3, 0.0, 1.0) * layer["opacity"])
            layers.append(layer)
        params = {"angle_deg": angle, "layers": layers, "severity": float(min(1.0, mask.mean() / 0.12))}
        snowy = image * (1.0 - mask[..., None]) + mask[..., None]
        return np.clip(snowy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class DenseSnow:
    """A blizzard: dense fine flakes over a white veil."""

    flake_sigma: tuple[tuple[float, float], ...] = ((0.4, 0.9), (0.9, 1.6), (1.6, 3.0))
    density: tuple[tuple[float, float], ...] = ((0.006, 0.02), (0.001, 0.005), (0.0002, 0.0008))
    motion_length: tuple[float, float] = (2.0, 14.0)
    angle_deg: tuple[float, float] = (-35.0, 35.0)
    opacity: tuple[float, float] = (0.6, 1.0)
    veil: tuple[float, float] = (0.1, 0.4)
    veil_level: tuple[float, float] = (0.8, 1.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        params = {"angle_deg": angle, "veil": float(rng.uniform(*self.veil)), "veil_level": float(rng.uniform(*self.veil_level))}
        mask, layers = depth_layers((height, width), rng, scale, angle, self.flake_sigma, self.density, self.motion_length, self.opacity)
        params["layers"] = layers
        params["severity"] = float(min(1.0, mask.mean() / 0.15 + params["veil"]))
        veiled = image * (1.0 - params["veil"]) + params["veil_level"] * params["veil"]
        snowy = veiled * (1.0 - mask[..., None]) + mask[..., None]
        return np.clip(snowy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class BokehSnow:
    """Out-of-focus flakes near the lens: translucent discs of circle-of-confusion sizes, over fine far flakes.

    A lens of focal length f and aperture diameter A focused far away spreads a flake at distance
    d over a disc of diameter f*A/d on the sensor. Discs of 5-44 px on a 512 px frame (`radius`
    2.5-22 px) are a phone's flakes (f 4 mm, f/1.8, 4.2 mm sensor side) 2.5-22 cm from the lens, or a
    50 mm f/2.8 lens's (full frame) 0.4-4 m away. The radius is the inverse of a uniform
    distance, so large discs are rarer than small ones (flakes filling the volume evenly would
    make them rarer still). The flake's light is spread over its disc: the peak opacity is about
    (flake size / A)^2, near 1 for a phone and a few percent for a wide aperture; `opacity`
    0.12-0.7 is a middle range, and larger discs are drawn fainter. Falling during the exposure
    stretches a disc downward.
    """

    discs_per_megapixel: tuple[float, float] = (60.0, 500.0)
    radius: tuple[float, float] = (2.5, 22.0)
    opacity: tuple[float, float] = (0.12, 0.7)
    stretch: tuple[float, float] = (1.0, 1.5)
    fine_density: tuple[float, float] = (0.0005, 0.004)
    level: tuple[float, float] = (0.75, 1.0)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        params = {
            "discs_per_megapixel": float(rng.uniform(*self.discs_per_megapixel)),
            "stretch": float(rng.uniform(*self.stretch)),
            "fine_density": float(rng.uniform(*self.fine_density)),
            "level": float(rng.uniform(*self.level)),
        }
        # Counted on the 512 px frame the ranges are for, so a larger photo holds the same flakes, larger.
        count = int(rng.poisson(params["discs_per_megapixel"] * (height / scale) * (width / scale) / 1e6))
        low, high = self.radius
        discs = np.zeros((height, width), np.float32)
        for _ in range(count):
            radius = low * high / (high - rng.uniform(0.0, 1.0) * (high - low))
            opacity = self.opacity[1] - (self.opacity[1] - self.opacity[0]) * ((radius - low) / (high - low)) ** 0.5 * rng.uniform(0.7, 1.0)
            radius = max(1.0, radius * scale)
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            found = ellipse_window((height, width), (cy, cx), radius * params["stretch"], radius)
            if found is None:
                continue
            window, distance = found
            # A pillbox with an edge about a pixel soft, its rim a little brighter, as real bokeh discs are.
            disc = np.clip((1.0 - distance) * radius, 0.0, 1.0) * (0.85 + 0.15 * np.clip(distance, 0.0, 1.0) ** 4)
            discs[window] = _over(discs[window], opacity * disc)
        fine = flake_layer((height, width), rng, sigma=max(0.3, 0.6 * scale), density=params["fine_density"],
                           motion_length=4.0 * scale, angle_deg=float(rng.uniform(-20.0, 20.0)))  # fmt: skip
        mask = _over(discs, 0.6 * fine)
        params["discs"] = count
        params["severity"] = float(min(1.0, mask.mean() / 0.05))
        snowy = image * (1.0 - mask[..., None]) + params["level"] * mask[..., None]
        return np.clip(snowy, 0.0, 1.0).astype(np.float32), params

"""Rain, five independent families. Lengths and sizes are for a 512 px short side and scale with the image.

- `streaks` (OneRestore adds a rain mask, I + R): 1-3 layers of thin motion-blurred streaks at
  one wind angle, each with its own length, density and brightness.
- `heavy`: Rain100H-like torrential rain: 2-4 dense layers of wide, long, bright streaks whose
  angles cross, over a rain-accumulation veil (the mist of many drops too far to resolve).
- `soft`: drops falling close to the lens, out of focus: few wide, long, faint streaks blended
  like light (screen), over a thin veil.
- `drops`: raindrops sitting on the lens or windscreen: blurred, brightened discs that refract
  a smeared view of the scene, with darker rims, plus a sparse light drizzle.
- `fine`: rain as a camera records it (Garg & Nayar 2007, "Vision and rain"; Halder et al.
  2019): depth layers of thin, faint, dense, near-vertical streaks that all share one wind
  angle, each pixel of a streak moved toward the light the drop refracts from the whole scene,
  over the attenuation of the drops too far away to resolve. The other families draw rain as
  bright paint-like strokes; a camera mostly records this.
Each records a `severity` in [0, 1] from the rendered layer (how much of the frame the rain covers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from shared.degrade.kernels import convolve, ellipse_window, line_kernel


def streak_layer(
    shape: tuple[int, int], rng: np.random.Generator, *, density: float, length: float, angle_deg: float, width: float, blur_sigma: float
) -> np.ndarray:
    """A HxW layer in [0,1] of streaks: random seeds drawn into lines of `length` px, `width` px wide, softened."""
    height, width_px = shape
    drops = (rng.random(shape) < density) * rng.uniform(0.5, 1.0, shape)
    streaks = convolve(drops.astype(np.float32), line_kernel(max(1.0, length), angle_deg))
    if width > 1.0:
        size = int(round(width))
        streaks = ndimage.grey_dilation(streaks, size=(1, size) if abs(angle_deg) < 45 else (size, 1))
    streaks = ndimage.gaussian_filter(streaks, max(blur_sigma, 0.1))
    return np.clip(streaks, 0.0, 1.0).astype(np.float32)


def _veil(image: np.ndarray, amount: float, level: float) -> np.ndarray:
    return image * (1.0 - amount) + level * amount


@dataclass(frozen=True)
class StreakRain:
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
            rain += layer["brightness"] * streak_layer(
                (height, width), rng, density=layer["density"], length=layer["length"] * scale,
                angle_deg=layer["angle_deg"], width=1.0, blur_sigma=layer["blur_sigma"] * max(scale, 0.25),
            )  # fmt: skip
            layers.append(layer)
        severity = float(min(1.0, sum(layer["density"] * layer["brightness"] for layer in layers) / 0.004))
        rainy = image + np.clip(rain, 0.0, 1.0)[..., None]
        return np.clip(rainy, 0.0, 1.0).astype(np.float32), {"layers": layers, "severity": severity}


@dataclass(frozen=True)
class HeavyRain:
    """Torrential rain: crossing layers of dense, wide, bright streaks over an accumulation veil."""

    layers: tuple[int, int] = (2, 4)
    angle_deg: tuple[float, float] = (-30.0, 30.0)
    crossing_deg: float = 35.0
    length: tuple[float, float] = (25.0, 70.0)
    density: tuple[float, float] = (0.0015, 0.005)
    width: tuple[float, float] = (1.0, 2.5)
    brightness: tuple[float, float] = (0.3, 0.7)
    veil: tuple[float, float] = (0.03, 0.2)
    veil_level: tuple[float, float] = (0.7, 0.95)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        base = float(rng.uniform(*self.angle_deg))
        params = {"veil": float(rng.uniform(*self.veil)), "veil_level": float(rng.uniform(*self.veil_level)), "layers": []}
        rain = np.zeros((height, width), np.float32)
        for _ in range(int(rng.integers(self.layers[0], self.layers[1] + 1))):
            layer = {
                "angle_deg": base + float(rng.uniform(-self.crossing_deg, self.crossing_deg)),
                "length": float(rng.uniform(*self.length)),
                "density": float(rng.uniform(*self.density)),
                "width": float(rng.uniform(*self.width)),
                "brightness": float(rng.uniform(*self.brightness)),
            }
            rain += layer["brightness"] * streak_layer(
                (height, width), rng, density=layer["density"], length=layer["length"] * scale, angle_deg=layer["angle_deg"],
                width=max(1.0, layer["width"] * scale), blur_sigma=0.6 * max(scale, 0.25),
            )  # fmt: skip
            params["layers"].append(layer)
        rain = np.clip(rain, 0.0, 1.0)
        params["severity"] = float(min(1.0, rain.mean() / 0.2 + params["veil"]))
        rainy = _veil(image, params["veil"], params["veil_level"]) + rain[..., None]
        return np.clip(rainy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class SoftRain:
    """Out-of-focus drops near the lens: wide, long, faint streaks added like light, over a thin veil."""

    layers: tuple[int, int] = (1, 2)
    angle_deg: tuple[float, float] = (-20.0, 20.0)
    length: tuple[float, float] = (40.0, 120.0)
    density: tuple[float, float] = (0.0003, 0.0015)
    width: tuple[float, float] = (2.0, 5.0)
    opacity: tuple[float, float] = (0.15, 0.45)
    veil: tuple[float, float] = (0.0, 0.15)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        params = {"veil": float(rng.uniform(*self.veil)), "layers": []}
        light = np.zeros((height, width), np.float32)
        for _ in range(int(rng.integers(self.layers[0], self.layers[1] + 1))):
            layer = {
                "angle_deg": angle + float(rng.normal(0.0, 4.0)),
                "length": float(rng.uniform(*self.length)),
                "density": float(rng.uniform(*self.density)),
                "width": float(rng.uniform(*self.width)),
                "opacity": float(rng.uniform(*self.opacity)),
            }
            streaks = streak_layer(
                (height, width), rng, density=layer["density"], length=layer["length"] * scale, angle_deg=layer["angle_deg"],
                width=max(1.0, layer["width"] * scale), blur_sigma=max(0.5, layer["width"] * scale / 2),
            )  # fmt: skip
            light = 1.0 - (1.0 - light) * (1.0 - layer["opacity"] * streaks)
            params["layers"].append(layer)
        params["severity"] = float(min(1.0, light.mean() / 0.08 + 2 * params["veil"]))
        veiled = _veil(image, params["veil"], 0.85)
        rainy = 1.0 - (1.0 - veiled) * (1.0 - light[..., None])
        return np.clip(rainy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class DropRain:
    """Raindrops on the lens: refracting, blurred discs with darker rims, plus a sparse drizzle."""

    drops_per_megapixel: tuple[float, float] = (80.0, 500.0)
    radius: tuple[float, float] = (4.0, 22.0)
    refraction_blur: tuple[float, float] = (2.0, 6.0)
    drizzle_probability: float = 0.5

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        params = {
            "drops_per_megapixel": float(rng.uniform(*self.drops_per_megapixel)),
            "refraction_blur": float(rng.uniform(*self.refraction_blur)),
        }
        count = int(rng.poisson(params["drops_per_megapixel"] * height * width / 1e6))
        alpha = np.zeros((height, width), np.float32)
        rim = np.zeros((height, width), np.float32)
        for _ in range(count):
            radius = max(1.5, float(rng.uniform(*self.radius)) * scale)
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            squash = float(rng.uniform(0.7, 1.0))  # drops run down: taller than wide
            found = ellipse_window((height, width), (cy, cx), radius, radius * squash)
            if found is None:
                continue
            window, distance = found
            disc = np.clip((1.0 - distance) * radius / 1.5, 0.0, 1.0)
            alpha[window] = np.maximum(alpha[window], disc)
            ring = np.exp(-(((distance - 0.9) / 0.12) ** 2)) * (distance < 1.2)
            rim[window] = np.maximum(rim[window], ring)
        # A drop is a lens: it shows a blurred, upside-down-ish view; a vertical flip of the smeared scene stands in for it.
        sigma = params["refraction_blur"] * max(scale, 0.25)
        refracted = ndimage.gaussian_filter(image[::-1], (sigma, sigma, 0)) * 1.08 + 0.03
        out = image * (1.0 - alpha[..., None]) + refracted * alpha[..., None]
        out = out * (1.0 - 0.35 * rim[..., None])
        params["drops"] = count
        params["drizzle"] = bool(rng.random() < self.drizzle_probability)
        if params["drizzle"]:
            out = out + 0.3 * streak_layer(
                (height, width), rng, density=0.0008, length=20 * scale, angle_deg=float(rng.uniform(-15, 15)),
                width=1.0, blur_sigma=0.6 * max(scale, 0.25),
            )[..., None]  # fmt: skip
        params["severity"] = float(min(1.0, alpha.mean() / 0.25 + (0.1 if params["drizzle"] else 0.0)))
        return np.clip(out, 0.0, 1.0).astype(np.float32), params


def environment_light(image: np.ndarray, gain: float) -> np.ndarray:
    """The light a falling drop shows: it refracts a ~165 degree view of the scene, so about the scene's
    average, pulled toward the nearby light and brightened by `gain` (the sky above dominates it)."""
    sigma = max(1.0, min(image.shape[:2]) / 8)
    nearby = ndimage.gaussian_filter(image, (sigma, sigma, 0))
    light = 0.5 * nearby + 0.5 * image.mean(axis=(0, 1), keepdims=True)
    return np.clip(light * gain, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class FineRain:
    """Depth layers of thin, faint streaks blended toward the environment's light, over a rain veil.

    From the physics of a streak (Garg & Nayar 2007): a drop of radius 0.5-3.5 mm falls at
    4-9 m/s and stays on one pixel for at most ~1.2 ms, whatever its distance, so a streak moves a
    pixel only the fraction tau/T of the way toward the drop's own radiance: at most 0.04 at
    1/30 s, 0.15 at 1/125 s, 0.3 at 1/250 s. `opacity` 0.06-0.4 spans exposures of about
    1/50-1/340 s. Drops a few metres away image to a pixel or less, so streaks are 1 px wide, the
    nearest up to 2 px and out of focus; the length is the fall during the exposure, longest near
    the camera, and far away more drops are in view (`density`). Wind tilts every layer alike.
    Drops too far to resolve attenuate the scene like fog (Halder et al. 2019: `veil`).

    Simplified: the nearest layers are drawn the most opaque, while physics makes a long,
    defocused near streak fainter (opacity about drop size over streak length); and the
    density is per pixel, so a larger photo holds more streaks than its 512 px version.
    """

    layers: tuple[int, int] = (2, 4)
    angle_deg: tuple[float, float] = (-15.0, 15.0)
    length: tuple[float, float] = (6.0, 60.0)
    density: tuple[float, float] = (0.002, 0.03)
    opacity: tuple[float, float] = (0.06, 0.4)
    light_gain: tuple[float, float] = (1.0, 1.6)
    veil: tuple[float, float] = (0.0, 0.15)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        height, width = image.shape[:2]
        scale = min(height, width) / 512
        angle = float(rng.uniform(*self.angle_deg))
        params = {"angle_deg": angle, "light_gain": float(rng.uniform(*self.light_gain)), "veil": float(rng.uniform(*self.veil))}
        light = environment_light(image, params["light_gain"])
        count = int(rng.integers(self.layers[0], self.layers[1] + 1))
        coverage = np.zeros((height, width), np.float32)
        params["layers"] = []
        for index in range(count):
            nearness = (index + float(rng.uniform(0.0, 1.0))) / count  # 0 far, 1 at the camera
            layer = {
                "nearness": nearness,
                "angle_deg": angle + float(rng.normal(0.0, 1.5)),
                "length": float(np.interp(nearness * rng.uniform(0.8, 1.0), (0, 1), self.length)),
                "density": float(np.exp(np.interp(nearness, (0, 1), np.log(self.density[::-1]))) * rng.uniform(0.5, 1.0)),
                "opacity": float(np.interp(0.35 + 0.65 * nearness * rng.uniform(0.6, 1.0), (0, 1), self.opacity)),
            }
            layer["density"] = float(np.clip(layer["density"], *self.density))
            streaks = streak_layer(
                (height, width), rng, density=layer["density"], length=layer["length"] * scale, angle_deg=layer["angle_deg"],
                width=1.0 + nearness * scale, blur_sigma=(0.3 + 1.2 * nearness**2) * max(scale, 0.25),
            )  # fmt: skip
            coverage = 1.0 - (1.0 - coverage) * (1.0 - layer["opacity"] * streaks)
            params["layers"].append(layer)
        veiled = _veil(image, params["veil"], light)
        rainy = veiled + coverage[..., None] * (light - veiled)
        params["severity"] = float(min(1.0, coverage.mean() / 0.2 + 2 * params["veil"]))
        return np.clip(rainy, 0.0, 1.0).astype(np.float32), params

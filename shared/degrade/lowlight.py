"""Low light: four independent families, and `dark_lime`, a darker `lime`.

- `lime` (OneRestore's CDD-11 model): estimate an illumination map L (LIME's max-over-RGB
  initialisation, guided-filtered), output I * L**(gamma-1) * exposure, so dark regions darken
  most; then Poisson shot + Gaussian read noise in sRGB.
- `curve`: a global gamma and exposure curve with mild Gaussian noise, the textbook synthetic
  low light (LOL's synthetic half, many Retinex papers).
- `camera`: the scene is photographed again with far less light (Brooks et al. 2019 pipeline,
  shared.degrade.camera): exposure cut in linear raw, shot and read noise at high ISO, bilinear
  demosaic, a wrong white balance (colour cast), partial digital gain, tone curve, and JPEG.
  Noise here is signal-dependent, correlated and coloured, as in real night shots (LOL).
- `underexposed`: the same camera at base ISO, exposed for far too little light and given little
  gain, then smoothed by a phone's noise reduction: the frame stays dark and nearly without grain,
  from a few percent of the light to a third. The training families, `lime` and `camera`, always
  leave visible noise, and a restorer trained on them alone learns "dark and noisy" rather than
  "dark" as the cue to lift.
- `dark_lime`: `lime` with a third to a half of its sRGB values, draw for draw (exposure 0.2-0.5
  instead of 0.6-1). `lime` leaves frames as bright as a dim room that was photographed well
  (docs/results/low_light_brightness.csv), so a prompter and a restorer trained on `lime` can
  learn to call such rooms "low light" and to lift them. Its own sets (`dark`, `dark_weather`),
  kept out of `train`.
Each records a `severity` in [0, 1]: how dark the result is, normalised over its own ranges
(`dark_lime`'s mapped onto 1/3-1, above `lime`'s mildest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.degrade.camera import BLUE_GAIN, RED_GAIN, capture, jpeg_round_trip, sample_sensor_noise
from shared.degrade.kernels import guided_filter


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


@dataclass(frozen=True)
class LimeLowLight:
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
        params["severity"] = self._severity(params["gamma"], params["exposure"])
        gray = image.mean(axis=2)
        radius = max(1, min(image.shape[:2]) // 64)
        illumination = np.clip(guided_filter(gray, image.max(axis=2), radius, eps=0.01), 0.02, 1.0)
        dark = image * (illumination ** (params["gamma"] - 1.0))[..., None] * params["exposure"]
        photons = params["photons_at_white"]
        noisy = rng.poisson(np.clip(dark, 0, 1) * photons) / photons
        noisy = noisy + rng.normal(0.0, params["read_noise"], size=image.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params

    def _severity(self, gamma: float, exposure: float) -> float:
        return _clip01(0.5 * (gamma - 2.0) + 0.5 * (1.0 - exposure) / 0.4)


@dataclass(frozen=True)
class DarkLimeLowLight(LimeLowLight):
    """LimeLowLight with the exposure of a frame that is dark and not merely dim: 0.2-0.5 instead of 0.6-1 (the top is
    half of lime's mildest exposure, the bottom a third of its darkest)."""

    exposure: tuple[float, float] = (0.2, 0.5)

    def _severity(self, gamma: float, exposure: float) -> float:
        # Severity picks the prompt's word at 1/3 and 2/3: a dark frame is never worded "in dim light".
        return 1 / 3 + 2 / 3 * _clip01(0.5 * (gamma - 2.0) + 0.5 * (0.5 - exposure) / 0.3)


@dataclass(frozen=True)
class CurveLowLight:
    """A global curve `exposure * I**gamma` (whole frame alike), plus faint Gaussian noise."""

    gamma: tuple[float, float] = (1.4, 2.6)
    exposure: tuple[float, float] = (0.15, 0.55)
    noise_sigma: tuple[float, float] = (0.0, 0.015)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        params = {
            "gamma": float(rng.uniform(*self.gamma)),
            "exposure": float(rng.uniform(*self.exposure)),
            "noise_sigma": float(rng.uniform(*self.noise_sigma)),
        }
        params["severity"] = _clip01(0.5 * (params["gamma"] - 1.4) / 1.2 + 0.5 * (0.55 - params["exposure"]) / 0.4)
        dark = params["exposure"] * np.clip(image, 0, 1) ** params["gamma"]
        noisy = dark + rng.normal(0.0, params["noise_sigma"], size=image.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32), params


@dataclass(frozen=True)
class CameraLowLight:
    """Re-photograph the scene with `exposure` of the light, at high ISO, through a camera's ISP."""

    brightness: tuple[float, float] = (0.06, 0.4)
    """Linear light left in the output (log-uniform): the sensor's exposure times the ISP's digital gain."""
    digital_gain: tuple[float, float] = (1.0, 4.0)
    shot_noise: tuple[float, float] = (0.001, 0.012)
    white_balance_error: tuple[float, float] = (0.8, 1.25)
    jpeg_probability: float = 0.7
    jpeg_quality: tuple[int, int] = (70, 95)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        shot, read = sample_sensor_noise(rng, self.shot_noise)
        params = {
            "brightness": float(np.exp(rng.uniform(np.log(self.brightness[0]), np.log(self.brightness[1])))),
            "digital_gain": float(rng.uniform(*self.digital_gain)),
            "shot_noise": shot,
            "read_noise": read,
            "red_gain": float(rng.uniform(*RED_GAIN)),
            "blue_gain": float(rng.uniform(*BLUE_GAIN)),
            "white_balance_error": [float(rng.uniform(*self.white_balance_error)) for _ in range(2)],
            "jpeg_quality": int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
            if rng.random() < self.jpeg_probability
            else None,
        }
        # A darker sensor exposure pushed up by a larger gain is noisier at the same brightness.
        params["exposure"] = params["brightness"] / params["digital_gain"]
        params["severity"] = _clip01(np.log(self.brightness[1] / params["brightness"]) / np.log(self.brightness[1] / self.brightness[0]))
        dark = capture(
            image,
            rng,
            exposure=params["exposure"],
            shot_noise=shot,
            read_noise=read,
            red_gain=params["red_gain"],
            blue_gain=params["blue_gain"],
            white_balance_error=tuple(params["white_balance_error"]),
            digital_gain=params["digital_gain"],
        )
        dark = self._reduce_noise(dark, params, rng)
        if params["jpeg_quality"] is not None:
            dark = jpeg_round_trip(dark, params["jpeg_quality"])
        return np.clip(dark, 0.0, 1.0).astype(np.float32), params

    def _reduce_noise(self, image: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
        """The ISP's noise reduction before JPEG: none here, so the sensor's grain stays."""
        return image


@dataclass(frozen=True)
class UnderexposedLowLight(CameraLowLight):
    """CameraLowLight at base ISO with a phone's noise reduction: darker frames (down to 2 % of the light), a tenth of
    the shot noise, little gain, and what grain is left smoothed away (self-guided filter, as ISPs do before JPEG)."""

    brightness: tuple[float, float] = (0.02, 0.3)
    digital_gain: tuple[float, float] = (1.0, 1.5)
    shot_noise: tuple[float, float] = (0.0001, 0.001)
    white_balance_error: tuple[float, float] = (0.9, 1.1)
    noise_reduction: tuple[float, float] = (3e-4, 3e-3)
    """The guided filter's eps (log-uniform): local variance below it is smoothed as noise."""

    def _reduce_noise(self, image: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
        eps = float(np.exp(rng.uniform(np.log(self.noise_reduction[0]), np.log(self.noise_reduction[1]))))
        params["noise_reduction"] = eps
        return np.stack([guided_filter(image[..., c], image[..., c], 2, eps) for c in range(3)], axis=-1)

"""Every generator family by degradation, and the named sets of families a split can use.

A family is an independent physical model of one degradation (its module documents the model,
ranges and source). Training uses `train`; the leave-one-family-out validation uses `heldout`,
one family per degradation that training never sees; `classic` is the first release's generators
(its CDD-11 composites reproduce the earlier evaluation sets exactly; its blur and noise are the
first release's kinds with this release's ranges). `weather` is weather as a camera records it
(fine rain, out-of-focus snow), the other degradations as in `train`. `train` leaves those two
out: a family added to a set changes every composite a split of that set draws, and the splits
our recorded numbers were measured on must rebuild the same. Training reaches them through the
`weather:` split. `underexposed` is the training set with low light only as base-ISO
underexposure (dark and nearly noise-free), kept out of `train` and reached through the
`underexposed:` split for the same reason. `dark` is the training set with `lime` replaced by
`dark_lime` (the same model with a third to a half of its values), so that "low light" names a dark frame and
not a dim room: a set to build a prompter's and a restorer's training caches with (`--families
dark`, and `dark_weather` for the `weather:` split, whose low light is `lime` too), kept out of
`train` for the same reason. `heavy_rain` is `train` with rain only `heavy`
(Rain100H-like): a validation set for `heavy` alone, which `train` draws as one rain family in three. `all`
holds every family, so it grows with each one added: no recorded number was measured on it.
"""

from __future__ import annotations

from shared.degrade.blur import DefocusBlur, GaussianBlur, JpegCompression, MotionBlur, ShakeBlur
from shared.degrade.haze import PatchyHaze, RandomDepthHaze, ScatteringHaze
from shared.degrade.lowlight import CameraLowLight, CurveLowLight, DarkLimeLowLight, LimeLowLight, UnderexposedLowLight
from shared.degrade.noise import CameraNoise, GaussianNoise, PoissonNoise
from shared.degrade.rain import DropRain, FineRain, HeavyRain, SoftRain, StreakRain
from shared.degrade.snow import BokehSnow, DenseSnow, FlakeSnow, StreakSnow
from shared.errors import ConfigError

FAMILIES: dict[str, dict[str, type]] = {
    "low": {
        "lime": LimeLowLight,
        "curve": CurveLowLight,
        "camera": CameraLowLight,
        "underexposed": UnderexposedLowLight,
        "dark_lime": DarkLimeLowLight,
    },
    "haze": {"scattering": ScatteringHaze, "random_depth": RandomDepthHaze, "patchy": PatchyHaze},
    "rain": {"streaks": StreakRain, "heavy": HeavyRain, "drops": DropRain, "soft": SoftRain, "fine": FineRain},
    "snow": {"flakes": FlakeSnow, "streaks": StreakSnow, "dense": DenseSnow, "bokeh": BokehSnow},
    "blur": {"defocus": DefocusBlur, "motion": MotionBlur, "shake": ShakeBlur, "gaussian": GaussianBlur},
    "noise": {"gaussian": GaussianNoise, "camera": CameraNoise, "poisson": PoissonNoise},
    "jpeg": {"jpeg": JpegCompression},
}

HELD_OUT: dict[str, str] = {"low": "curve", "haze": "random_depth", "rain": "soft", "snow": "dense", "blur": "gaussian", "noise": "poisson"}
"""The family of each degradation that training never uses (JPEG has one family and is not held out)."""

CAMERA_WEATHER: dict[str, tuple[str, ...]] = {"rain": ("fine",), "snow": ("bokeh",)}
"""The families of the `weather` set, kept out of `train` (see above)."""

UNDEREXPOSED: dict[str, tuple[str, ...]] = {"low": ("underexposed",)}
"""The family of the `underexposed` set, kept out of `train` (see above)."""

DARK: dict[str, tuple[str, ...]] = {"low": ("dark_lime",)}
"""The family the `dark` set puts in `lime`'s place, kept out of `train` (see above)."""

CAPTURE_FAMILIES = frozenset({("low", "camera"), ("low", "underexposed")})
"""Families that re-photograph the scene (raw noise, ISP): applied with the camera, after blur, not with the weather."""

_KEPT_OUT = {c: (HELD_OUT.get(c), *CAMERA_WEATHER.get(c, ()), *UNDEREXPOSED.get(c, ()), *DARK.get(c, ())) for c in FAMILIES}
_TRAINING = {c: tuple(n for n in names if n not in _KEPT_OUT[c]) for c, names in FAMILIES.items()}
_DARK_TRAINING = {**_TRAINING, "low": tuple(DARK["low"][0] if name == "lime" else name for name in _TRAINING["low"])}

FAMILY_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "train": _TRAINING,
    "heldout": {c: (HELD_OUT[c],) if c in HELD_OUT else tuple(names) for c, names in FAMILIES.items()},
    "all": {c: tuple(names) for c, names in FAMILIES.items()},
    "weather": {**_TRAINING, **CAMERA_WEATHER},
    "underexposed": {**_TRAINING, **UNDEREXPOSED},
    "heavy_rain": {**_TRAINING, "rain": ("heavy",)},
    "dark": _DARK_TRAINING,
    "dark_weather": {**_DARK_TRAINING, **CAMERA_WEATHER},
    "classic": {"low": ("lime",), "haze": ("scattering",), "rain": ("streaks",), "snow": ("flakes",),
                "blur": ("defocus", "motion"), "noise": ("gaussian", "poisson"), "jpeg": ("jpeg",)},
}  # fmt: skip


def family_class(component: str, name: str) -> type:
    """The class of a family; an unknown name raises ConfigError listing the choices."""
    if component not in FAMILIES:
        raise ConfigError(f"unknown degradation {component!r}; choose one of {', '.join(FAMILIES)}")
    if name not in FAMILIES[component]:
        raise ConfigError(f"unknown {component} family {name!r}; choose one of {', '.join(FAMILIES[component])}")
    return FAMILIES[component][name]


def family_set(name: str) -> dict[str, tuple[str, ...]]:
    """The families per degradation of a named set; an unknown name lists the choices."""
    if name not in FAMILY_SETS:
        raise ConfigError(f"unknown family set {name!r}; choose one of {', '.join(FAMILY_SETS)}")
    return FAMILY_SETS[name]

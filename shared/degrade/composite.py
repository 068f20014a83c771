"""CDD-11 composite degradations (and our capture extras), deterministic per image, component and seed.

A category is its components joined by "_" (CDD-11's names: "low_haze_rain"). Components are
applied in physical order whatever the name's order: low light first (the scene is dark), then
rain and snow in front of it, then haze over everything (OneRestore: low -> rain -> snow -> haze),
then the camera: blur, sensor noise, JPEG. Each component draws from its own random stream
seeded by (seed, image_id, component), so "low" is the same darkening in low, low_haze and
low_haze_rain of one photo, as CDD-11's shared masks make it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from shared.degrade.extras import BlurSynthesizer, JpegSynthesizer, NoiseSynthesizer
from shared.degrade.haze import HazeSynthesizer
from shared.degrade.lowlight import LowLightSynthesizer
from shared.degrade.rain import RainSynthesizer
from shared.degrade.snow import SnowSynthesizer
from shared.errors import ConfigError

COMPONENTS = ("low", "rain", "snow", "haze", "blur", "noise", "jpeg")
CLEAR = "clear"
CDD11_CATEGORIES = (
    "low", "haze", "rain", "snow",
    "low_haze", "low_rain", "low_snow", "haze_rain", "haze_snow",
    "low_haze_rain", "low_haze_snow",
)  # fmt: skip
"""OneRestore's eleven degraded categories, in the order of its results table."""


NAMING_ORDER = ("low", "haze", "rain", "snow", "blur", "noise", "jpeg")
"""How CDD-11 spells a composite (low_haze_rain), which differs from the order of application."""


def category_name(components) -> str:
    """The category name of a set of components in CDD-11's spelling ('clear' when empty)."""
    wanted = set(components)
    present = [c for c in NAMING_ORDER if c in wanted]
    return "_".join(present) if present else CLEAR


def components_of(category: str) -> tuple[str, ...]:
    """Components of `category` in application order; unknown names raise ConfigError listing the choices."""
    if category == CLEAR:
        return ()
    parts = category.split("_")
    unknown = [p for p in parts if p not in COMPONENTS]
    if unknown or len(set(parts)) != len(parts):
        raise ConfigError(
            f"unknown degradation category {category!r}: join components from {', '.join(COMPONENTS)} "
            f"with '_' (e.g. low_haze_rain), or use {CLEAR!r}"
        )
    return tuple(c for c in COMPONENTS if c in parts)


def stable_id_hash(image_id: str) -> int:
    """A process-independent 63-bit hash (Python's hash() is salted per run)."""
    return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class DegradationModel:
    """The severity ranges of every component: one frozen config, saved beside each split."""

    low: LowLightSynthesizer = field(default_factory=LowLightSynthesizer)
    rain: RainSynthesizer = field(default_factory=RainSynthesizer)
    snow: SnowSynthesizer = field(default_factory=SnowSynthesizer)
    haze: HazeSynthesizer = field(default_factory=HazeSynthesizer)
    blur: BlurSynthesizer = field(default_factory=BlurSynthesizer)
    noise: NoiseSynthesizer = field(default_factory=NoiseSynthesizer)
    jpeg: JpegSynthesizer = field(default_factory=JpegSynthesizer)

    def degrade(
        self,
        clean: np.ndarray,
        category: str,
        image_id: str,
        seed: int,
        depth: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict]:
        """Return (degraded float32 HxWx3, params per component) for one clean image and category."""
        image = np.asarray(clean, dtype=np.float32)
        params: dict[str, dict] = {}
        for component in components_of(category):
            rng = np.random.default_rng([seed, stable_id_hash(image_id), COMPONENTS.index(component)])
            synthesizer = getattr(self, component)
            if component == "haze":
                image, params[component] = synthesizer(image, rng, depth=depth)
            else:
                image, params[component] = synthesizer(image, rng)
        return image, params

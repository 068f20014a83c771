"""Composite degradations (CDD-11's categories and our capture extras), deterministic per image, variant and seed.

A category is its components joined by "_" (CDD-11's names: "low_haze_rain"). Each component
draws one generator family (shared.degrade.families) and its parameters from its own random
stream seeded by (seed, image_id, component[, variant]), so "low" is the same darkening in low,
low_haze and low_haze_rain of one variant of a photo, as CDD-11's shared masks make it.

Order of application follows physics where it is fixed and varies where it is not: the weather
(rain, snow, haze) stacks in a random order (near rain in front of fog, or fog in front of far
rain), and darkness falls either on the scene before it (lit rain on a dark street, OneRestore's
order) or on everything; then the camera: optics blur, re-capture in low light, sensor noise,
JPEG — always last. With `shuffle_order` off, the order is OneRestore's: low, rain, snow, haze.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np

from shared.degrade.families import CAPTURE_FAMILIES, FAMILY_SETS, family_class, family_set
from shared.errors import ConfigError

COMPONENTS = ("low", "rain", "snow", "haze", "blur", "noise", "jpeg")
WEATHER_COMPONENTS = ("rain", "snow", "haze")
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
    """Components of `category` in OneRestore's order; unknown names raise ConfigError listing the choices."""
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


def _stream(seed: int, image_id: str, tag: int, variant: int) -> np.random.Generator:
    # Variant 0 keeps the first release's streams, so its composites (and evaluation sets) stay reproducible.
    key = [seed, stable_id_hash(image_id), tag] + ([variant] if variant else [])
    return np.random.default_rng(key)


_ORDER_TAG = 97


@dataclass(frozen=True)
class DegradationModel:
    """The generator families each component may draw from; one frozen config, saved beside each split."""

    low: tuple[str, ...] = FAMILY_SETS["train"]["low"]
    rain: tuple[str, ...] = FAMILY_SETS["train"]["rain"]
    snow: tuple[str, ...] = FAMILY_SETS["train"]["snow"]
    haze: tuple[str, ...] = FAMILY_SETS["train"]["haze"]
    blur: tuple[str, ...] = FAMILY_SETS["train"]["blur"]
    noise: tuple[str, ...] = FAMILY_SETS["train"]["noise"]
    jpeg: tuple[str, ...] = FAMILY_SETS["train"]["jpeg"]
    shuffle_order: bool = True

    def __post_init__(self) -> None:
        for component in COMPONENTS:
            names = getattr(self, component)
            if not names:
                raise ConfigError(f"degradation model: no {component} family given")
            for name in names:
                family_class(component, name)

    @classmethod
    def from_family_set(cls, name: str) -> DegradationModel:
        """The model of a named family set (one of `FAMILY_SETS` in families.py)."""
        return cls(**family_set(name), shuffle_order=name != "classic")

    def family_names(self) -> dict[str, tuple[str, ...]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in COMPONENTS}

    def order(self, components: tuple[str, ...], families: dict[str, str], image_id: str, seed: int, variant: int) -> list[str]:
        """The order in which `components` (with their chosen families) are applied."""
        capture = [c for c in ("blur", "low", "noise", "jpeg") if c in components and (c != "low" or (c, families[c]) in CAPTURE_FAMILIES)]
        scene = [c for c in components if c not in capture]
        if not self.shuffle_order:
            return scene + capture
        rng = _stream(seed, image_id, _ORDER_TAG, variant)
        weather = [c for c in scene if c in WEATHER_COMPONENTS]
        weather = [weather[i] for i in rng.permutation(len(weather))]
        if "low" in scene:
            weather = ["low", *weather] if rng.random() < 0.5 else [*weather, "low"]
        return weather + capture

    def degrade(
        self,
        clean: np.ndarray,
        category: str,
        image_id: str,
        seed: int,
        depth: np.ndarray | None = None,
        variant: int = 0,
    ) -> tuple[np.ndarray, dict]:
        """(degraded float32 HxWx3, params) of one clean image, category and variant.

        params[component] holds the family drawn and its parameters (with a `severity` in [0,1]);
        params["order"] the order of application.
        """
        image = np.asarray(clean, dtype=np.float32)
        components = components_of(category)
        streams, families = {}, {}
        for component in components:
            streams[component] = _stream(seed, image_id, COMPONENTS.index(component), variant)
            names = getattr(self, component)
            families[component] = names[int(streams[component].integers(len(names)))] if len(names) > 1 else names[0]
        params: dict = {}
        order = self.order(components, families, image_id, seed, variant)
        for component in order:
            synthesizer = family_class(component, families[component])()
            if component == "haze":
                image, drawn = synthesizer(image, streams[component], depth=depth)
            else:
                image, drawn = synthesizer(image, streams[component])
            params[component] = {"family": families[component], **drawn}
        if components:
            params["order"] = order
        return image, params

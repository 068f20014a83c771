"""What the pseudo-prompt generator predicts, and the deterministic template that words it.

Six labels, each with presence and a severity in [0, 1]. Ground-truth severities come from the
synthesis parameters recorded in the pairs manifest, normalised by the default ranges of
shared.degrade, so that "heavy rain" means the top third of what the synthesizer draws.
"""

from __future__ import annotations

import math

import numpy as np

from shared.assessor import LABELS
from shared.degrade import CDD11_CATEGORIES, CLEAR, category_name, components_of

WEATHER = ("low", "haze", "rain", "snow")
CATEGORY_CLASSES = (CLEAR, *CDD11_CATEGORIES)
"""The 12 classes of the exact-match accuracy: clear plus CDD-11's eleven."""

PROMPTER_CATEGORIES = CATEGORY_CLASSES + (
    "noise", "blur", "low_noise", "haze_blur", "rain_noise", "snow_blur", "low_haze_rain_noise", "noise_blur",
)  # fmt: skip
"""What the pseudo-prompt generator trains on: the 12 classes plus noise and blur, alone and mixed."""

_WORDS = {
    "low": ("in dim light", "in low light", "in very low light"),
    "haze": ("light haze", "haze", "dense haze"),
    "rain": ("light rain", "rain", "heavy rain"),
    "snow": ("light snow", "snow", "heavy snow"),
    "noise": ("slight noise", "noise", "strong noise"),
    "blur": ("slight blur", "blur", "strong blur"),
}
PROMPT_TEMPLATE = (
    "v1: 'a clear photo' if nothing is present; else 'a photo' + ' taken {low}' + ', with ' + "
    "' and '-joined [haze, rain, snow, noise, blur] phrases; three severity words per label split at 1/3 and 2/3: "
    + "; ".join(f"{k}={'/'.join(v)}" for k, v in _WORDS.items())
)
"""The template's full description: it is part of every cache fingerprint."""


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def severity_of(component: str, params: dict) -> float:
    """Severity in [0,1] of one synthesized component from its recorded parameters."""
    if component == "low":
        return _clip01(0.5 * (params["gamma"] - 2.0) + 0.5 * (1.0 - params["exposure"]) / 0.4)
    if component == "haze":
        return _clip01(params["beta"] - 1.0)
    if component == "rain":
        return _clip01(sum(layer["density"] * layer["brightness"] for layer in params["layers"]) / 0.004)
    if component == "snow":
        coverage = sum(layer["density"] * 2 * math.pi * layer["flake_sigma"] ** 2 * layer["opacity"] for layer in params["layers"])
        return _clip01(coverage / 0.1)
    if component == "noise":
        sigma = params["sigma"] if params["kind"] == "gaussian" else math.sqrt(0.5 / params["photons"])
        return _clip01((sigma - 0.02) / 0.1)
    if component == "blur":
        return _clip01((params["radius"] - 1.5) / 3.5 if params["kind"] == "defocus" else (params["length"] - 7.0) / 14.0)
    raise ValueError(f"no severity for component {component!r}")


def targets_of(category: str, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(presence float32[6], severity float32[6]) of a pair; components outside LABELS (jpeg) are ignored."""
    presence = np.zeros(len(LABELS), np.float32)
    severity = np.zeros(len(LABELS), np.float32)
    for component in components_of(category):
        if component in LABELS:
            index = LABELS.index(component)
            presence[index] = 1.0
            severity[index] = severity_of(component, params[component]) if component in params else 0.5
    return presence, severity


def category_of(presence: np.ndarray) -> str:
    """CDD-11-style class name of the weather labels present ('clear' if none); may be outside the 12."""
    return category_name(label for label, on in zip(WEATHER, presence[: len(WEATHER)], strict=True) if on)


def prompt_of(presence: np.ndarray, severity: np.ndarray) -> str:
    """The pseudo-prompt, e.g. 'a photo taken in low light, with dense haze and heavy rain'."""

    def word(label: str) -> str:
        index = LABELS.index(label)
        return _WORDS[label][min(2, int(severity[index] * 3))]

    present = [label for label, on in zip(LABELS, presence, strict=True) if on]
    if not present:
        return "a clear photo"
    text = "a photo"
    if "low" in present:
        text += " taken " + word("low")
    others = [word(label) for label in present if label != "low"]
    if others:
        text += (", with " if "low" in present else " with ") + (
            " and ".join(others) if len(others) < 3 else ", ".join(others[:-1]) + " and " + others[-1]
        )
    return text

"""What the pseudo-prompt generator predicts, and the deterministic template that words it.

Six labels, each with presence and a severity in [0, 1]. Ground-truth severities are recorded by
each generator family in the pairs manifest (normalised over that family's own ranges; `dark_lime`
maps `lime`'s onto 1/3-1, so a dark frame is never "dim"), so that
"heavy rain" means the top third of what the synthesizers draw.
"""

from __future__ import annotations

import re

import numpy as np

from shared.contract import LABELS, WEATHER, category_of  # noqa: F401  (the stages' shared names, re-exported)
from shared.degrade import CDD11_CATEGORIES, CLEAR, components_of

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


def severity_of(component: str, params: dict) -> float:
    """Severity in [0,1] of one synthesized component: its generator family records it (shared.degrade)."""
    if "severity" not in params:
        raise ValueError(f"{component} parameters carry no severity; rebuild the pairs with this version of shared.degrade")
    return float(min(1.0, max(0.0, params["severity"])))


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


_SYNONYMS = {
    "low": ("low light", "low-light", "lowlight", "dark", "night", "dim", "underexposed"),
    "haze": ("haze", "hazy", "fog", "foggy", "mist", "smog"),
    "rain": ("rain", "rainy", "raindrop", "streak"),
    "snow": ("snow", "snowy", "snowfall", "flake"),
    "noise": ("noise", "noisy", "grain", "grainy"),
    "blur": ("blur", "blurry", "blurred", "defocus", "shake", "motion"),
}
_LIGHT_WORDS = frozenset({"light", "slight", "little", "mild", "faint", "thin", "some"})
_HEAVY_WORDS = frozenset({"heavy", "dense", "strong", "thick", "very", "severe", "extreme"})
STEER_HELP = "name what to remove: low light, haze, rain, snow, noise, blur (e.g. 'haze and heavy rain'), or 'clear'"


def parse_steering(text: str, estimated_severity: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(presence bool[6], severity float32[6]) that a user's words ask for, e.g. 'dense fog and rain at night'.

    A severity word right before a label ('light rain', 'dense haze') sets it; otherwise the
    assessor's estimate is kept where given, else the middle of the range. Raises ValueError
    when the text names no degradation.
    """
    lowered = " " + " ".join(text.lower().replace(",", " , ").split()) + " "
    presence = np.zeros(len(LABELS), bool)
    severity = np.full(len(LABELS), 0.5, np.float32) if estimated_severity is None else estimated_severity.astype(np.float32).copy()
    if lowered.strip() in ("clear", "a clear photo", "none", "nothing"):
        return presence, np.zeros(len(LABELS), np.float32)
    for label, words in _SYNONYMS.items():
        index = LABELS.index(label)
        hits = [m.start() for word in words if (m := re.search(r"\b" + re.escape(word), lowered))]  # "grain" is not rain
        if not hits:
            continue
        presence[index] = True
        previous = lowered[: min(hits)].split()[-1:]
        if previous and previous[0] in _HEAVY_WORDS:
            severity[index] = 5 / 6
        elif previous and previous[0] in _LIGHT_WORDS and label != "low":
            severity[index] = 1 / 6
        elif estimated_severity is None or estimated_severity[index] <= 0:
            severity[index] = 0.5
    if not presence.any():
        raise ValueError(f"{text!r} names no degradation; {STEER_HELP}")
    return presence, np.where(presence, severity, 0).astype(np.float32)

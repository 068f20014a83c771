"""A clean photo as a dim room: a close-up exposed as an indoor scene is, dark and correct.

PolyU's real-noise photos are rooms at 0.21 mean sRGB (median), close-ups smooth at pixel level,
and their ground truth is just as dim: there is nothing to lift. Every dark photo our restorer
trains on is a low-light composite whose target is the photo in daylight, so it learned to lift
darkness itself and brightens such a room whatever the prompt says. This scene is the missing
case: a close-up (shared.degrade.close_up) with its exposure lowered in linear light until its
mean sRGB level is a room's. Like the close-up it is a scene, not a degradation: its label is
whatever is done to it afterwards ("clear" if nothing, "noise" with a camera's noise).
"""

from __future__ import annotations

import numpy as np

from shared.degrade.camera import linear_to_srgb, srgb_to_linear

ROOM_LEVEL = (0.12, 0.3)
"""Mean sRGB level of a dim room, drawn uniformly: the PolyU rooms our prompters took for low light
span about this range (5th to 95th percentile 0.11-0.29, docs/results/low_light_brightness.csv)."""


def dim_room(image: np.ndarray, rng: np.random.Generator, level: tuple[float, float] = ROOM_LEVEL) -> np.ndarray:
    """`image` (HxWx3 float in [0, 1]) with its exposure scaled in linear light to a mean sRGB level
    drawn from `level`; a photo already that dark is returned as it is (a room is never brightened)."""
    target = float(rng.uniform(*level))
    if float(image.mean()) <= target:
        return image.astype(np.float32)
    linear = srgb_to_linear(image)
    low, high = 0.0, 1.0  # the mean sRGB level grows with the gain: bisect on a thumbnail for speed
    thumbnail = linear[:: max(1, linear.shape[0] // 64), :: max(1, linear.shape[1] // 64)]
    for _ in range(30):
        gain = (low + high) / 2
        low, high = (gain, high) if float(linear_to_srgb(thumbnail * gain).mean()) < target else (low, gain)
    return linear_to_srgb(linear * (low + high) / 2)

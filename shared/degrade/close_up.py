"""A clean photo seen as a camera's 100 % view: a crop enlarged back to the photo's size.

Our training photos are downscaled to 512 px, so every pixel is dense with detail; a crop of a
20-megapixel frame (PolyU's close-ups, a phone photo viewed at full size) is smooth at pixel
level although nothing is wrong with it. Enlarging a crop 1.5-2.5x with a windowed-sinc filter
gives that look without any blur kernel: the content is band-limited, edges stay crisp. It is a
scene, not a degradation: its label is whatever is done to it afterwards ("clear" if nothing).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ZOOM = (1.5, 2.5)


def close_up(image: np.ndarray, rng: np.random.Generator, zoom: tuple[float, float] = ZOOM) -> np.ndarray:
    """A random crop of `image` (HxWx3 float in [0, 1]) covering 1/zoom of each side, resized to HxW (Lanczos)."""
    height, width = image.shape[:2]
    factor = float(rng.uniform(*zoom))
    crop_h, crop_w = max(8, int(round(height / factor))), max(8, int(round(width / factor)))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    crop = np.round(np.clip(image[top : top + crop_h, left : left + crop_w], 0, 1) * 255).astype(np.uint8)
    enlarged = Image.fromarray(crop).resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(enlarged, dtype=np.float32) / 255.0

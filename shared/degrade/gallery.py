"""One photo under every category, labelled, as a single grid image (docs/degradations.png)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.degrade.composite import CLEAR, DegradationModel
from shared.image_io import fit_max_side, to_uint8


def degradation_gallery(
    clean: np.ndarray,
    categories: tuple[str, ...],
    model: DegradationModel,
    seed: int,
    image_id: str = "gallery",
    depth: np.ndarray | None = None,
    columns: int = 4,
    tile_side: int = 240,
) -> np.ndarray:
    """Grid (uint8) of `clean` then each category, labelled; synthesized at full size, shown at `tile_side`."""
    tiles = []
    for category in (CLEAR, *categories):
        degraded = clean if category == CLEAR else model.degrade(clean, category, image_id, seed, depth)[0]
        tile = Image.fromarray(to_uint8(fit_max_side(degraded, tile_side)))
        draw = ImageDraw.Draw(tile)
        font = ImageFont.load_default(size=max(12, tile.height // 16))
        box = draw.textbbox((6, 4), category, font=font)
        draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(0, 0, 0))
        draw.text((6, 4), category, fill=(255, 255, 255), font=font)
        tiles.append(np.asarray(tile))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i : i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)

"""Labelled image grids (the degradation gallery, before/after comparisons)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.image_io import fit_max_side, to_uint8


def labelled_tile(image: np.ndarray, label: str, side: int) -> np.ndarray:
    """`image` (float HxWx3) shrunk to `side` with `label` in white on black in its corner, as uint8."""
    tile = Image.fromarray(to_uint8(fit_max_side(image, side)))
    draw = ImageDraw.Draw(tile)
    size = max(10, min(tile.size) // 14)
    font = ImageFont.load_default(size=size)
    while size > 8 and draw.textlength(label, font=font) > tile.size[0] - 10:  # long prompts shrink to fit
        size -= 1
        font = ImageFont.load_default(size=size)
    box = draw.textbbox((5, 3), label, font=font)
    draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(0, 0, 0))
    draw.text((5, 3), label, fill=(255, 255, 255), font=font)
    return np.asarray(tile)


def labelled_grid(rows: list[list[tuple[np.ndarray, str]]], side: int = 240) -> np.ndarray:
    """Rows of (image, label) as one uint8 grid; short rows and odd tile sizes are padded with black."""
    tiles = [[labelled_tile(image, label, side) for image, label in row] for row in rows]
    height = max(t.shape[0] for row in tiles for t in row)
    width = max(t.shape[1] for row in tiles for t in row)
    columns = max(len(row) for row in tiles)
    canvas = np.zeros((height * len(tiles), width * columns, 3), np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            canvas[r * height : r * height + tile.shape[0], c * width : c * width + tile.shape[1]] = tile
    return canvas

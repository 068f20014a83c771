"""One photo under every category, labelled, as a single grid image (docs/degradations.png)."""

from __future__ import annotations

import numpy as np

from shared.degrade.composite import CLEAR, DegradationModel
from shared.grid import labelled_grid


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
    tiles = [
        (clean if category == CLEAR else model.degrade(clean, category, image_id, seed, depth)[0], category)
        for category in (CLEAR, *categories)
    ]
    return labelled_grid([tiles[i : i + columns] for i in range(0, len(tiles), columns)], tile_side)

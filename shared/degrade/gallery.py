"""Galleries of the synthesizer as labelled grids: one photo under every category, or every family."""

from __future__ import annotations

import numpy as np

from shared.degrade.composite import CLEAR, DegradationModel
from shared.degrade.families import FAMILIES, HELD_OUT
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


def family_gallery(
    clean: np.ndarray,
    seed: int,
    depth: np.ndarray | None = None,
    composites: tuple[str, ...] = ("low_haze_rain", "low_haze_snow", "haze_rain_noise", "low_snow_blur_noise_jpeg"),
    tile_side: int = 200,
) -> np.ndarray:
    """Grid (uint8): a row per degradation with each of its families alone (held-out ones marked), then
    `clean` and a few composites drawn from the training families."""
    rows = []
    for component, families in FAMILIES.items():
        row = []
        for name in families:
            model = DegradationModel(**{component: (name,)})
            degraded, params = model.degrade(clean, component, "gallery", seed, depth)
            mark = " (held out)" if HELD_OUT.get(component) == name else ""
            row.append((degraded, f"{component}: {name}{mark} · severity {params[component]['severity']:.2f}"))
        rows.append(row)
    train = DegradationModel.from_family_set("train")
    last = [(clean, "clean")]
    for category in composites:
        degraded, params = train.degrade(clean, category, "gallery", seed, depth)
        last.append((degraded, f"{category}: " + "+".join(params[c]["family"] for c in params["order"])))
    rows.append(last)
    return labelled_grid(rows, tile_side)

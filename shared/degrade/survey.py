"""How hard each generator family is: input PSNR and severity over a set of clean photos (README's table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shared.degrade.composite import DegradationModel
from shared.degrade.families import FAMILIES, HELD_OUT
from shared.metrics import psnr


@dataclass(frozen=True)
class FamilySurvey:
    component: str
    family: str
    held_out: bool
    psnr_mean: float
    psnr_min: float
    psnr_max: float
    severity_mean: float
    seconds_per_megapixel: float


def survey_families(
    photos: Sequence[tuple[str, np.ndarray]], seed: int, on_progress: Callable[[int, int], None] | None = None
) -> list[FamilySurvey]:
    """Every family alone on every (image_id, clean) photo: input PSNR (dB) and recorded severity."""
    import time

    jobs = [(component, name) for component, names in FAMILIES.items() for name in names]
    results = []
    for index, (component, name) in enumerate(jobs):
        model = DegradationModel(**{component: (name,)})
        values, severities, seconds, megapixels = [], [], 0.0, 0.0
        for image_id, clean in photos:
            start = time.perf_counter()
            degraded, params = model.degrade(clean, component, image_id, seed)
            seconds += time.perf_counter() - start
            megapixels += clean.shape[0] * clean.shape[1] / 1e6
            values.append(psnr(clean, degraded))
            severities.append(params[component]["severity"])
        results.append(
            FamilySurvey(
                component=component,
                family=name,
                held_out=HELD_OUT.get(component) == name,
                psnr_mean=float(np.mean(values)),
                psnr_min=float(np.min(values)),
                psnr_max=float(np.max(values)),
                severity_mean=float(np.mean(severities)),
                seconds_per_megapixel=seconds / max(megapixels, 1e-9),
            )
        )
        if on_progress:
            on_progress(index + 1, len(jobs))
    return results

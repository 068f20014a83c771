"""Physical degradation models and their CDD-11 compositions (see composite.py for the order)."""

from shared.degrade.composite import CDD11_CATEGORIES, CLEAR, COMPONENTS, DegradationModel, category_name, components_of
from shared.degrade.haze import depth_from_disparity, monocular_depth_proxy

__all__ = [
    "CDD11_CATEGORIES",
    "CLEAR",
    "COMPONENTS",
    "DegradationModel",
    "category_name",
    "components_of",
    "depth_from_disparity",
    "monocular_depth_proxy",
]

"""Physical degradation models, their generator families and CDD-11 compositions (composite.py: the order)."""

from shared.degrade.composite import CDD11_CATEGORIES, CLEAR, COMPONENTS, DegradationModel, category_name, components_of
from shared.degrade.families import FAMILIES, FAMILY_SETS, HELD_OUT
from shared.degrade.haze import depth_from_disparity, monocular_depth_proxy

__all__ = [
    "CDD11_CATEGORIES",
    "CLEAR",
    "COMPONENTS",
    "FAMILIES",
    "FAMILY_SETS",
    "HELD_OUT",
    "DegradationModel",
    "category_name",
    "components_of",
    "depth_from_disparity",
    "monocular_depth_proxy",
]

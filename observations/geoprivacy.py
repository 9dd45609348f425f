"""Coordinate generalisation for public surfaces (GBIF, Chapman 2020): pure functions, no queries.

A category is one of species.models.Sensitivity's values: "none", "0.001", "0.01", "0.1", "1",
"withhold". Generalising snaps the point to the centre of its grid cell, so every read of the same
record gives the same point (averaging repeated reads reveals nothing), and because it is computed
at read time a taxon newly marked sensitive takes effect on existing records at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from species.models import Sensitivity

NONE = Sensitivity.NONE.value
WITHHOLD = Sensitivity.WITHHOLD.value
# Least to most strict (Sensitivity's own order).
ORDER = list(Sensitivity.values)
# The observer's geoprivacy choice (observations.models.Geoprivacy), as a category.
GEOPRIVACY_CATEGORY = {"open": NONE, "obscured": Sensitivity.DEG_01.value, "private": WITHHOLD}
METRES_PER_DEGREE = 111_320.0


def strictest(categories) -> str:
    rank = {c: i for i, c in enumerate(ORDER)}
    best = NONE
    for category in categories:
        if category in rank and rank[category] > rank[best]:
            best = category
    return best


@dataclass(frozen=True)
class PublicLocation:
    latitude: float | None
    longitude: float | None
    category: str
    coordinate_uncertainty_m: float | None
    data_generalizations: str  # Darwin Core dataGeneralizations
    information_withheld: str  # Darwin Core informationWithheld

    @property
    def generalised(self) -> bool:
        return self.category != NONE


def _snap(value: float, step: Decimal, low: float, high: float) -> float:
    # Decimal keeps cell edges exact (0.1 is not a binary fraction); the centre is inside the cell.
    d = Decimal(repr(value))
    cell = (d / step).to_integral_value(rounding="ROUND_FLOOR")
    centre = float(cell * step + step / 2)
    return min(max(centre, low), high)


def generalise(latitude: float, longitude: float, category: str, uncertainty_m: float | None = None) -> PublicLocation:
    """The point as public surfaces show it under `category`; `uncertainty_m` is the point's own
    accuracy (None: unknown), to which a generalised point adds its cell's."""
    if category == NONE or category not in ORDER:
        return PublicLocation(latitude, longitude, NONE, uncertainty_m, "", "")
    if category == WITHHOLD:
        return PublicLocation(None, None, WITHHOLD, None, "", "Coordinates withheld (sensitive record).")
    step = Decimal(category)
    lat = _snap(latitude, step, -90.0, 90.0)
    lon = _snap(longitude, step, -180.0, 180.0)
    # Half the cell's diagonal at the equator: every point of the cell lies within it. The true
    # position may lie up to the device's error outside the recorded point, so the two add up.
    half_diagonal = float(step) * METRES_PER_DEGREE * math.sqrt(2) / 2
    note = f"Coordinates generalised to the centre of a {category}° grid cell (sensitive record)."
    return PublicLocation(lat, lon, category, round(half_diagonal + (uncertainty_m or 0)), note, "")

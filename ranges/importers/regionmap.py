"""Region lookups that importers share: by code, by ISO alpha-2, and a country's sub-region prefix."""

from __future__ import annotations

import pycountry

from ranges.importers.report import ImportReport
from ranges.models import Region
from ranges.services import region_group_upsert

L48 = "US-L48"
# Not part of the contiguous US: Alaska, Hawaii and the territories.
_NOT_L48 = {"US-AK", "US-HI", "US-PR", "US-GU", "US-VI", "US-MP", "US-AS", "US-UM"}
_L48_SOURCE = "RangeWatch: the contiguous US states (US-RIIS and GRIIS 'L48')"


class RegionCodes:
    """All regions' ids by code, countries by alpha-2, and each country's ISO 3166-2 prefix."""

    def __init__(self):
        rows = list(Region.objects.values_list("id", "code", "kind", "iso_a2", "parent__code"))
        self.ids = {code: pk for pk, code, *_ in rows}
        self.kinds = {code: kind for _, code, kind, *_ in rows}
        self.by_alpha2 = {a2.upper(): code for _, code, kind, a2, _ in rows if kind == "country" and a2}
        self.children: dict[str, set[str]] = {}
        for _, code, kind, _, parent in rows:
            if parent and kind == "admin1":
                self.children.setdefault(parent, set()).add(code)

    def id(self, code: str) -> int | None:
        return self.ids.get(code)

    def country_for_alpha2(self, alpha2: str) -> str | None:
        """'AU' -> 'AUS'. Natural Earth v4 gives France and Norway no ISO_A2 (-99): their alpha-3
        code (the region's code) is then found through the ISO 3166-1 table."""
        alpha2 = (alpha2 or "").strip().upper()
        if alpha2 in self.by_alpha2:
            return self.by_alpha2[alpha2]
        country = pycountry.countries.get(alpha_2=alpha2) if len(alpha2) == 2 else None
        if country is not None and self.kinds.get(country.alpha_3) == "country":
            return country.alpha_3
        return None

    def subregion_code(self, country: str, sub: str) -> str:
        """'USA', 'ME' -> 'US-ME' (ISO 3166-2 uses the alpha-2 prefix)."""
        alpha2 = next((a2 for a2, code in self.by_alpha2.items() if code == country), None)
        if alpha2 is None and country == "USA":
            alpha2 = "US"
        return f"{alpha2 or country}-{sub}"


def contiguous_us_group(regions: RegionCodes, report: ImportReport) -> RegionCodes:
    """The US-L48 group (the 48 contiguous states and DC) that US-RIIS and the GRIIS US checklist
    name as one area; the regions again, now with the group."""
    members = sorted(c for c in regions.children.get("USA", set()) if c not in _NOT_L48)
    if not members:
        report.note("no US states imported: L48 rows cannot be placed (import us-census states first)")
        return regions
    # Named as people say it: explanations and answers print the name (the code, US-L48, says "L48").
    outcome = region_group_upsert(
        code=L48, name="Contiguous United States", parent_code="USA", member_codes=members, source=_L48_SOURCE
    )
    report.add("region groups", {outcome: 1})
    return RegionCodes()

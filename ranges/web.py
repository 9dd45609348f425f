"""The species page: what the taxon is, where it is native, where it is alien, on a map."""

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from ranges.maps import SPECIES_PAGE_SIMPLIFY
from ranges.selectors import species_regional_statuses
from species.models import Taxon
from species.selectors import taxon_lineage


@require_GET
def species_page(request: HttpRequest, pk: int) -> HttpResponse:
    taxon = get_object_or_404(Taxon.objects.select_related("parent", "info"), pk=pk)
    # The map fetches the range itself (display form): the page stays small and cacheable.
    range_url = f"{reverse('species-range', args=[taxon.pk])}?simplify={SPECIES_PAGE_SIMPLIFY}"
    context = {
        "taxon": taxon,
        "info": getattr(taxon, "info", None),  # facts are optional: no row, no section
        "lineage": [t for t in reversed(taxon_lineage(taxon)) if t.pk != taxon.pk],
        "statuses": species_regional_statuses(taxon),
        "range_url": range_url,
        "map_spec": json.dumps({"layers": [{"role": "range", "url": range_url}]}),
    }
    return render(request, "ranges/species.html", context)

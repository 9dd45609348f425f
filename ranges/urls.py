"""Routes of the maps: the species page, and the region outlines that its map and the result card draw."""
from django.urls import path

from ranges.apis import RegionGeoJsonApi
from ranges.web import species_page

urlpatterns = [
    path("species/<int:pk>/", species_page, name="species-page"),
    path("api/v1/regions/geojson/", RegionGeoJsonApi.as_view(), name="region-geojson"),
]

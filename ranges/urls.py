"""Routes of the maps: the species page and the region outlines its maps and the result card draw."""
from django.urls import path

from ranges.apis import RegionGeoJsonApi

urlpatterns = [
    path("api/v1/regions/geojson/", RegionGeoJsonApi.as_view(), name="region-geojson"),
]

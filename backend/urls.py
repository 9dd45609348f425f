"""URL map: /api/v1/..., the OpenAPI schema and its offline Swagger UI, /healthz, admin."""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.health import healthz
from observations.apis import ObservationCreateApi, ObservationDetailApi
from ranges.apis import CheckApi, RegionLookupApi
from species.apis import TaxonDetailApi, TaxonListApi

api_v1 = [
    path("observations/", ObservationCreateApi.as_view(), name="observation-create"),
    path("observations/<uuid:observation_id>/", ObservationDetailApi.as_view(), name="observation-detail"),
    path("check/", CheckApi.as_view(), name="check"),
    path("regions/lookup/", RegionLookupApi.as_view(), name="region-lookup"),
    path("species/", TaxonListApi.as_view(), name="species-list"),
    path("species/<int:pk>/", TaxonDetailApi.as_view(), name="species-detail"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

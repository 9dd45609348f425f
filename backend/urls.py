"""URL map: /api/v1/..., the OpenAPI schema and its offline Swagger UI, /healthz, admin."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.admin_login import throttled_admin_login
from accounts.apis import LoginApi, LogoutApi, RegisterApi
from backend.health import healthz
from cameratraps.apis import DeploymentListApi, ProjectDetailApi, ProjectListApi, ProjectMediaApi, ProjectSequenceApi
from community.apis import (
    DwcaExportApi,
    DwcaExportDetailApi,
    DwcaExportDownloadApi,
    FeedApi,
    FeedDetailApi,
    IdentificationListApi,
    ReviewApi,
    ReviewQueueApi,
)
from core.api_errors import api_not_found
from observations.apis import ObservationCreateApi, ObservationDetailApi, ObservationPhotoApi
from observations.web import web_index
from ranges.apis import CheckApi, RegionGeoJsonApi, RegionLookupApi, SpeciesRangeApi
from species.apis import TaxonDetailApi, TaxonListApi
from watchlists.urls import api_urlpatterns as watchlist_api

api_v1 = [
    path("observations/", ObservationCreateApi.as_view(), name="observation-create"),
    path("observations/<uuid:observation_id>/", ObservationDetailApi.as_view(), name="observation-detail"),
    path("observations/<uuid:observation_id>/photo/", ObservationPhotoApi.as_view(), name="observation-photo"),
    path(
        "observations/<uuid:observation_id>/identifications/",
        IdentificationListApi.as_view(),
        name="observation-identifications",
    ),
    path("observations/<uuid:observation_id>/review/", ReviewApi.as_view(), name="observation-review"),
    path("review/queue/", ReviewQueueApi.as_view(), name="review-queue"),
    path("feed/", FeedApi.as_view(), name="feed"),
    path("feed/<uuid:observation_id>/", FeedDetailApi.as_view(), name="feed-detail"),
    path("exports/dwca/", DwcaExportApi.as_view(), name="export-dwca"),
    path("exports/dwca/<uuid:export_id>/", DwcaExportDetailApi.as_view(), name="export-dwca-detail"),
    path("exports/dwca/<uuid:export_id>/download/", DwcaExportDownloadApi.as_view(), name="export-dwca-download"),
    path("projects/", ProjectListApi.as_view(), name="project-list"),
    path("projects/<slug:name>/", ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<slug:name>/deployments/", DeploymentListApi.as_view(), name="project-deployments"),
    path("projects/<slug:name>/observations/", ProjectMediaApi.as_view(), name="project-observations"),
    path("projects/<slug:name>/sequences/", ProjectSequenceApi.as_view(), name="project-sequences"),
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/login/", LoginApi.as_view(), name="auth-login"),
    path("auth/logout/", LogoutApi.as_view(), name="auth-logout"),
    path("check/", CheckApi.as_view(), name="check"),
    path("regions/lookup/", RegionLookupApi.as_view(), name="region-lookup"),
    path("regions/geojson/", RegionGeoJsonApi.as_view(), name="region-geojson"),
    path("species/", TaxonListApi.as_view(), name="species-list"),
    path("species/<int:pk>/", TaxonDetailApi.as_view(), name="species-detail"),
    path("species/<int:pk>/range/", SpeciesRangeApi.as_view(), name="species-range"),
    *watchlist_api,
]

# The Swagger UI under the site's Content-Security-Policy: the split view serves its start-up script
# as a file of its own, so no inline script runs; its page only adds inline styles and data: icons.
swagger_ui = csp_update({"style-src": [UNSAFE_INLINE], "img-src": ["data:"]})(
    SpectacularSwaggerSplitView.as_view(url_name="schema")
)

urlpatterns = [
    path("", web_index, name="home"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", swagger_ui, name="swagger-ui"),
    re_path(r"^api/", api_not_found),  # every other /api/ path: the JSON error shape
    path("healthz", healthz, name="healthz"),
    path("admin/login/", throttled_admin_login),  # before the admin's own route of the same path
    path("admin/", admin.site.urls),
    path("", include("ranges.urls")),  # the species page with its map
    path("", include("watchlists.urls")),  # the watch lists' pages, unsubscribe, Atom feed
]

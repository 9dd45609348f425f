"""Pages of the ranges app: the species page with its map."""

from django.urls import path

from ranges.web import species_page

urlpatterns = [
    path("species/<int:pk>/", species_page, name="species-page"),
]

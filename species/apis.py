"""Thin views: species search and detail."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions

from species.models import Taxon
from species.selectors import taxa_search
from species.serializers import TaxonBriefSerializer, TaxonDetailSerializer


class TaxonListApi(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = TaxonBriefSerializer

    @extend_schema(parameters=[OpenApiParameter("q", str, description="part of a scientific, common or synonym name")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return taxa_search(self.request.query_params.get("q", ""))


class TaxonDetailApi(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = TaxonDetailSerializer

    def get_object(self):
        return get_object_or_404(
            Taxon.objects.select_related("parent", "info").prefetch_related("synonyms"), pk=self.kwargs["pk"]
        )

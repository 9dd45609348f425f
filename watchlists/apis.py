"""Thin views of the watch lists: lists, their matches (filters, cursor pages), triage, comments,
seen marks, exports (CSV, Darwin Core) and the map's clusters and points."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.jobs import enqueue
from core.pagination import BoundedPagination
from watchlists import exports
from watchlists.models import Match
from watchlists.selectors import (
    MatchFilters,
    comment_counts,
    in_bbox,
    list_matches,
    match_clusters,
    match_comments,
    match_for,
    new_view,
    seen_ids,
    shown_records,
    watch_list_for,
    watch_lists_for,
)
from watchlists.serializers import (
    MarkSeenSerializer,
    MatchCommentInputSerializer,
    MatchCommentOutputSerializer,
    MatchCommentPageSerializer,
    MatchOutputSerializer,
    MatchQuerySerializer,
    MatchTriageSerializer,
    WatchListInputSerializer,
    WatchListOutputSerializer,
)
from watchlists.services import (
    area_from_file,
    match_comment_add,
    match_triage,
    matches_mark_seen,
    matches_mark_unseen,
    watch_list_create,
)
from watchlists.tasks import match_existing
from watchlists.tiles import match_tile, tiles_supported

TAGS = ["watch lists"]
# Above this zoom the map shows records one by one (with each viewer's geoprivacy); at or below, cells.
CLUSTER_MAX_ZOOM = 8
MAP_POINT_LIMIT = 2000


class MatchCursorPagination(CursorPagination):
    """Stable pages while records keep arriving: newest first, by id (an index with the list)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def match_bodies(matches: list[Match], user, bbox=None) -> list[dict]:
    shown = shown_records(matches, user)
    seen = seen_ids(user=user, match_ids=[m.pk for m in matches])
    comments = comment_counts(match_ids=[m.pk for m in matches])
    out = []
    for m in matches:
        record = shown.get(m.pk)
        if record is None or not in_bbox(record.latitude, record.longitude, bbox):
            continue
        out.append(
            {
                "id": m.pk,
                "source": m.source,
                "taxon": record.scientific_name or None,
                "verdict": m.verdict_status,
                "explanation": record.explanation,
                "observed_on": m.observed_on,
                "latitude": record.latitude,
                "longitude": record.longitude,
                "location_note": record.generalised,
                "record_id": record.record_id,
                "record_url": record.record_url,
                "photo_url": record.photo_url,
                "license": record.license,
                "citation": record.citation,
                "status": m.status,
                "note": m.note,
                "seen": m.pk in seen,
                "comments": comments.get(m.pk, 0),
                "matched_at": m.created,
            }
        )
    return out


def _filters(request) -> tuple[MatchFilters, str]:
    query = MatchQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    data = dict(query.validated_data)
    view = data.pop("view", "all")
    return MatchFilters(**data), view


class WatchListListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(tags=TAGS, operation_id="watchlists_list", responses={200: WatchListOutputSerializer(many=True)})
    def get(self, request):
        paginator = BoundedPagination()
        lists = watch_lists_for(user=request.user).select_related("owner")
        page = paginator.paginate_queryset(
            lists.prefetch_related("webhook_subscriptions__webhook__contact"), request, view=self
        )
        return paginator.get_paginated_response(
            WatchListOutputSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(
        tags=TAGS,
        request=WatchListInputSerializer,
        responses={
            201: WatchListOutputSerializer,
            400: OpenApiResponse(description="invalid_watch_list: the field at fault (unknown or paused webhooks too)"),
            403: OpenApiResponse(description="permission_denied: webhooks given by a user who is not staff"),
        },
    )
    def post(self, request):
        data = WatchListInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "area_file" in fields:
            fields["geometry"] = area_from_file(fields.pop("area_file"))
        watch_list = watch_list_create(owner=request.user, match_existing=False, **fields)
        enqueue(match_existing, watch_list.pk)  # the records already here: a job, not this request
        return Response(
            WatchListOutputSerializer(watch_list, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class WatchListDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, responses={200: WatchListOutputSerializer, 404: OpenApiResponse(description="not yours")})
    def get(self, request, watch_list_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        return Response(WatchListOutputSerializer(watch_list, context={"request": request}).data)

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request, watch_list_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        if watch_list.owner_id != request.user.pk:
            return Response({"error": {"code": "permission_denied", "detail": "only the owner deletes a list"}}, 403)
        watch_list.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MatchListApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[MatchQuerySerializer, OpenApiParameter("cursor", str), OpenApiParameter("limit", int)],
        responses={200: MatchOutputSerializer(many=True)},
    )
    def get(self, request, watch_list_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        filters, view = _filters(request)
        qs = list_matches(watch_list=watch_list, user=request.user, filters=filters).select_related("occurrence")
        if view == "new":
            qs = new_view(qs)
        paginator = MatchCursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(match_bodies(page, request.user, filters.bbox))


class MatchSeenApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, request=MarkSeenSerializer, parameters=[MatchQuerySerializer], responses={200: dict})
    def post(self, request, watch_list_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        data = MarkSeenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        filters, view = _filters(request)
        qs = list_matches(watch_list=watch_list, user=request.user, filters=filters)
        if view == "new":
            qs = new_view(qs)
        if not data.validated_data.get("all"):
            qs = qs.filter(pk__in=data.validated_data["ids"])
        if data.validated_data["seen"]:
            changed = matches_mark_seen(user=request.user, matches=qs)
        else:
            changed = matches_mark_unseen(user=request.user, matches=qs)
        return Response({"matches": changed, "seen": data.validated_data["seen"]})


class MatchDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, responses={200: MatchOutputSerializer})
    def get(self, request, watch_list_id, match_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        match = match_for(watch_list=watch_list, match_id=match_id)
        body = match_bodies([match], request.user)[0]
        body["history"] = [
            {"status": h.status, "note": h.note, "by": h.user.username if h.user else None, "at": h.at}
            for h in match.history.select_related("user")
        ]
        return Response(body)

    @extend_schema(tags=TAGS, request=MatchTriageSerializer, responses={200: MatchOutputSerializer})
    def patch(self, request, watch_list_id, match_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        data = MatchTriageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            match = match_for(watch_list=watch_list, match_id=match_id)
            match_triage(match=match, user=request.user, **data.validated_data)
        return self.get(request, watch_list_id, match_id)


class MatchCommentListApi(APIView):
    """A record's comments, for whoever may triage the list (its owner and members; for anyone
    else the list does not exist: 404)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("limit", int, description="page size (max 200)"), OpenApiParameter("offset", int)],
        responses={
            200: MatchCommentPageSerializer,
            404: OpenApiResponse(description="no such list (or not yours), or no such record in it"),
        },
    )
    def get(self, request, watch_list_id, match_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        match = match_for(watch_list=watch_list, match_id=match_id)
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(match_comments(match=match), request, view=self)
        return paginator.get_paginated_response(MatchCommentOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=MatchCommentInputSerializer,
        responses={
            201: MatchCommentOutputSerializer,
            400: OpenApiResponse(description="empty text, or more than 5,000 characters"),
            404: OpenApiResponse(description="no such list (or not yours), or no such record in it"),
        },
    )
    def post(self, request, watch_list_id, match_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        match = match_for(watch_list=watch_list, match_id=match_id)
        data = MatchCommentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = match_comment_add(match=match, author=request.user, text=data.validated_data["text"])
        return Response(MatchCommentOutputSerializer(comment).data, status=status.HTTP_201_CREATED)


class MatchExportApi(APIView):
    """Every match of the list (managed ones too), streamed: CSV or a Darwin Core Archive."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[MatchQuerySerializer, OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["csv", "dwca"])],
        responses={200: OpenApiResponse(description="text/csv or application/zip")},
    )
    def get(self, request, watch_list_id, kind):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        if kind not in ("csv", "dwca"):
            raise NotFound("export kinds: csv, dwca")
        filters, _ = _filters(request)
        qs = list_matches(watch_list=watch_list, user=request.user, filters=filters)
        if kind == "dwca":
            response = StreamingHttpResponse(exports.dwca_chunks(qs, request.user), content_type="application/zip")
            response["Content-Disposition"] = f'attachment; filename="watchlist-{watch_list.pk}-dwca.zip"'
            return response
        response = StreamingHttpResponse(exports.csv_chunks(qs, request.user), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="watchlist-{watch_list.pk}.csv"'
        return response


class MatchMapApi(APIView):
    """GeoJSON for the map: cells with counts up to zoom 8, then the records in the view."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, parameters=[MatchQuerySerializer, OpenApiParameter("zoom", int)], responses={200: dict})
    def get(self, request, watch_list_id):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        filters, view = _filters(request)
        try:
            zoom = max(0, min(int(request.query_params.get("zoom", 2)), 22))
        except ValueError:
            zoom = 2
        if zoom <= CLUSTER_MAX_ZOOM:
            cells = match_clusters(watch_list=watch_list, user=request.user, filters=filters, zoom=zoom)
            features = [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
                    "properties": {"cluster": True, "count": c["count"]},
                }
                for c in cells
            ]
            return Response({"type": "FeatureCollection", "features": features})
        qs = list_matches(watch_list=watch_list, user=request.user, filters=filters).select_related("occurrence")
        if view == "new":
            qs = new_view(qs)
        bodies = match_bodies(list(qs.order_by("-id")[:MAP_POINT_LIMIT]), request.user, filters.bbox)
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [b["longitude"], b["latitude"]]},
                "properties": {k: v for k, v in b.items() if k not in ("latitude", "longitude")},
            }
            for b in bodies
            if b["latitude"] is not None
        ]
        return Response({"type": "FeatureCollection", "features": features})


class MatchTileApi(APIView):
    """A Mapbox Vector Tile of the list's imported records, made by PostGIS (ST_AsMVT)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(tags=TAGS, responses={200: OpenApiResponse(description="application/vnd.mapbox-vector-tile")})
    def get(self, request, watch_list_id, z, x, y):
        watch_list = watch_list_for(user=request.user, watch_list_id=watch_list_id)
        if not tiles_supported():
            raise NotFound("vector tiles need PostgreSQL with PostGIS; use matches/map/ (GeoJSON) here")
        if not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z):
            raise NotFound("no such tile")
        body = match_tile(watch_list_id=watch_list.pk, z=z, x=x, y=y)
        response = HttpResponse(body, content_type="application/vnd.mapbox-vector-tile")
        response["Cache-Control"] = "private, max-age=60"
        return response

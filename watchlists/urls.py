"""URLs of the watch lists: the API under /api/v1/watchlists/ and the pages under /watchlists/."""

from django.urls import path

from watchlists.apis import (
    MatchCommentListApi,
    MatchDetailApi,
    MatchExportApi,
    MatchListApi,
    MatchMapApi,
    MatchSeenApi,
    MatchTileApi,
    WatchListDetailApi,
    WatchListListApi,
)
from watchlists.web import atom_feed, unsubscribe, watchlists_page

api_urlpatterns = [
    path("watchlists/", WatchListListApi.as_view(), name="watchlist-list"),
    path("watchlists/<int:watch_list_id>/", WatchListDetailApi.as_view(), name="watchlist-detail"),
    path("watchlists/<int:watch_list_id>/matches/", MatchListApi.as_view(), name="watchlist-matches"),
    path("watchlists/<int:watch_list_id>/matches/seen/", MatchSeenApi.as_view(), name="watchlist-matches-seen"),
    path(
        "watchlists/<int:watch_list_id>/matches/export/<str:kind>/",
        MatchExportApi.as_view(),
        name="watchlist-matches-export",
    ),
    path("watchlists/<int:watch_list_id>/matches/map/", MatchMapApi.as_view(), name="watchlist-matches-map"),
    path(
        "watchlists/<int:watch_list_id>/tiles/<int:z>/<int:x>/<int:y>.mvt",
        MatchTileApi.as_view(),
        name="watchlist-tile",
    ),
    path("watchlists/<int:watch_list_id>/matches/<int:match_id>/", MatchDetailApi.as_view(), name="watchlist-match"),
    path(
        "watchlists/<int:watch_list_id>/matches/<int:match_id>/comments/",
        MatchCommentListApi.as_view(),
        name="watchlist-match-comments",
    ),
]

urlpatterns = [
    path("watchlists/", watchlists_page, name="watchlists-page"),
    path("watchlists/<int:watch_list_id>/", watchlists_page, name="watchlist-page"),
    path("watchlists/unsubscribe/<str:token>/", unsubscribe, name="watchlist-unsubscribe"),
    path("watchlists/feed/<str:token>.atom", atom_feed, name="watchlist-feed"),
]

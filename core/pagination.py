"""Every list is paginated, with a ceiling on the page size (docs/reliability.md R14)."""

from rest_framework.pagination import LimitOffsetPagination


class BoundedPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

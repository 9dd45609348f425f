"""Roles: owners (their own rows), reviewers (group "reviewers"), curators (group "curators";
superusers count as both). The groups are made by a data migration (accounts/migrations)."""

from __future__ import annotations

REVIEWERS_GROUP = "reviewers"
CURATORS_GROUP = "curators"


def is_reviewer(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or user.groups.filter(name__in=[REVIEWERS_GROUP, CURATORS_GROUP]).exists()


def is_curator(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return user.is_superuser or user.groups.filter(name=CURATORS_GROUP).exists()

"""DRF permissions for the roles (accounts.roles)."""

from rest_framework.permissions import BasePermission

from accounts.roles import is_reviewer


class IsReviewer(BasePermission):
    message = "only reviewers may do this"

    def has_permission(self, request, view):
        return is_reviewer(request.user)

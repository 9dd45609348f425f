"""Darwin Core Archive exports as background jobs: ask for one (202 and a link), follow it, download
the archive once a worker has written it (community.export_writer, community.tasks)."""

from __future__ import annotations

from http import HTTPStatus

from django.db import transaction
from django.db.models import QuerySet

from backend.errors import NotFound, ServiceError
from community.models import DwcaExport
from community.tasks import dwca_export_enqueue


class ExportNotReady(ServiceError):
    """The archive is being written: follow the export and download it when it is done (425)."""

    status = HTTPStatus.TOO_EARLY
    code = "export_not_ready"


def dwca_export_request(*, requested_by, verified_only: bool) -> DwcaExport:
    """Record the export and publish its job after commit."""
    with transaction.atomic():
        export = DwcaExport.objects.create(requested_by=requested_by, verified_only=verified_only)
        dwca_export_enqueue(export_id=export.pk)
    return export


def dwca_exports_for_user(*, user) -> QuerySet[DwcaExport]:
    """The caller's own exports, newest first."""
    return DwcaExport.objects.filter(requested_by=user)


def dwca_export_for_user(*, user, export_id) -> DwcaExport:
    """One of the caller's exports; anyone else's does not exist (404)."""
    export = dwca_exports_for_user(user=user).filter(uuid=export_id).first()
    if export is None:
        raise NotFound("no such export")
    return export


def dwca_export_archive(*, export: DwcaExport):
    """The written archive, opened for reading. Still queued: ExportNotReady; failed: NotFound."""
    if export.status == DwcaExport.Status.QUEUED:
        raise ExportNotReady("the archive is still being written; follow the export's link")
    if export.status == DwcaExport.Status.FAILED or not export.file:
        raise NotFound(f"this export has no archive: {export.failure or 'it failed'}")
    return export.file.open("rb")

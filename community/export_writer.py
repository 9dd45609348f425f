"""The export job's work, in a default-queue worker: write the Darwin Core Archive (community.dwca)
into private storage and record the outcome on the DwcaExport row."""

from __future__ import annotations

import tempfile

from django.core.files import File
from django.utils import timezone

from community.dwca import dwca_write
from community.models import DwcaExport


def dwca_export_write(*, export_id: int) -> str:
    """Write the archive the row asks for. Idempotent: a redelivered job finds it done, or writes it
    again over its own file. Returns the final status ("missing" for an unknown id)."""
    export = DwcaExport.objects.filter(pk=export_id).first()
    if export is None:
        return "missing"
    if export.status != DwcaExport.Status.QUEUED:
        return export.status
    # A temporary file, not memory: the archive grows with the records (zipfile needs to seek).
    with tempfile.TemporaryFile(suffix=".zip") as archive:
        records = dwca_write(archive, verified_only=export.verified_only).occurrences
        archive.seek(0)
        if export.file:
            export.file.delete(save=False)
        export.file.save("dwca.zip", File(archive), save=False)
    DwcaExport.objects.filter(pk=export.pk).update(
        status=DwcaExport.Status.DONE, file=export.file.name, records=records, finished=timezone.now()
    )
    return DwcaExport.Status.DONE


def dwca_export_fail(*, export_id: int, reason: str) -> None:
    DwcaExport.objects.filter(pk=export_id, status=DwcaExport.Status.QUEUED).update(
        status=DwcaExport.Status.FAILED, failure=reason[:300], finished=timezone.now()
    )

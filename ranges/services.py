"""Writes to range data. Each one bumps the data version so that processes rebuild their index."""
from __future__ import annotations

from django.db import transaction
from django.db.models import F

from ranges.models import Contact, DataVersion, Region, RegionalStatus
from species.models import Taxon


def data_version_bump() -> None:
    DataVersion.objects.get_or_create(key="ranges")
    DataVersion.objects.filter(key="ranges").update(version=F("version") + 1)


@transaction.atomic
def regions_upsert(*, rows) -> dict[str, int]:
    """Create or update regions from importer rows (parents must come first or already exist).
    Returns counts: created, updated, unchanged."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {r.code: r for r in Region.objects.only("id", "code", "name", "kind", "geometry_sha1", "parent_id", "source")}
    parents = {r.code: r.id for r in existing.values()}
    to_create, to_update = [], []
    for row in rows:
        parent_id = parents.get(row.parent_code) if row.parent_code else None
        region = existing.get(row.code)
        if region is None:
            to_create.append(Region(kind=row.kind, code=row.code, name=row.name, parent_id=parent_id, geometry=row.geometry.wkb, geometry_sha1=row.geometry.sha1, source=row.source))
            counts["created"] += 1
        elif (region.name, region.kind, region.geometry_sha1, region.parent_id, region.source) != (row.name, row.kind, row.geometry.sha1, parent_id, row.source):
            region.name, region.kind, region.parent_id, region.source = row.name, row.kind, parent_id, row.source
            region.geometry, region.geometry_sha1 = row.geometry.wkb, row.geometry.sha1
            to_update.append(region)
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    Region.objects.bulk_create(to_create, batch_size=200)
    Region.objects.bulk_update(to_update, ["name", "kind", "parent", "source", "geometry", "geometry_sha1"], batch_size=200)
    if to_create or to_update:
        data_version_bump()
    return counts


def regional_status_upsert(*, taxon: Taxon, region: Region, status: str, source: str, source_url: str = "", establishment_means: str = "", degree_of_establishment: str = "", note: str = "") -> tuple[RegionalStatus, str]:
    """One status per (taxon, region, source). Returns the row and created/updated/unchanged."""
    values = {
        "status": status,
        "source_url": source_url,
        "establishment_means": establishment_means,
        "degree_of_establishment": degree_of_establishment,
        "note": note,
    }
    row = RegionalStatus.objects.filter(taxon=taxon, region=region, source=source).first()
    if row is None:
        row = RegionalStatus.objects.create(taxon=taxon, region=region, source=source, **values)
        data_version_bump()
        return row, "created"
    if all(getattr(row, k) == v for k, v in values.items()):
        return row, "unchanged"
    for k, v in values.items():
        setattr(row, k, v)
    row.save()
    data_version_bump()
    return row, "updated"


def contact_upsert(*, region: Region, kind: str, organisation: str, **fields) -> tuple[Contact, str]:
    row = Contact.objects.filter(region=region, kind=kind, organisation=organisation).first()
    if row is None:
        return Contact.objects.create(region=region, kind=kind, organisation=organisation, **fields), "created"
    if all(getattr(row, k) == v for k, v in fields.items()):
        return row, "unchanged"
    for k, v in fields.items():
        setattr(row, k, v)
    row.save()
    return row, "updated"

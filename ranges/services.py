"""Writes to range data. Each one bumps the data version so that processes rebuild their index."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from ranges.geometry import CleanGeometry, clean_polygonal
from ranges.models import (
    FALLBACK_REGION_CODE,
    Contact,
    DataVersion,
    GeofenceEntry,
    RangePolygon,
    RangeSource,
    Region,
    RegionalStatus,
    RegionKind,
)
from ranges.outlines import region_outlines_build
from species.models import Taxon


def data_version_bump() -> None:
    DataVersion.objects.get_or_create(key="ranges")
    DataVersion.objects.filter(key="ranges").update(version=F("version") + 1)


def source_edition(source: str) -> int:
    """The year of a region source's edition as its name says it ("cb_2020_us_state_500k" -> 2020;
    "... 2016 1:500k states" -> 2016), 0 when it says none."""
    years = [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", source or "")]
    return max(years, default=0)


def region_source_rank(scale_denominator: int | None, source: str) -> tuple[float, int]:
    """How good a region source is; smaller is better: the more detailed map first (an unknown scale
    last), then the newer edition. Census 2020 (1:500k) thus outranks plotly-geo's Census 2016 (1:500k)."""
    return (scale_denominator or math.inf, -source_edition(source))


@transaction.atomic
def regions_upsert(*, rows) -> dict[str, int]:
    """Create or update regions from importer rows (parents must come first or already exist).
    Each region has one owner, its best source so far (`region_source_rank`): a row from another source
    replaces it only when it ranks strictly better; one that ranks the same or worse is counted "kept".
    So the import order does not matter and re-running any import, or `bootstrap`, changes nothing.
    Returns counts: created, updated, unchanged (kept ones are also counted under "kept")."""
    counts = {"created": 0, "updated": 0, "unchanged": 0, "kept": 0}
    fields = ("name", "kind", "geometry_sha1", "parent_id", "source", "iso_a2", "scale_denominator", "geometry_note")
    existing = {r.code: r for r in Region.objects.only("id", "code", *fields)}
    parents = {r.code: r.id for r in existing.values()}
    to_create, to_update = [], []
    for row in rows:
        parent_id = parents.get(row.parent_code) if row.parent_code else None
        scale = getattr(row, "scale_denominator", None)
        wanted = {
            "name": row.name,
            "kind": row.kind,
            "geometry_sha1": row.geometry.sha1,
            "parent_id": parent_id,
            "source": row.source,
            "iso_a2": getattr(row, "iso_a2", "") or "",
            "scale_denominator": scale,
            "geometry_note": row.geometry.message[:500],
        }
        region = existing.get(row.code)
        if region is None:
            to_create.append(Region(code=row.code, geometry=row.geometry.wkb, **wanted))
            counts["created"] += 1
            continue
        if region.source != row.source and region_source_rank(scale, row.source) >= region_source_rank(
            region.scale_denominator, region.source
        ):
            counts["unchanged"] += 1
            counts["kept"] += 1
            continue
        if all(getattr(region, k) == v for k, v in wanted.items()):
            counts["unchanged"] += 1
            continue
        for k, v in wanted.items():
            setattr(region, k, v)
        region.geometry = row.geometry.wkb
        to_update.append(region)
        counts["updated"] += 1
    Region.objects.bulk_create(to_create, batch_size=200)
    Region.objects.bulk_update(to_update, [*(f.removesuffix("_id") for f in fields), "geometry"], batch_size=200)
    if to_create or to_update:
        # The maps' outlines of what changed (and of the groups it belongs to), with the write.
        changed = [r.code for r in (*to_create, *to_update)]
        region_outlines_build(region_ids=Region.objects.filter(code__in=changed).values_list("pk", flat=True))
        data_version_bump()
    return counts


@transaction.atomic
def region_group_upsert(*, code: str, name: str, parent_code: str, member_codes: list[str], source: str) -> str:
    """A named group of regions (e.g. US-L48) with no geometry of its own; returns the outcome."""
    parent = Region.objects.get(code=parent_code)
    members = list(Region.objects.filter(code__in=member_codes).values_list("id", flat=True))
    group = Region.objects.filter(code=code).first()
    outcome = "unchanged"
    if group is None:
        group = Region.objects.create(code=code, name=name, kind=RegionKind.GROUP, parent=parent, source=source)
        outcome = "created"
    elif (group.name, group.kind, group.parent_id, group.source) != (name, RegionKind.GROUP, parent.id, source):
        group.name, group.kind, group.parent, group.source = name, RegionKind.GROUP, parent, source
        group.save()
        outcome = "updated"
    if set(group.members.values_list("id", flat=True)) != set(members):
        group.members.set(members)
        outcome = "updated" if outcome == "unchanged" else outcome
    if outcome != "unchanged":
        region_outlines_build(region_ids=[group.pk])
        data_version_bump()
    return outcome


@dataclass(frozen=True)
class RangeSourceRow:
    name: str
    citation: str = ""
    url: str = ""
    license: str = ""
    absence_means_not_native: bool = True
    taxon_group: str = ""
    lists_every_species: bool = False


@transaction.atomic
def range_source_upsert(*, row: RangeSourceRow) -> str:
    """Record what a source claims (closed or open world, complete for a group); returns the outcome.
    The range index reads it, so a change bumps the data version."""
    values = {
        "citation": row.citation,
        "url": row.url[:500],
        "license": row.license[:200],
        "absence_means_not_native": row.absence_means_not_native,
        "taxon_group": row.taxon_group[:100],
        "lists_every_species": row.lists_every_species,
    }
    source, created = RangeSource.objects.get_or_create(name=row.name[:300], defaults=values)
    if created:
        data_version_bump()
        return "created"
    if all(getattr(source, k) == v for k, v in values.items()):
        return "unchanged"
    for k, v in values.items():
        setattr(source, k, v)
    source.save()
    data_version_bump()
    return "updated"


@dataclass(frozen=True)
class StatusRow:
    taxon_id: int
    region_id: int
    status: str
    source: str
    source_url: str = ""
    establishment_means: str = ""
    degree_of_establishment: str = ""
    note: str = ""
    closed_world: bool = True  # RegionalStatus.closed_world: False for an open-world native list (BirdLife)


_STATUS_FIELDS = ("status", "source_url", "establishment_means", "degree_of_establishment", "note", "closed_world")


@transaction.atomic
def regional_statuses_sync(*, rows: list[StatusRow]) -> dict[str, int]:
    """Bulk upsert of statuses, one per (taxon, region, source); the last row of a key wins."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    by_key = {(r.taxon_id, r.region_id, r.source): r for r in rows}
    sources = {r.source for r in rows}
    # Plain tuples, not model instances: a re-run of a 100,000-row table compares every row.
    existing = {
        (taxon_id, region_id, source): (pk, values)
        for pk, taxon_id, region_id, source, *values in RegionalStatus.objects.filter(source__in=sources).values_list(
            "id", "taxon_id", "region_id", "source", *_STATUS_FIELDS
        )
    }
    to_create, to_update = [], []
    for key, row in by_key.items():
        values = {
            f: getattr(row, f)[:40] if f in ("establishment_means", "degree_of_establishment") else getattr(row, f)
            for f in _STATUS_FIELDS
        }
        current = existing.get(key)
        if current is None:
            to_create.append({"taxon_id": row.taxon_id, "region_id": row.region_id, "source": row.source, **values})
        elif tuple(current[1]) != tuple(values.values()):
            to_update.append(RegionalStatus(id=current[0], **values))
        else:
            counts["unchanged"] += 1
    _statuses_insert(to_create)
    RegionalStatus.objects.bulk_update(to_update, list(_STATUS_FIELDS), batch_size=1000)
    counts["created"], counts["updated"] = len(to_create), len(to_update)
    if to_create or to_update:
        data_version_bump()
    return counts


def _statuses_insert(statuses: list[dict]) -> None:
    """INSERT the new statuses (column values by attname) with executemany: bulk_create spent ~75 % of
    a 100,000-row import (the bird table) building model instances and compiling SQL, not in the database."""
    if not statuses:
        return
    fields = [
        f
        for f in RegionalStatus._meta.concrete_fields
        if f.name in ("taxon", "region", "source", "recorded", "updated", *_STATUS_FIELDS)
    ]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(RegionalStatus._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    values = [[now if f.name == "updated" else s.get(f.attname) for f in fields] for s in statuses]
    with connection.cursor() as cursor:
        for start in range(0, len(values), 5000):
            cursor.executemany(sql, values[start : start + 5000])


@dataclass(frozen=True)
class RangePolygonRow:
    taxon_id: int
    origin: str
    presence: str
    geometry: CleanGeometry
    source: str
    source_key: str
    source_url: str = ""
    license: str = ""


@transaction.atomic
def range_polygons_sync(*, rows: list[RangePolygonRow]) -> dict[str, int]:
    """Bulk upsert of range polygons keyed by (taxon, origin, source, source_key)."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    sources = {r.source for r in rows}
    fields = ("presence", "geometry_sha1", "geometry_note", "source_url", "license")
    existing = {
        (p.taxon_id, p.origin, p.source, p.source_key): p
        for p in RangePolygon.objects.filter(source__in=sources).only(
            "id", "taxon_id", "origin", "source", "source_key", *fields
        )
    }
    to_create, to_update = [], []
    for row in rows:
        values = {
            "presence": row.presence,
            "geometry_sha1": row.geometry.sha1,
            "geometry_note": row.geometry.message[:500],
            "source_url": row.source_url,
            "license": row.license,
        }
        current = existing.get((row.taxon_id, row.origin, row.source, row.source_key))
        if current is None:
            to_create.append(
                RangePolygon(
                    taxon_id=row.taxon_id,
                    origin=row.origin,
                    source=row.source,
                    source_key=row.source_key,
                    geometry=row.geometry.wkb,
                    **values,
                )
            )
        elif any(getattr(current, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(current, f, v)
            current.geometry = row.geometry.wkb
            to_update.append(current)
        else:
            counts["unchanged"] += 1
    RangePolygon.objects.bulk_create(to_create, batch_size=200)
    RangePolygon.objects.bulk_update(to_update, [*fields, "geometry"], batch_size=200)
    counts["created"], counts["updated"] = len(to_create), len(to_update)
    if to_create or to_update:
        data_version_bump()
    return counts


@dataclass(frozen=True)
class GeofenceRow:
    taxon_id: int
    region_id: int
    rule: str
    comment: str
    source: str
    source_url: str = ""


@transaction.atomic
def geofence_entries_sync(*, rows: list[GeofenceRow]) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    by_key = {(r.taxon_id, r.region_id, r.source): r for r in rows}
    existing = {
        (g.taxon_id, g.region_id, g.source): g
        for g in GeofenceEntry.objects.filter(source__in={r.source for r in rows})
    }
    to_create, to_update = [], []
    for key, row in by_key.items():
        current = existing.get(key)
        if current is None:
            to_create.append(
                GeofenceEntry(
                    taxon_id=row.taxon_id,
                    region_id=row.region_id,
                    rule=row.rule,
                    comment=row.comment,
                    source=row.source,
                    source_url=row.source_url,
                )
            )
        elif (current.rule, current.comment, current.source_url) != (row.rule, row.comment, row.source_url):
            current.rule, current.comment, current.source_url = row.rule, row.comment, row.source_url
            to_update.append(current)
        else:
            counts["unchanged"] += 1
    GeofenceEntry.objects.bulk_create(to_create, batch_size=1000)
    GeofenceEntry.objects.bulk_update(to_update, ["rule", "comment", "source_url"], batch_size=1000)
    counts["created"], counts["updated"] = len(to_create), len(to_update)
    if to_create or to_update:
        data_version_bump()
    return counts


def regional_status_upsert(
    *,
    taxon: Taxon,
    region: Region,
    status: str,
    source: str,
    source_url: str = "",
    establishment_means: str = "",
    degree_of_establishment: str = "",
    note: str = "",
) -> tuple[RegionalStatus, str]:
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


def fallback_region_ensure() -> Region:
    """The World region (UN M49 001) that holds the global fallback contacts; created once."""
    region, _ = Region.objects.get_or_create(
        code=FALLBACK_REGION_CODE,
        defaults={"kind": RegionKind.GROUP, "name": "World (fallback contacts)", "source": "UN M49 area code 001"},
    )
    return region


def geometry_assign(*, obj, geometry) -> str:
    """Validate a geometry (make_valid repair or rejection) and put it on a Region or RangePolygon;
    the admin and the importers go through the same checks. Returns what validation said."""
    clean = clean_polygonal(geometry, label=str(obj))
    obj.geometry, obj.geometry_sha1, obj.geometry_note = clean.wkb, clean.sha1, clean.message[:500]
    return clean.message


@transaction.atomic
def range_object_save(*, obj) -> None:
    """Save an admin-edited range object and tell every process to rebuild its index."""
    obj.save()
    if isinstance(obj, Region):
        region_outlines_build(region_ids=[obj.pk])
    data_version_bump()

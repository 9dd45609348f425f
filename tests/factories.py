"""Factories for rows and small in-memory worlds used across the tests."""

from __future__ import annotations

import io

import factory
import shapely
from django.contrib.auth import get_user_model
from PIL import Image

from ranges.geometry import clean_polygonal
from ranges.models import Contact, Region
from species.models import Taxon


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")


class TaxonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Taxon
        django_get_or_create = ("scientific_name", "rank")

    scientific_name = factory.Sequence(lambda n: f"Genus species{n}")
    rank = "species"


def box(minx, miny, maxx, maxy):
    return shapely.box(minx, miny, maxx, maxy)


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    kind = "country"
    code = factory.Sequence(lambda n: f"C{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Region {o.code}")
    geometry = factory.LazyFunction(lambda: clean_polygonal(box(0, 0, 10, 10)).wkb)


def region(code, kind, bounds, parent=None, name=None):
    from ranges.outlines import region_outlines_build
    from ranges.services import data_version_bump

    clean = clean_polygonal(box(*bounds))
    row = RegionFactory(
        code=code, kind=kind, name=name or code, parent=parent, geometry=clean.wkb, geometry_sha1=clean.sha1
    )
    region_outlines_build(region_ids=[row.pk])  # as the importers do with what they write
    data_version_bump()
    return row


def status(taxon, region_row, value, source="test source"):
    from ranges.services import regional_status_upsert

    row, _ = regional_status_upsert(
        taxon=taxon, region=region_row, status=value, source=source, source_url="https://example.org/source"
    )
    return row


def contact(region_row, organisation="Test Wildlife Agency", kind="wildlife_agency"):
    return Contact.objects.create(
        region=region_row,
        kind=kind,
        organisation=organisation,
        url="https://example.org",
        source_url="https://example.org",
    )


def jpeg_bytes(size=(64, 48), color=(120, 90, 30), exif: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    Image.new("RGB", size, color).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


TINY_LABELS = ["Testus nativus", "Testus invasor", None]


def tiny_model_artifact(directory, *, name="tiny-test", winner="Testus nativus"):
    """A random-init TinyNet whose last bias is set so that `winner` (a TINY_LABELS taxon) always wins."""
    import torch

    from ml.artifacts import Manifest, save_artifact
    from ml.zoo import build_model, spec

    torch.manual_seed(0)
    model = build_model("tiny", len(TINY_LABELS))
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([5.0 if key == winner else 0.0 for key in TINY_LABELS]))
    manifest = Manifest(
        name=name,
        arch="tiny",
        labels=["nativus", "invasor", "background"],
        label_taxa=list(TINY_LABELS),
        preprocessing=spec("tiny").preprocessing,
    )
    save_artifact(directory, manifest, model.state_dict())
    return directory

"""Reading geometry files (GeoJSON, shapefile, zipped shapefile, GeoPackage, KML / KMZ) into lon/lat frames."""

from __future__ import annotations

import re
import tempfile
import zipfile
from pathlib import Path

import shapely


class GeometryFileError(ValueError):
    """The file cannot be read as a vector data set."""


# What Natural Earth, the US Census Bureau and IUCN document for their shapefiles. GDAL's own default
# for a shapefile that declares nothing is ISO-8859-1, which turned "Curaçao" into "CuraÃ§ao".
DECLARED_ENCODING = "UTF-8"


def undeclared_shapefile(path: str | Path) -> bool:
    """A shapefile (plain or zipped) whose attribute table declares no encoding: neither a .cpg file
    beside it nor a language-driver byte in the .dbf header. GeoJSON is UTF-8 by definition (RFC 7946)
    and a GeoPackage stores UTF-8: neither needs a declaration."""
    path = Path(str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".shp":
            if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
                return False
            dbf = next((path.with_suffix(s) for s in (".dbf", ".DBF") if path.with_suffix(s).exists()), None)
            return dbf is None or _dbf_language_driver(dbf.read_bytes()[:32]) == 0
        if suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if any(n.lower().endswith(".cpg") for n in names):
                    return False
                dbf = next((n for n in names if n.lower().endswith(".dbf")), None)
                return dbf is None or _dbf_language_driver(archive.open(dbf).read(32)) == 0
    except (OSError, zipfile.BadZipFile):
        return False  # let GDAL say what is wrong with it
    return False


def _dbf_language_driver(header: bytes) -> int:
    return header[29] if len(header) > 29 else 0


def read_frame(
    path: str | Path, columns: list[str] | None = None, encoding: str = DECLARED_ENCODING, layer: str | None = None
):
    """A GeoDataFrame in EPSG:4326 (of `layer`, or the first). Zipped shapefiles are read in place, without unzipping.

    A shapefile that declares its encoding (.cpg, or the .dbf's language driver) is read as declared;
    one that declares nothing is read in `encoding`, the encoding its publisher documents."""
    # pyogrio brings pandas and geopandas (~0.25 s, ~40 MB): imported by the importers and the admin's
    # upload when they read a file, not by every web and worker process that loads the admin.
    import pyogrio

    path = str(path)
    options = {"encoding": encoding} if undeclared_shapefile(path) else {}
    try:
        frame = pyogrio.read_dataframe(path, columns=columns, layer=layer, **options)
    except Exception as exc:  # pyogrio raises DataSourceError, OSError, ValueError... all mean "unreadable"
        raise GeometryFileError(f"{path}: cannot read as GeoJSON / shapefile / GeoPackage / KML ({exc})") from exc
    if frame.crs is not None and frame.crs.to_epsg() not in (4326, None):
        # NAD83 (US Census) and other geographic CRSs differ from WGS84 by metres; reproject anyway.
        frame = frame.to_crs(4326)
    return frame


def scale_denominator(path: str | Path) -> int | None:
    """1:N of a map from its conventional file name: ne_50m_ -> 50,000,000; cb_..._500k -> 500,000."""
    name = Path(str(path)).name.lower()
    match = re.search(r"(?:^|_)(\d+)m(?:_|\.|$)", name) or re.search(r"_(\d+)m(?:_|\.|$)", name)
    if match:
        return int(match.group(1)) * 1_000_000
    match = re.search(r"_(\d+)k(?:_|\.|$)", name)
    if match:
        return int(match.group(1)) * 1_000
    return None


# What an upload may be, by its suffix, and the name its error messages give the format tried.
UPLOAD_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".zip": "a zipped shapefile",
    ".gpkg": "a GeoPackage",
    ".kml": "KML",
    ".kmz": "KMZ",
}


AREA_TYPES = ("Polygon", "MultiPolygon", "GeometryCollection")


def upload_formats() -> dict[str, str]:
    """UPLOAD_FORMATS less what this GDAL cannot read: KMZ needs the LIBKML driver (the pyogrio wheels
    bring it; a GDAL built without libkml reads .kml with its own KML driver, not .kmz)."""
    import pyogrio

    drivers = pyogrio.list_drivers()
    formats = dict(UPLOAD_FORMATS)
    if "LIBKML" not in drivers:
        formats.pop(".kmz")
        if "KML" not in drivers:
            formats.pop(".kml")
    return formats


def _frames(path: Path):
    """Every layer with geometry: a KML's folders are layers, and so may a GeoPackage's tables be."""
    import pyogrio

    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(str(path)) if geometry_type is not None]
    except Exception as exc:  # noqa: BLE001 - as in read_frame: GDAL's errors all mean "unreadable"
        raise GeometryFileError(f"{path}: cannot read as a vector data set ({exc})") from exc
    return [read_frame(path, layer=name) for name in layers]


def _union(geoms: list) -> object:
    """One geometry from the features. A single one goes as it is (clean_polygonal repairs it and says
    so); several invalid ones cannot be unioned (GEOS: TopologyException), so each is repaired first."""
    if len(geoms) == 1:
        return geoms[0]
    try:
        return shapely.union_all(geoms)
    except shapely.errors.GEOSException:
        return shapely.union_all([g if g.is_valid else shapely.make_valid(g) for g in geoms])


def geometry_from_upload(uploaded) -> object:
    """One 2-D (multi)polygon from an uploaded GeoJSON, zipped shapefile, GeoPackage, KML or KMZ: the
    polygons of all layers unioned (KML altitudes dropped). The errors name the file and the format tried."""
    suffix = Path(uploaded.name).suffix.lower()
    formats = upload_formats()
    if suffix not in formats:
        raise GeometryFileError(f"{uploaded.name}: upload {_format_list(formats)}")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"upload{suffix}"
        with open(target, "wb") as fh:
            for chunk in uploaded.chunks():
                fh.write(chunk)
        try:
            frames = _frames(target)
        except GeometryFileError as exc:
            detail = str(exc.__cause__ or exc).replace(str(target), uploaded.name).replace(tmp, "")
            raise GeometryFileError(f"{uploaded.name}: not readable as {formats[suffix]} ({detail})") from exc
    geoms = [g for frame in frames for g in frame.geometry if g is not None and not g.is_empty]
    if not geoms:
        raise GeometryFileError(f"{uploaded.name}: no geometry in the file (read as {formats[suffix]})")
    # A KML's pins and paths beside its polygons are labels, not area; a file of pins only is refused
    # by clean_polygonal ("expected a polygon, got Point").
    geoms = [g for g in geoms if g.geom_type in AREA_TYPES] or geoms
    return shapely.force_2d(_union(geoms))


def _format_list(formats: dict[str, str]) -> str:
    by_name: dict[str, list[str]] = {}
    for suffix, name in formats.items():
        by_name.setdefault(name, []).append(suffix)
    return ", ".join(f"{name} ({' or '.join(suffixes)})" for name, suffixes in by_name.items())

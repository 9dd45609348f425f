"""Importers of standard data files, one module per format, registered by name."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from tqdm import tqdm

from ranges.importers.report import ImportInputError, ImportReport
from species.selectors import cross_kingdom_homonyms

# format name -> "module:function"; each function is run(paths, report, progress) and writes through
# ranges.services / species.services.
FORMATS: dict[str, str] = {
    "natural-earth": "ranges.importers.regions:run_natural_earth",
    "us-census": "ranges.importers.regions:run_us_census",
    "iucn-ranges": "ranges.importers.iucn:run",
    "mdd": "ranges.importers.mdd:run",
    "native-countries": "ranges.importers.native_countries:run",
    "us-riis": "ranges.importers.us_riis:run",
    "griis": "ranges.importers.dwc_checklist:run",
    "griis-areas": "ranges.importers.dwc_checklist:run_areas",
    "speciesnet-taxonomy": "ranges.importers.speciesnet:run_taxonomy",
    "speciesnet-geofence": "ranges.importers.speciesnet:run_geofence",
}


@dataclass(frozen=True)
class ImportConfig:
    fmt: str
    paths: tuple[Path, ...]
    dry_run: bool = False
    progress: bool = True


class _DryRun(Exception):
    pass


def data_import(config: ImportConfig) -> ImportReport:
    """Run one format's importer over its paths in one transaction (rolled back on --dry-run)."""
    if config.fmt not in FORMATS:
        raise ImportInputError(f"unknown format {config.fmt!r}; known: {', '.join(sorted(FORMATS))}")
    for path in config.paths:
        if not Path(path).exists():
            raise ImportInputError(f"{path}: no such file or directory")
    module, name = FORMATS[config.fmt].split(":")
    run = getattr(importlib.import_module(module), name)
    report = ImportReport(config.fmt)
    started = time.perf_counter()
    homonyms_before = cross_kingdom_homonyms()
    try:
        with transaction.atomic():
            run(list(config.paths), report, config.progress)
            report.homonyms = [
                f"{name}: {described}"
                for name, described in cross_kingdom_homonyms().items()
                if homonyms_before.get(name) != described
            ]
            if config.dry_run:
                raise _DryRun
    except _DryRun:
        report.note("dry run: nothing was written")
    report.seconds = time.perf_counter() - started
    return report


def progress_bar(iterable, *, enabled: bool, desc: str, total: int | None = None, unit: str = "row"):
    """A tqdm bar on stderr (a no-op wrapper when disabled, e.g. in tests)."""
    if not enabled:
        return iterable
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False, mininterval=0.5)

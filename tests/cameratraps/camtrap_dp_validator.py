"""Validate a Camtrap DP 1.0.2 package offline, as the camtrapdp / frictionless validators do:
the descriptor against the Camtrap DP profile (JSON Schema), and every table against its Table
Schema with frictionless (types, constraints, primary and foreign keys).

The profile and schemas are the vendored copies in cameratraps/camtrap_dp/ (their URLs cannot be
fetched here). The profile's two outside references resolve locally: the GeoJSON schema shipped
inside frictionless, and the generic Data Package schema, whose rules frictionless's own Package
metadata validation applies.
"""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

VENDORED = Path(__file__).resolve().parents[2] / "cameratraps" / "camtrap_dp"
GEOJSON = Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json"
TABLES = ("deployments", "media", "observations")


def _registry() -> Registry:
    data_package = {"type": "object", "required": ["resources"]}  # checked by frictionless.Package below
    return Registry().with_resources(
        [
            (
                "https://specs.frictionlessdata.io/schemas/data-package.json",
                Resource.from_contents(data_package, default_specification=DRAFT4),
            ),
            (
                "http://json.schemastore.org/geojson.json",
                Resource.from_contents(json.loads(GEOJSON.read_text()), default_specification=DRAFT4),
            ),
        ]
    )


def validate_camtrap_dp(package_dir: Path) -> list[str]:
    """Every problem found, as text; an empty list means the package is valid."""
    descriptor = json.loads((package_dir / "datapackage.json").read_text())
    profile = json.loads((VENDORED / "camtrap-dp-profile.json").read_text())
    validator = jsonschema.Draft4Validator(
        profile, registry=_registry(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    problems = [
        f"datapackage.json: {e.message} at {'/'.join(map(str, e.absolute_path))}"
        for e in validator.iter_errors(descriptor)
    ]

    # frictionless: the same descriptor with the schema URLs pointing at the vendored copies.
    local = {key: value for key, value in descriptor.items() if key != "profile"}
    local["resources"] = []
    for resource in descriptor["resources"]:
        resource = dict(resource)
        if resource.get("name") in TABLES:
            resource["schema"] = json.loads((VENDORED / f"{resource['name']}-table-schema.json").read_text())
        local["resources"].append(resource)
    package = frictionless.Package(local, basepath=str(package_dir))
    report = package.validate()
    for task in report.tasks:
        problems += [f"{task.name}: {error.message}" for error in task.errors]
    problems += [f"package: {error.message}" for error in report.errors]
    return problems

"""SpeciesNet's published model folders (Google's camera-trap classifier, Kaggle `google/speciesnet`):
read, check and load one as a RangeWatch model of kind "speciesnet".

The folder is SpeciesNet's own layout (its `speciesnet` package reads the same `info.json`):
`version`, `type` (`full_image` or `always_crop`), `classifier` (a whole torch module saved with
`torch.save`, converted from ONNX with onnx2torch), `classifier_labels` (`uuid;class;order;family;
genus;species;common name`, one a line, in output order), `detector`, `taxonomy`, `geofence`.

Loading the classifier unpickles it: a pickle can run any code, so only a folder the curator vouches
for is registered, and what was registered is pinned by checksums (CHECKSUMS_FILE) that every later
load verifies. The model's geofence is not used: the location prior and the verdict decide, as for
every model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ml.artifacts import ArtifactError, Manifest, file_sha256
from ml.transforms import SpeciesNetPreprocessing

ARCH = "speciesnet"
INFO_FILE = "info.json"
# Written beside info.json at registration: sha256 of every file the model is made of.
CHECKSUMS_FILE = "rangewatch-checksums.json"
TYPES = ("full_image", "always_crop")
LABEL_FIELDS = 7
# Labels that show no wild animal to judge: the project's "no animal" answer. A person is not an
# observation of Homo sapiens to verdict; a car is not an animal.
NO_ANIMAL_LABELS = frozenset({"blank", "human", "vehicle", "empty"})
UNSAFE_NOTE = (
    "the classifier is a pickled torch module: loading it runs code from that file. Register only a "
    "folder you downloaded yourself from a source you trust (Kaggle google/speciesnet, Hugging Face "
    "google/speciesnet); its checksums are recorded now and verified at every load."
)


class SpeciesNetUnsupported(ArtifactError):
    """A SpeciesNet folder this installation cannot run (an `always_crop` model without MegaDetector)."""


def is_speciesnet_folder(directory: str | os.PathLike) -> bool:
    """A folder in SpeciesNet's layout (info.json), not a RangeWatch artifact (manifest.json)."""
    directory = Path(directory)
    return (directory / INFO_FILE).is_file() and not (directory / "manifest.json").is_file()


def label_taxon(label: str) -> str | None:
    """The taxon key (scientific name) a SpeciesNet label names, as the SpeciesNet taxonomy import
    names it ('...;loxodonta;africana;african elephant' -> 'Loxodonta africana'); a rank-only label
    names its deepest rank ('...;mammalia;;;;;mammal' -> 'Mammalia'); `animal` names the kingdom.
    None for blank, human and vehicle: the project's "no animal"."""
    parts = [p.strip() for p in label.split(";")]
    if len(parts) != LABEL_FIELDS:
        raise ValueError(f"not a SpeciesNet label (uuid;class;order;family;genus;species;common name): {label!r}")
    klass, order, family, genus, species, common = (p.lower() for p in parts[1:])
    if common in NO_ANIMAL_LABELS:
        return None
    if not klass:
        return "Animalia" if common == "animal" else None
    if species:
        return f"{genus.capitalize()} {species}" if genus else None
    deepest = [value for value in (klass, order, family, genus) if value][-1]
    return deepest.capitalize()


@dataclass
class SpeciesNetFolder:
    """What info.json says, checked: the files are there and the labels parse."""

    directory: Path
    version: str
    type: str
    classifier: Path
    labels_file: Path
    labels: list[str]
    detector: str = ""  # a file in the folder or a URL; only `always_crop` needs it
    extra_files: dict[str, Path] = field(default_factory=dict)  # taxonomy, geofence: checksummed, unused

    @property
    def label_taxa(self) -> list[str | None]:
        return [label_taxon(label) for label in self.labels]

    def files(self) -> dict[str, Path]:
        """Every file that makes up the model, by a stable name (what the checksums cover)."""
        out = {INFO_FILE: self.directory / INFO_FILE, "classifier": self.classifier, "labels": self.labels_file}
        out.update(self.extra_files)
        return out

    def checksums(self) -> dict[str, str]:
        return {key: file_sha256(path) for key, path in self.files().items()}

    def default_name(self) -> str:
        return f"speciesnet-{self.version}-{self.type}".replace(" ", "_")[:200]


def read_folder(directory: str | os.PathLike) -> SpeciesNetFolder:
    """Read info.json and the labels; raises ArtifactError naming what is missing or wrong."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"{directory} is not a folder")
    info_path = directory / INFO_FILE
    if not info_path.is_file():
        raise ArtifactError(f"no {INFO_FILE} in {directory}: not a SpeciesNet model folder")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{info_path} is not valid JSON: {exc}") from exc
    missing = [key for key in ("version", "type", "classifier", "classifier_labels") if not info.get(key)]
    if missing:
        raise ArtifactError(f"{info_path} lacks {', '.join(missing)}")
    if info["type"] not in TYPES:
        raise ArtifactError(f"{info_path}: type {info['type']!r} is not one of {', '.join(TYPES)}")

    def inside(key: str) -> Path:
        path = (directory / str(info[key])).resolve()
        if directory.resolve() not in path.parents:
            raise ArtifactError(f"{info_path}: {key} {info[key]!r} points outside the folder")
        if not path.is_file():
            raise ArtifactError(f"{key} file {info[key]!r} named in {INFO_FILE} is missing from {directory}")
        return path

    classifier, labels_file = inside("classifier"), inside("classifier_labels")
    try:
        labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{labels_file} is not UTF-8 text: {exc}") from exc
    bad = [line for line in labels if line.count(";") != LABEL_FIELDS - 1]
    if not labels or bad:
        raise ArtifactError(
            f"{labels_file} is not a SpeciesNet label list (uuid;class;order;family;genus;species;common name)"
            + (f": {len(bad)} lines do not have 7 fields, first {bad[0][:80]!r}" if bad else ": it is empty")
        )
    extra = {}
    for key in ("taxonomy", "geofence"):
        value = info.get(key)
        if value and not str(value).startswith(("http://", "https://")) and (directory / str(value)).is_file():
            extra[key] = inside(key)
    return SpeciesNetFolder(
        directory=directory,
        version=str(info["version"]),
        type=info["type"],
        classifier=classifier,
        labels_file=labels_file,
        labels=labels,
        detector=str(info.get("detector") or ""),
        extra_files=extra,
    )


def recorded_checksums(directory: str | os.PathLike) -> dict[str, str]:
    """The checksums written at registration ({} when the folder was never registered)."""
    path = Path(directory) / CHECKSUMS_FILE
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text())["sha256"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path} is damaged: {exc}") from exc


def record_checksums(folder: SpeciesNetFolder) -> dict[str, str]:
    """Write the sha256 of every model file beside info.json (atomically); returns them."""
    sums = folder.checksums()
    path = folder.directory / CHECKSUMS_FILE
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    tmp.write_text(json.dumps({"sha256": sums}, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return sums


def verify_checksums(folder: SpeciesNetFolder, skip: tuple[str, ...] = ()) -> None:
    """Each file against the checksum recorded at registration: a file swapped since then (a new
    download, a tampered pickle, other labels) does not load."""
    for key, expected in recorded_checksums(folder.directory).items():
        if key in skip:
            continue
        path = folder.files().get(key)
        if path is None:
            raise ArtifactError(f"{key} was registered with {folder.directory} but {INFO_FILE} no longer names it")
        actual = file_sha256(path)
        if actual != expected:
            raise ArtifactError(
                f"checksum mismatch for {path}: registered as {expected[:12]}…, file is {actual[:12]}…; "
                "register the folder again if the new file is trusted"
            )


def manifest(folder: SpeciesNetFolder, name: str | None = None) -> Manifest:
    """The folder as a RangeWatch manifest: labels mapped to taxa, SpeciesNet's preprocessing, the
    classifier's registered checksum."""
    return Manifest(
        name=name or folder.default_name(),
        arch=ARCH,
        labels=list(folder.labels),
        label_taxa=folder.label_taxa,
        preprocessing=SpeciesNetPreprocessing(),
        metrics={"speciesnet_version": folder.version, "speciesnet_type": folder.type},
        # Before registration, the file's own checksum: the ONNX export is cached under it.
        sha256=recorded_checksums(folder.directory).get("classifier") or file_sha256(folder.classifier),
        weights_file=str(folder.classifier.relative_to(folder.directory.resolve())),
    )


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """The manifest, its small files (info.json, labels) checked against the registered checksums;
    the classifier's own checksum is the manifest's sha256, which every loader verifies."""
    folder = read_folder(directory)
    verify_checksums(folder, skip=("classifier",))
    return manifest(folder)


def require_runnable(folder: SpeciesNetFolder) -> None:
    """`full_image` runs here; `always_crop` needs MegaDetector to find the boxes it classifies."""
    if folder.type == "always_crop":
        raise SpeciesNetUnsupported(
            f"{folder.directory} is an always_crop model: it classifies MegaDetector's boxes, and this "
            "installation does not run MegaDetector. Download the full_image variant of the same "
            "SpeciesNet version (its classifier takes the whole photo) and register that instead."
        )


def load_module(folder: SpeciesNetFolder):
    """Unpickle the classifier (see UNSAFE_NOTE), check that it takes SpeciesNet's input and that its
    head has one output per label. Raises ArtifactError."""
    import torch

    verify_checksums(folder)
    try:
        import onnx2torch  # noqa: F401 - the published modules are onnx2torch graphs: unpickling needs it
    except ImportError:
        pass  # a module of plain torch layers loads without it; a real one fails below, saying so
    try:
        model = torch.load(folder.classifier, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise ArtifactError(
            f"{folder.classifier} needs the Python module {exc.name!r} to load (the published SpeciesNet "
            "classifiers need onnx2torch, see requirements.txt)"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        raise ArtifactError(f"{folder.classifier} is not a loadable torch module: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, torch.nn.Module):
        raise ArtifactError(f"{folder.classifier} holds a {type(model).__name__}, not a torch module")
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    shape = SpeciesNetPreprocessing().input_shape
    try:
        with torch.inference_mode():
            out = model(torch.zeros(1, *shape))
    except Exception as exc:  # noqa: BLE001 - a module that does not take the input is not SpeciesNet's
        raise ArtifactError(
            f"{folder.classifier} does not take SpeciesNet's input (1, {shape[0]}, {shape[1]}, 3) float32: "
            f"{type(exc).__name__}: {str(exc)[:200]}"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != 1:
        raise ArtifactError(f"{folder.classifier} does not return one row of logits per image")
    if out.shape[1] != len(folder.labels):
        raise ArtifactError(
            f"{folder.labels_file.name} lists {len(folder.labels)} labels but the classifier has a "
            f"{out.shape[1]}-class head"
        )
    return model


def load(directory: str | os.PathLike):
    """(manifest, torch module in eval mode): what ml.artifacts.load_artifact returns for this kind."""
    folder = read_folder(directory)
    require_runnable(folder)
    return manifest(folder), load_module(folder)

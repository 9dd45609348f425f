"""Fine-tune a species classifier (ml.training.train) and register it as a model version.

Runs in the foreground, never as a Celery task. A failed or interrupted run registers nothing, so the
active model stays; a second concurrent run is refused (a lock file with the PID beside the output).
"""
import re
import sys
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NO_ANIMAL_NAMES = {"empty", "blank", "nothing", "none", "vehicle", "car", "no animal"}
RANK_ORDER = ["subspecies", "species", "genus", "family", "order", "class", "phylum", "kingdom"]


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _name_variants(label: str) -> list[str]:
    """'gazelleThomsons' -> ['gazelleThomsons', 'gazelle Thomsons', 'Thomsons gazelle']; 'European_Hare' -> 'European Hare'."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label.replace("_", " ")).strip()
    words = spaced.split()
    variants = [label, spaced]
    if len(words) == 2:
        variants.append(f"{words[1]} {words[0]}")
    if words and words[0].lower() == "domestic":
        variants.append(" ".join(words[1:]))  # "domestic cattle" -> "cattle"
    variants += [f"{spaced}s", f"{spaced}es"]  # "mongoose" -> "mongooses" (a family's common name)
    return list(dict.fromkeys(v for v in variants if v))


def match_labels_to_taxa(labels: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Class name -> taxon key (scientific name; None for "no animal" classes), and the unmatched names.

    Tries the scientific name (and synonyms) through species.selectors.taxon_by_name, then the
    common name ignoring case, spaces and apostrophes ("gazelleThomsons" -> "Thomson's gazelle").
    """
    from species.models import Taxon
    from species.selectors import taxon_by_name

    by_common: dict[str, Taxon] = {}
    rank = lambda t: RANK_ORDER.index(t.rank) if t.rank in RANK_ORDER else 99  # noqa: E731
    for taxon in sorted(Taxon.objects.exclude(common_name="").only("scientific_name", "common_name", "rank"), key=rank):
        by_common.setdefault(_squash(taxon.common_name), taxon)  # the most specific taxon of that name
    mapping, unmatched = {}, []
    for label in labels:
        if label.strip().lower() in NO_ANIMAL_NAMES:
            mapping[label] = None
            continue
        found = None
        for variant in _name_variants(label):
            found = taxon_by_name(variant) or by_common.get(_squash(variant))
            if found:
                break
        if found is None:
            unmatched.append(label)
        else:
            mapping[label] = found.scientific_name
    return mapping, unmatched


def verified_observation_records() -> list[dict]:
    """Observations whose verdict names a taxon, as plain records for ml.training.

    Reviewer verification does not exist yet: these labels are the model's own verdicts.
    """
    from observations.models import Observation

    rows = []
    qs = Observation.objects.filter(status=Observation.Status.DONE, verdict__taxon__isnull=False).select_related("verdict__taxon")
    for obs in qs:
        rows.append({
            "id": str(obs.uuid),
            "path": obs.photo.path,
            "label": obs.verdict.taxon.scientific_name,
            # about 11 km cells: photos from the same spot never straddle the split
            "location": f"{round(obs.latitude, 1)},{round(obs.longitude, 1)}",
        })
    return rows


class Command(BaseCommand):
    help = "Fine-tune a classifier (fastai, frozen then unfrozen) on camera-trap photos, write a report, register the model."

    def add_arguments(self, parser):
        data = parser.add_argument_group("data (one source)")
        data.add_argument("--coco", type=Path, help="COCO Camera Traps JSON")
        data.add_argument("--images", type=Path, help="image root for --coco (default: the JSON's folder)")
        data.add_argument("--folders", type=Path, help="one folder per class")
        data.add_argument("--from-observations", action="store_true", help="observations with a verdict taxon (needs --allow-unverified)")
        data.add_argument("--allow-unverified", action="store_true", help="train on model verdicts while reviewer verification does not exist")
        model = parser.add_argument_group("model")
        model.add_argument("--arch", default="resnet50", choices=["resnet50", "efficientnet_lite0", "resnet18", "tiny"])
        model.add_argument("--pretrained", default="auto", help="auto | none | PATH to ImageNet weights")
        train = parser.add_argument_group("training")
        train.add_argument("--freeze-epochs", type=int, default=1)
        train.add_argument("--epochs", type=int, default=5)
        train.add_argument("--lr", type=float, default=None, help="default: lr_find")
        train.add_argument("--img-size", type=int, default=None, help="default: the architecture's serving size")
        train.add_argument("--batch-size", type=int, default=16)
        train.add_argument("--device", default="auto")
        train.add_argument("--seed", type=int, default=42)
        train.add_argument("--patience", type=int, default=3, help="early stopping: epochs without a better macro-F1")
        train.add_argument("--balance", default="weights", choices=["weights", "sampler", "none"])
        opts = parser.add_argument_group("data options")
        opts.add_argument("--empty-keep", type=float, default=1.0, help="fraction of empty sequences kept (e.g. 0.1)")
        opts.add_argument("--first-frame-only", action="store_true")
        opts.add_argument("--split", default="location", choices=["location", "sequence", "random"])
        opts.add_argument("--valid-pct", type=float, default=0.2)
        opts.add_argument("--min-per-class", type=int, default=1)
        out = parser.add_argument_group("output")
        out.add_argument("--output", type=Path, help="default: RANGEWATCH_MODEL_DIR/<arch>-<timestamp>")
        out.add_argument("--name", default="", help="model version name (default: <arch>-<output folder>)")
        out.add_argument("--allow-unmatched", action="store_true", help="keep classes that match no taxon")
        out.add_argument("--activate", action="store_true", help="make the new model the active one")
        out.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoints/last.pt")
        out.add_argument("--dry-run", action="store_true", help="print the plan and stop")

    def handle(self, *args, **o):
        from ml.training.config import TrainingConfig
        from ml.training.lock import TrainingLocked, training_lock
        from ml.training.train import UnmatchedLabels, plan_data, train
        from observations.models import ModelVersion
        from observations.inference import serving_prepare
        from observations.services import model_version_register

        sources = [bool(o["coco"]), bool(o["folders"]), o["from_observations"]]
        if sum(sources) != 1:
            raise CommandError("give exactly one of --coco, --folders, --from-observations")
        records = None
        if o["from_observations"]:
            self.stderr.write("reviewer verification is pending: --from-observations reads observations whose verdict names a taxon, "
                              "i.e. the model's own answers, not verified labels")
            if not o["allow_unverified"]:
                raise CommandError("refusing to train on unverified verdicts; pass --allow-unverified to do it anyway")
            records = verified_observation_records()
        output = (o["output"] or Path(settings.RANGEWATCH_MODEL_DIR) / f"{o['arch']}-{datetime.now():%Y%m%d-%H%M%S}").resolve()
        try:
            config = TrainingConfig(
                output=output, coco=o["coco"], images=o["images"], folders=o["folders"], records=records,
                arch=o["arch"], pretrained=o["pretrained"], freeze_epochs=o["freeze_epochs"], epochs=o["epochs"], lr=o["lr"],
                img_size=o["img_size"], batch_size=o["batch_size"], device=o["device"], seed=o["seed"], patience=o["patience"],
                balance=o["balance"], empty_keep=o["empty_keep"], first_frame_only=o["first_frame_only"], split=o["split"],
                valid_pct=o["valid_pct"], min_per_class=o["min_per_class"], name=o["name"], allow_unmatched=o["allow_unmatched"],
                resume=o["resume"], quiet=not sys.stdout.isatty(),
            )
            plan = plan_data(config)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        mapping, unmatched = match_labels_to_taxa(plan.classes)
        config.label_taxa = mapping
        if o["dry_run"]:
            self.stdout.write(plan.describe())
            self.stdout.write("taxa: " + ", ".join(f"{k} -> {v or 'no animal'}" for k, v in mapping.items()))
            if unmatched:
                self.stdout.write(f"unmatched ({'kept' if o['allow_unmatched'] else 'refused without --allow-unmatched'}): {', '.join(unmatched)}")
            self.stdout.write(f"would train {config.arch} ({config.freeze_epochs} frozen + {config.epochs} unfrozen epochs) into {output}")
            return
        if unmatched and not o["allow_unmatched"]:
            raise CommandError(f"{len(unmatched)} classes match no taxon: {', '.join(unmatched)} (add the taxa or pass --allow-unmatched)")
        artifact = output / "model"
        taken = ModelVersion.objects.filter(path=str(artifact)).first()
        if taken is not None:
            raise CommandError(f"{artifact} is already registered as model version {taken.name}; choose another --output")

        try:
            with training_lock(output.parent):
                result = train(config, log=self.stdout.write)
                serving_prepare(result.artifact)  # before activation: workers switch without exporting
                version = model_version_register(path=result.artifact, activate=o["activate"])
        except TrainingLocked as exc:
            raise CommandError(str(exc)) from exc
        except (UnmatchedLabels, ValueError, FileNotFoundError) as exc:
            raise CommandError(f"training failed, the active model is unchanged: {exc}") from exc
        m = result.metrics
        self.stdout.write(self.style.SUCCESS(
            f"trained {config.arch} in {result.seconds:.0f}s: macro-F1 {m['macro_f1']:.4f}, accuracy {m['accuracy']:.4f}, "
            f"ECE {m['ece_before']:.3f} -> {m['ece_after']:.3f} (T={m['temperature']:.2f})"))
        self.stdout.write(f"report: {result.output / 'report.md'}")
        self.stdout.write(f"registered model version {version.name} ({result.artifact}){' and activated it' if o['activate'] else ''}")

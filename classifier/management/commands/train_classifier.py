"""Fine-tune a species classifier (ml.training.train) and register it as a model version.

Runs in the foreground, never as a Celery task. A failed or interrupted run registers nothing, so the
active model stays; a second concurrent run is refused (a lock file with the PID beside the output).
"""

import sys
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from classifier.services import ModelTrainingRefused, model_train, training_plan
from classifier.training import training_records
from core.errors import ServiceError
from ml.training.config import TrainingConfig


class Command(BaseCommand):
    help = (
        "Fine-tune a classifier (fastai, frozen then unfrozen) on camera-trap photos, write a report, "
        "register the model."
    )

    def add_arguments(self, parser):
        data = parser.add_argument_group("data (one source)")
        data.add_argument("--coco", type=Path, help="COCO Camera Traps JSON")
        data.add_argument("--images", type=Path, help="image root for --coco (default: the JSON's folder)")
        data.add_argument("--folders", type=Path, help="one folder per class")
        data.add_argument(
            "--from-observations",
            action="store_true",
            help="observations a reviewer confirmed, labelled with the reviewer's taxon",
        )
        model = parser.add_argument_group("model")
        model.add_argument("--arch", default="resnet50", choices=["resnet50", "efficientnet_lite0", "resnet18", "tiny"])
        model.add_argument(
            "--pretrained",
            default="auto",
            help="auto | none | PATH to ImageNet weights (default for resnet50: RANGEWATCH_RESNET50_WEIGHTS)",
        )
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
        out.add_argument(
            "--activate",
            action="store_true",
            help="make the new model the active one, unless its validation macro-F1 is below the active model's "
            "on the same split",
        )
        out.add_argument(
            "--force",
            action="store_true",
            help="with --activate: activate even when it scores lower (logged as forced)",
        )
        out.add_argument("--reason", default="", help="with --activate: why, for the activation log")
        out.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoints/last.pt")
        out.add_argument("--dry-run", action="store_true", help="print the plan and stop")

    def handle(self, *args, **o):
        if sum([bool(o["coco"]), bool(o["folders"]), o["from_observations"]]) != 1:
            raise CommandError("give exactly one of --coco, --folders, --from-observations")
        output = (
            o["output"] or Path(settings.RANGEWATCH_MODEL_DIR) / f"{o['arch']}-{datetime.now():%Y%m%d-%H%M%S}"
        ).resolve()
        pretrained = o["pretrained"]
        if pretrained == "auto" and o["arch"] == "resnet50" and settings.RANGEWATCH_RESNET50_WEIGHTS:
            pretrained = str(settings.RANGEWATCH_RESNET50_WEIGHTS)
        try:
            records = training_records("reviewed observations") if o["from_observations"] else None
            if records == []:
                raise CommandError("no observation has been confirmed by a reviewer yet: nothing to train on")
            config = TrainingConfig(
                output=output,
                coco=o["coco"],
                images=o["images"],
                folders=o["folders"],
                records=records,
                arch=o["arch"],
                pretrained=pretrained,
                freeze_epochs=o["freeze_epochs"],
                epochs=o["epochs"],
                lr=o["lr"],
                img_size=o["img_size"],
                batch_size=o["batch_size"],
                device=o["device"],
                seed=o["seed"],
                patience=o["patience"],
                balance=o["balance"],
                empty_keep=o["empty_keep"],
                first_frame_only=o["first_frame_only"],
                split=o["split"],
                valid_pct=o["valid_pct"],
                min_per_class=o["min_per_class"],
                name=o["name"],
                allow_unmatched=o["allow_unmatched"],
                resume=o["resume"],
                quiet=not sys.stdout.isatty(),
            )
            if o["dry_run"]:
                self.stdout.write(training_plan(config=config).describe())
                return
            trained = model_train(
                config=config, activate=o["activate"], force=o["force"], reason=o["reason"], log=self.stdout.write
            )
        except (ModelTrainingRefused, ServiceError) as exc:
            raise CommandError(exc.detail) from exc
        m = trained.result.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"trained {config.arch} in {trained.result.seconds:.0f}s: macro-F1 {m['macro_f1']:.4f}, "
                f"accuracy {m['accuracy']:.4f}, "
                f"ECE {m['ece_before']:.3f} -> {m['ece_after']:.3f} (T={m['temperature']:.2f})"
            )
        )
        self.stdout.write(f"report: {trained.result.output / 'report.md'}")
        self.stdout.write(f"registered model version {trained.version.name} ({trained.result.artifact})")
        if trained.activation is not None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"activated it{' (forced)' if trained.activation.forced else ''}: "
                    f"{trained.activation.comparison or 'no model was active'}"
                )
            )
        elif trained.refused:
            raise CommandError(
                f"not activated: {trained.refused}\n"
                f"(`python manage.py model_version activate {trained.version.name} --force --reason ...`)"
            )

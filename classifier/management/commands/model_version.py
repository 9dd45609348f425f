"""List model versions, activate one (refused when it scores below the active one on the same
validation split, unless --force) or roll back to the previous one; every switch is logged."""

from django.core.management.base import BaseCommand, CommandError

from classifier.selectors import model_activations, model_version_by_name, model_versions
from classifier.services import (
    command_line_operator,
    model_version_activate,
    model_version_add_speciesnet,
    model_version_rollback,
)
from core.errors import NotFound, ServiceError
from ml.speciesnet import UNSAFE_NOTE as SPECIESNET_UNSAFE_NOTE


class Command(BaseCommand):
    help = "Model versions: list | activate NAME --reason WHY [--force] | rollback --reason WHY | add-speciesnet PATH [--name NAME]"

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="versions (newest first), the active one starred, and the last activations")
        activate = actions.add_parser(
            "activate", help="make NAME the serving model (workers switch on their next task)"
        )
        activate.add_argument("name")
        activate.add_argument("--reason", required=True, help="why, for the activation log")
        activate.add_argument(
            "--force", action="store_true", help="activate even when it scores lower or cannot be compared"
        )
        speciesnet = actions.add_parser(
            "add-speciesnet",
            help="register a SpeciesNet model folder (info.json, classifier, labels) as a version, not active",
        )
        speciesnet.add_argument("path", help="the unpacked folder, e.g. speciesnet-pytorch-v4.0.1a")
        speciesnet.add_argument("--name", help="the version's name (default speciesnet-VERSION-TYPE)")
        rollback = actions.add_parser("rollback", help="back to the version that was active before the last activation")
        rollback.add_argument("--reason", required=True, help="why, for the activation log")

    def handle(self, *args, action, **options):
        try:
            if action == "list":
                self.list()
            elif action == "activate":
                version = model_version_by_name(options["name"])
                self.stdout.write(f"scoring {version.name} and the active model on the same validation split ...")
                done = model_version_activate(
                    model_version=version, by=command_line_operator(), reason=options["reason"], force=options["force"]
                )
                self.report(done)
            elif action == "add-speciesnet":
                self.add_speciesnet(options["path"], options["name"])
            else:
                self.report(model_version_rollback(by=command_line_operator(), reason=options["reason"]))
        except (NotFound, ServiceError) as exc:
            raise CommandError(exc.detail) from exc

    def list(self):
        for v in model_versions():
            f1 = v.metrics.get("macro_f1")
            score = (
                f"macro-F1 {f1:.3f} ({v.metrics.get('split', '?')} split, own classes)"
                if f1 is not None
                else "no training metrics"
            )
            self.stdout.write(
                f"{'*' if v.is_active else ' '} {v.name:<40} {v.arch:<18} {v.created:%Y-%m-%d %H:%M}  {score}"
            )
            for e in v.evaluations.all():
                self.stdout.write(
                    f"    on split {e.split_sha256[:8]}: macro-F1 {e.macro_f1:.3f}, accuracy {e.accuracy:.3f} "
                    f"({e.images} images, taxa)"
                )
        log = list(model_activations()[:5])
        if log:
            self.stdout.write("last activations:")
            for a in log:
                self.stdout.write(
                    f"  {a.at:%Y-%m-%d %H:%M} {a.version.name} (was {a.previous.name if a.previous else '-'}) by {a.by}"
                    f"{' FORCED' if a.forced else ''}: {a.reason} [{a.comparison or 'no comparison'}]"
                )

    def add_speciesnet(self, path, name):
        self.stdout.write(self.style.WARNING(f"note: {SPECIESNET_UNSAFE_NOTE}"))
        done = model_version_add_speciesnet(path=path, name=name)
        version = done.version
        if done.unmatched_taxa:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(done.unmatched_taxa)} of its taxa are not in the taxonomy (first: "
                    f"{', '.join(done.unmatched_taxa[:5])}): run `manage.py import_data speciesnet-taxonomy "
                    f"{version.path}/<labels file>` so that they can be named"
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"registered {version.name} ({version.num_labels} labels, classifier sha256 {version.sha256[:12]}…), "
                f"not active; activate it with `manage.py model_version activate {version.name} --reason ...` "
                "(it has no validation split of its own: it is scored on the active model's, or needs --force)"
            )
        )

    def report(self, activation):
        forced = " (forced)" if activation.forced else ""
        previous = activation.previous.name if activation.previous else "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"{activation.version.name} is active{forced}, was {previous}; "
                f"{activation.comparison or 'no comparison'}"
            )
        )

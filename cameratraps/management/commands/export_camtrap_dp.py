"""Write a camera-trap project as a Camtrap DP package."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cameratraps.camtrap_dp_export import export_camtrap_dp
from cameratraps.selectors import project_by_name
from core.errors import NotFound


class Command(BaseCommand):
    help = (
        "Export a project as Camtrap DP 1.0.2: deployments, media, one machine classification per sequence "
        "and the reviewers' ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="the folder to write (created)")
        parser.add_argument("--project", required=True)
        parser.add_argument(
            "--exact",
            action="store_true",
            help="exact deployment coordinates (for the team itself; default: public, generalised where sensitive)",
        )

    def handle(self, *args, out, project, exact=False, **options):
        try:
            row = project_by_name(project)
        except NotFound as exc:
            raise CommandError(f"no project {project!r}") from exc
        summary = export_camtrap_dp(project=row, out_dir=out, exact=exact)
        self.stdout.write(
            f"wrote {summary.path}: {summary.deployments} deployments, {summary.media} media, "
            f"{summary.sequences} sequences "
            f"({summary.machine_rows} machine classifications, {summary.human_rows} reviewer classifications)"
        )
        for warning in summary.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))

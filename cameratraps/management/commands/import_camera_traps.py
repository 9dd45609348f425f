"""Import a camera-trap data set (Camtrap DP, or COCO Camera Traps + images) into a project."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cameratraps.importers import import_camtrap_dp, import_coco
from cameratraps.models import Project
from cameratraps.services import project_create
from core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Create a project's deployments and observations from Camtrap DP or COCO Camera Traps; "
        "each frame is queued for classification."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name (created if new; then --owner is required)")
        parser.add_argument("--owner", help="username owning a new project (its frames are this user's observations)")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--camtrap-dp", type=Path, help="a Camtrap DP package folder (or its datapackage.json)")
        source.add_argument("--coco", type=Path, help="a COCO Camera Traps JSON file (needs --images)")
        parser.add_argument("--images", type=Path, help="the folder COCO file_name paths are relative to")
        parser.add_argument("--latitude", type=float, help="COCO: where images without coordinates were taken")
        parser.add_argument("--longitude", type=float)
        parser.add_argument(
            "--sequence-interval", type=int, help="new project: seconds between frames of one sequence (default 60)"
        )

    def handle(
        self,
        *args,
        project,
        owner=None,
        camtrap_dp=None,
        coco=None,
        images=None,
        latitude=None,
        longitude=None,
        sequence_interval=None,
        **options,
    ):
        if coco is not None and images is None:
            raise CommandError("--coco needs --images DIR")
        row = Project.objects.filter(name=project).first()
        try:
            if row is None:
                if not owner:
                    raise CommandError(f"project {project!r} does not exist: give --owner USERNAME to create it")
                user = get_user_model().objects.filter(username=owner).first()
                if user is None:
                    raise CommandError(f"no user {owner!r}")
                extra = {"sequence_interval_s": sequence_interval} if sequence_interval else {}
                row = project_create(name=project, owner=user, **extra)
                self.stdout.write(f"created project {project} (owner {owner})")
            if camtrap_dp is not None:
                report = import_camtrap_dp(project=row, package_dir=camtrap_dp)
            else:
                report = import_coco(
                    project=row, coco_path=coco, images_dir=images, latitude=latitude, longitude=longitude
                )
        except ServiceError as exc:
            raise CommandError(exc.detail) from exc
        for line in report.lines():
            self.stdout.write(line)

from django.apps import AppConfig


class CameratrapsConfig(AppConfig):
    """Camera-trap projects: deployments, batch uploads with their own quota and queue, sequences,
    Camtrap DP and COCO Camera Traps in, Camtrap DP out."""

    name = "cameratraps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from observations.selectors import viewer_rule_register

        viewer_rule_register(project_members_see_its_frames)


def project_members_see_its_frames(user):
    """A frame of a project that keeps its frames to itself is visible to the project's owner and
    members (the photo, the identifications), as a filter on Observation."""
    from django.db.models import Q

    return Q(camera_trap_media__project__owner=user) | Q(camera_trap_media__project__members=user)

from django.apps import AppConfig


class CameratrapsConfig(AppConfig):
    """Camera-trap projects: deployments, batch uploads with their own quota and queue, sequences,
    Camtrap DP and COCO Camera Traps in, Camtrap DP out."""

    name = "cameratraps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from observations.selectors import viewer_rule_register
        from observations.signals import observation_classified

        viewer_rule_register(project_members_see_its_frames)
        observation_classified.connect(next_frame_of_the_project, dispatch_uid="cameratraps.next_frame_of_the_project")


def project_members_see_its_frames(user):
    """A frame of a project that keeps its frames to itself is visible to the project's owner and
    members (the photo, the identifications), as a filter on Observation."""
    from django.db.models import Q

    return Q(camera_trap_media__project__owner=user) | Q(camera_trap_media__project__members=user)


def next_frame_of_the_project(sender, *, observation, **kwargs) -> None:
    """A project's frame finished: its place in the batch queue goes to the project's next frame."""
    if not observation.batch:
        return
    from cameratraps.models import Media
    from cameratraps.services import batch_frames_release

    project_id = Media.objects.filter(observation_id=observation.pk).values_list("project_id", flat=True).first()
    if project_id is not None:
        batch_frames_release(project_ids=[project_id])

from django.apps import AppConfig


class CameratrapsConfig(AppConfig):
    """Camera-trap projects: deployments, batch uploads with their own quota and queue, sequences,
    Camtrap DP and COCO Camera Traps in, Camtrap DP out."""

    name = "cameratraps"
    default_auto_field = "django.db.models.BigAutoField"

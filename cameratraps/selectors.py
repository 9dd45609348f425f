"""Reads of camera-trap projects: who may see a project, its frames (filtered), its sequences."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber

from cameratraps.models import CameraSequence, Deployment, Media, Project
from cameratraps.sequences import Frame, Sequence, label_sequence
from core.errors import NotFound
from observations.models import Observation
from ranges.verdict import NO_ANIMAL


class ProjectNotFound(NotFound):
    def __init__(self):
        super().__init__("no such project")


def projects_for_member(*, user):
    return Project.objects.filter(Q(owner=user) | Q(members=user)).distinct().order_by("name")


def project_for_member(*, user, name: str) -> Project:
    """The project if the caller owns or belongs to it; for anyone else it does not exist (404)."""
    project = projects_for_member(user=user).filter(name=name).first()
    if project is None:
        raise ProjectNotFound()
    return project


def project_by_name(name: str) -> Project:
    project = Project.objects.filter(name=name).first()
    if project is None:
        raise ProjectNotFound()
    return project


def project_deployments(*, project: Project):
    return Deployment.objects.filter(project=project).order_by("deployment_id")


def project_media(
    *,
    project: Project,
    deployment: str = "",
    status: str = "",
    verdict: str = "",
    taxon: str = "",
    since=None,
    until=None,
):
    """The project's frames with their observation, prediction and verdict, oldest upload first
    (cursor pagination orders by id). Filters: deploymentID, job status, verdict status, the
    identified taxon or any taxon under it (scientific name), a capture-time window."""
    media = Media.objects.filter(project=project).select_related(
        "deployment",
        "observation__prediction__model_version",
        "observation__prediction__taxon",
        "observation__verdict__taxon",
    )
    if deployment:
        media = media.filter(deployment__deployment_id=deployment)
    if status:
        media = media.filter(observation__status=status)
    if verdict:
        media = media.filter(observation__verdict__status=verdict)
    if taxon:
        media = media.filter(
            Q(observation__prediction__taxon__scientific_name=taxon)
            | Q(observation__prediction__taxon__parent__scientific_name=taxon)
            | Q(observation__prediction__taxon__parent__parent__scientific_name=taxon)
        )
    if since is not None:
        media = media.filter(timestamp__gte=since)
    if until is not None:
        media = media.filter(timestamp__lt=until)
    return media


def media_frame(media: Media) -> Frame:
    """The plain frame the pure sequence functions work on (the model's top-k, empty or not)."""
    observation = media.observation
    prediction = getattr(observation, "prediction", None) if observation.status == Observation.Status.DONE else None
    top_k = tuple((item["key"], float(item["score"])) for item in prediction.top_k) if prediction else ()
    verdict = getattr(observation, "verdict", None) if prediction else None
    empty = verdict is not None and verdict.status == NO_ANIMAL
    return Frame(
        media.media_id,
        media.deployment.deployment_id,
        media.timestamp,
        top_k=top_k,
        empty=empty,
        classified=prediction is not None,
    )


def project_sequences(*, project: Project):
    """The project's sequences as stored rows (built as frames arrive, services.media_sequence_assign),
    by deploymentID then time, each numbered in its deployment (`n`, for `<deploymentID>-<n>`) by
    the database: a page is a LIMIT/OFFSET query, not a regrouping of every frame (issue 23)."""
    return (
        CameraSequence.objects.filter(project=project)
        .select_related("deployment")
        .annotate(n=Window(RowNumber(), partition_by=[F("deployment_id")], order_by=[F("start").asc(), F("id").asc()]))
        .order_by("deployment__deployment_id", "start", "id")
    )


def sequences_with_frames(*, project: Project, rows) -> list[Sequence]:
    """The pure Sequence of each stored row (a page), with its frames read in one query."""
    rows = list(rows)
    frames: dict[int, list[Frame]] = {row.pk: [] for row in rows}
    for media in project_media(project=project).filter(sequence__in=rows).order_by("timestamp", "media_id"):
        frames[media.sequence_id].append(media_frame(media))
    return [
        Sequence(f"{row.deployment.deployment_id}-{row.n}", row.deployment.deployment_id, tuple(frames[row.pk]))
        for row in rows
        if frames[row.pk]
    ]


def sequence_summary(sequence: Sequence) -> dict:
    """The `SequenceOutputSerializer` shape: the burst and its one identification."""
    label = label_sequence(sequence, settings.RANGEWATCH_CONFIDENCE_THRESHOLD)
    return {
        "sequence_id": sequence.sequence_id,
        "deployment": sequence.deployment_id,
        "start": sequence.start,
        "end": sequence.end,
        "media_ids": [f.media_id for f in sequence.frames],
        "observation_type": label.observation_type,
        "scientific_name": label.scientific_name,
        "probability": label.probability,
        "best_media_id": label.best_media_id,
    }

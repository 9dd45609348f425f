"""Writes for camera-trap projects: create a project, add members, record deployments, and take a
frame into a project (an observation classified on the batch queue, linked by a Media row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction

from cameratraps.models import CameraSequence, Deployment, Media, Project
from core.errors import Conflict, ServiceError
from observations.models import Observation
from observations.services import observation_create, observations_release


@dataclass
class MediaUpload:
    media: Media
    created: bool


def project_create(*, name: str, owner, title: str = "", description: str = "", **settings) -> Project:
    """A new project owned (and joined) by `owner`; `settings`: quota, default geoprivacy, sequence
    interval. A quota above the default from a non-staff owner is recorded as requested and the
    default applies until staff approve it (issue 23: 30 self-made projects of 1,000,000/h each)."""
    if Project.objects.filter(name=name).exists():
        raise Conflict(f"a project named {name!r} already exists", fields={"name": ["already taken"]})
    default_quota = django_settings.RANGEWATCH_PROJECT_DEFAULT_QUOTA_PER_HOUR
    asked = settings.pop("upload_quota_per_hour", default_quota)
    if asked > default_quota and not owner.is_staff:
        settings["upload_quota_requested"], asked = asked, default_quota
    with transaction.atomic():
        project = Project.objects.create(
            name=name,
            owner=owner,
            title=title or name,
            description=description,
            upload_quota_per_hour=asked,
            **settings,
        )
        project.members.add(owner)
    return project


def project_quota_approve(*, project: Project, approver) -> Project:
    """A staff member grants the quota the owner asked for."""
    if not approver.is_staff:
        raise ServiceError("only staff approve a quota above the default", code="permission_denied", status=403)
    if project.upload_quota_requested:
        project.upload_quota_per_hour, project.upload_quota_requested = project.upload_quota_requested, None
        project.save(update_fields=["upload_quota_per_hour", "upload_quota_requested"])
    return project


def project_frames_public_set(*, project: Project, frames_public: bool) -> Project:
    """Opt the project's frames into (or out of) the public feed, existing frames included."""
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(frames_public=frames_public)
        Observation.objects.filter(camera_trap_media__project=project).update(listed_publicly=frames_public)
    project.frames_public = frames_public
    return project


def project_member_add(*, project: Project, user) -> None:
    project.members.add(user)


def deployment_upsert(
    *, project: Project, deployment_id: str, latitude: float, longitude: float, **fields
) -> Deployment:
    """Create or update a deployment by its deploymentID (a re-import changes nothing else)."""
    deployment, _ = Deployment.objects.update_or_create(
        project=project, deployment_id=deployment_id, defaults={"latitude": latitude, "longitude": longitude, **fields}
    )
    return deployment


def deployment_for_upload(
    *, project: Project, deployment_id: str, latitude: float | None, longitude: float | None
) -> Deployment:
    """The named deployment; an unknown one is created at the upload's point (camera-trap frames
    rarely carry GPS, so later frames of the deployment may leave the point out)."""
    deployment = Deployment.objects.filter(project=project, deployment_id=deployment_id).first()
    if deployment is not None:
        return deployment
    if latitude is None or longitude is None:
        detail = f"deployment {deployment_id!r} is new to this project: give its latitude and longitude"
        raise ServiceError(detail, code="unknown_deployment", fields={"deployment": [detail]})
    return deployment_upsert(project=project, deployment_id=deployment_id, latitude=latitude, longitude=longitude)


def media_upload(
    *,
    project: Project,
    uploader,
    photo,
    deployment: Deployment,
    latitude: float | None = None,
    longitude: float | None = None,
    observed_at: datetime | None = None,
    idempotency_key: str = "",
    media_id: str = "",
    file_name: str = "",
) -> MediaUpload:
    """Accept a frame into the project: an observation at the deployment's point (unless the
    upload gives one) with the project's geoprivacy, classified on the batch queue after commit,
    and its Media link, in one transaction. A repeated idempotency key returns the first frame."""
    if latitude is None or longitude is None:
        latitude, longitude = deployment.latitude, deployment.longitude
    with transaction.atomic():
        upload = observation_create(
            owner=uploader,
            photo=photo,
            latitude=latitude,
            longitude=longitude,
            observed_at=observed_at,
            idempotency_key=idempotency_key,
            geoprivacy=project.default_geoprivacy,
            batch=True,
            listed_publicly=project.frames_public,
            held=True,  # handed to the broker by batch_frames_release, in the project's turn
        )
        observation = upload.observation
        existing = Media.objects.filter(observation=observation).first()
        if existing is not None:
            if existing.project_id != project.pk:
                raise Conflict(
                    "this idempotency key already names a photo of another project", code="idempotency_key_reused"
                )
            return MediaUpload(existing, False)
        media_id = media_id or observation.uuid.hex
        # A mediaID already in the project names another frame: 409, not an IntegrityError's 500
        # (issue 23, Low). The unique constraint still decides a race; its error is the same 409.
        taken = Conflict(
            f"mediaID {media_id!r} already names another frame of this project",
            code="media_id_taken",
            fields={"media_id": ["already used in this project"]},
        )
        if Media.objects.filter(project=project, media_id=media_id).exists():
            raise taken
        try:
            with transaction.atomic():
                media = Media.objects.create(
                    project=project,
                    deployment=deployment,
                    observation=observation,
                    media_id=media_id,
                    file_name=file_name[:300],
                    timestamp=observation.observed_at or observation.created,
                )
        except IntegrityError as exc:
            raise taken from exc
        media_sequence_assign(media=media, interval_s=project.sequence_interval_s)
        transaction.on_commit(lambda: batch_frames_release(project_ids=[project.pk]))
    return MediaUpload(media, upload.created)


def media_sequence_assign(*, media: Media, interval_s: int) -> CameraSequence:
    """Put a new frame in its sequence as it arrives: the deployment's sequence whose span it is
    within `interval_s` of (extended to it), a new one if none, and two it bridges merged into one
    (a late frame filling a gap). The same grouping as cameratraps.sequences.group_sequences: a gap
    over the interval between successive frames starts a new sequence. Call in a transaction."""
    gap = timedelta(seconds=interval_s)
    at = media.timestamp
    near = list(
        CameraSequence.objects.select_for_update()
        .filter(deployment_id=media.deployment_id, start__lte=at + gap, end__gte=at - gap)
        .order_by("start", "id")
    )
    if not near:
        sequence = CameraSequence.objects.create(
            project_id=media.project_id, deployment_id=media.deployment_id, start=at, end=at
        )
    else:
        sequence, merged = near[0], near[1:]
        sequence.start = min([at, sequence.start, *(s.start for s in merged)])
        sequence.end = max([at, sequence.end, *(s.end for s in merged)])
        if merged:
            Media.objects.filter(sequence__in=merged).update(sequence=sequence)
            CameraSequence.objects.filter(pk__in=[s.pk for s in merged]).delete()
        sequence.save(update_fields=["start", "end"])
    Media.objects.filter(pk=media.pk).update(sequence=sequence)
    media.sequence = sequence
    return sequence


def project_sequences_rebuild(*, project: Project) -> int:
    """Group the project's frames again (its sequence interval changed): one pass over the frames
    in time order per deployment, read as they stream. Returns the number of sequences."""
    gap = timedelta(seconds=project.sequence_interval_s)
    with transaction.atomic():
        Media.objects.filter(project=project).update(sequence=None)
        CameraSequence.objects.filter(project=project).delete()
        frames = Media.objects.filter(project=project).order_by("deployment_id", "timestamp", "id")
        current, members, count = None, [], 0

        def close():
            if current is not None:
                current.save(update_fields=["end"])
                Media.objects.filter(pk__in=members).update(sequence=current)

        for pk, deployment_id, at in frames.values_list("pk", "deployment_id", "timestamp").iterator(chunk_size=2000):
            if current is None or current.deployment_id != deployment_id or at - current.end > gap:
                close()
                current, members = (
                    CameraSequence.objects.create(project=project, deployment_id=deployment_id, start=at, end=at),
                    [],
                )
                count += 1
            current.end = at
            members.append(pk)
        close()
    return count


def batch_frames_release(*, project_ids: list[int] | None = None) -> int:
    """Fair shares of the batch queue between projects (issue 23: first come, first served let one
    client's card starve every other team). A project's frames are held at upload; here each project
    (all with held frames, or `project_ids`) tops up to RANGEWATCH_PROJECT_FRAMES_IN_BROKER frames
    waiting in the broker, oldest first. The broker's queue so holds at most that many frames of
    any project, interleaved; a frame that finishes frees its project's place (a receiver of
    `observation_classified`, and the beat every sweep interval for failures), so projects with work
    are served in turn, whatever their backlog: a new team's frames wait behind at most
    (projects x that many) frames, not behind a whole card. Returns the frames released."""
    limit = django_settings.RANGEWATCH_PROJECT_FRAMES_IN_BROKER
    frames = Observation.objects.filter(camera_trap_media__isnull=False, batch=True, status=Observation.Status.QUEUED)
    if project_ids is None:
        project_ids = list(frames.filter(held=True).values_list("camera_trap_media__project", flat=True).distinct())
    released = 0
    for project_id in project_ids:
        with transaction.atomic():
            # One release per project at a time: two uploads finishing together do not both top up.
            Project.objects.select_for_update().filter(pk=project_id).first()
            mine = frames.filter(camera_trap_media__project_id=project_id)
            in_broker = (
                mine.filter(held=False).count()
                + Observation.objects.filter(
                    camera_trap_media__project_id=project_id, status=Observation.Status.PROCESSING
                ).count()
            )
            if in_broker >= limit:
                continue
            turn = list(mine.filter(held=True).order_by("id").values_list("pk", flat=True)[: limit - in_broker])
            released += len(observations_release(observation_ids=turn))
    return released

"""Camera-trap sequences, as pure functions: frames of one deployment within the project's interval
form a sequence (a burst), and the sequence gets one identification from its frames.

Empty frames are most of a camera trap's data, and one burst usually shows one animal: the
sequence's answer averages the model's scores over its non-empty frames (a frame that misses the
animal, or mistakes it once, is outvoted by the others) and is empty only when every frame is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from ml.taxonomy import NO_ANIMAL

HUMAN = "Homo sapiens"


@dataclass(frozen=True)
class Frame:
    media_id: str
    deployment_id: str
    timestamp: datetime
    top_k: tuple[tuple[str, float], ...] = ()  # the model's (taxon key, calibrated score), best first
    empty: bool = False  # the model found no animal
    classified: bool = True  # False while the frame waits for the worker, or when it failed


@dataclass(frozen=True)
class Sequence:
    sequence_id: str
    deployment_id: str
    frames: tuple[Frame, ...]

    @property
    def start(self) -> datetime:
        return self.frames[0].timestamp

    @property
    def end(self) -> datetime:
        return self.frames[-1].timestamp


@dataclass(frozen=True)
class SequenceLabel:
    """Camtrap DP observationType (animal / human / blank / unclassified) and, for animals and
    humans, the taxon with its averaged score and the frame that shows it best."""

    observation_type: str
    scientific_name: str = ""
    probability: float | None = None
    best_media_id: str = ""


def group_sequences(frames: list[Frame], interval_s: float) -> list[Sequence]:
    """Per deployment, in time order, a gap longer than `interval_s` starts a new sequence.
    Ids are `<deploymentID>-<n>` with n counted from 1 in time order: stable while no earlier
    frame arrives."""
    by_deployment: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_deployment[frame.deployment_id].append(frame)
    sequences = []
    for deployment_id in sorted(by_deployment):
        ordered = sorted(by_deployment[deployment_id], key=lambda f: (f.timestamp, f.media_id))
        bursts = [[ordered[0]]]
        for frame in ordered[1:]:
            if (frame.timestamp - bursts[-1][-1].timestamp).total_seconds() > interval_s:
                bursts.append([])
            bursts[-1].append(frame)
        sequences += [
            Sequence(f"{deployment_id}-{n}", deployment_id, tuple(burst)) for n, burst in enumerate(bursts, 1)
        ]
    return sequences


def label_sequence(sequence: Sequence, confidence: float = 0.0) -> SequenceLabel:
    """One identification for the sequence: the taxon with the highest mean score over its
    non-empty classified frames (a frame that does not list a taxon counts 0 for it).

    `confidence` is the threshold a single photo's answer needs to name a taxon
    (RANGEWATCH_CONFIDENCE_THRESHOLD): a sequence whose best mean is below it is `unknown` (Camtrap DP:
    "a classificationProbability below some predefined threshold"), never a name that no frame was
    sure of. Ten frames each answered "uncertain" make an uncertain sequence, not *Pelecanus* at 0.17."""
    classified = [f for f in sequence.frames if f.classified]
    if not classified:
        return SequenceLabel("unclassified")
    animal = [f for f in classified if not f.empty and f.top_k]
    if not animal:
        return SequenceLabel("blank")
    totals: dict[str, float] = defaultdict(float)
    for frame in animal:
        for key, score in frame.top_k:
            if key != NO_ANIMAL:
                totals[key] += score
    if not totals:
        return SequenceLabel("blank")
    name = max(totals, key=lambda k: (totals[k], k))
    best = max(animal, key=lambda f: dict(f.top_k).get(name, 0.0))
    probability = round(totals[name] / len(animal), 6)
    if probability < confidence:
        return SequenceLabel("unknown", probability=probability, best_media_id=best.media_id)
    return SequenceLabel(
        "human" if name == HUMAN else "animal",
        scientific_name=name,
        probability=probability,
        best_media_id=best.media_id,
    )

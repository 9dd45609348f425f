"""Sequences as pure functions: bursts per deployment by the interval, one label per sequence."""

from datetime import datetime, timedelta, timezone

from cameratraps.sequences import Frame, group_sequences, label_sequence

T0 = datetime(2021, 4, 11, 19, 43, 9, tzinfo=timezone.utc)


def frame(media_id, seconds, deployment="d1", top_k=(), empty=False, classified=True):
    return Frame(media_id, deployment, T0 + timedelta(seconds=seconds), tuple(top_k), empty, classified)


def test_frames_within_the_interval_form_one_sequence_per_deployment_in_time_order():
    frames = [frame("c", 70), frame("a", 0), frame("b", 5), frame("x", 1, deployment="d2"), frame("d", 200)]
    sequences = group_sequences(frames, interval_s=60)
    # "c" is 65 s after "b": a new sequence; "d" 130 s after "c": another.
    assert [[f.media_id for f in s.frames] for s in sequences] == [["a", "b"], ["c"], ["d"], ["x"]]
    assert [s.sequence_id for s in sequences] == ["d1-1", "d1-2", "d1-3", "d2-1"]
    assert sequences[0].start == T0 and sequences[0].end == T0 + timedelta(seconds=5)


def test_the_gap_is_measured_between_successive_frames_not_from_the_first():
    frames = [frame(str(n), n * 50) for n in range(5)]  # 200 s in all, never more than 50 s apart
    assert len(group_sequences(frames, interval_s=60)) == 1
    assert len(group_sequences(frames, interval_s=49)) == 5


def test_a_sequence_of_empty_frames_is_blank():
    sequence = group_sequences([frame("a", 0, top_k=[("no_animal", 0.9)], empty=True), frame("b", 1, empty=True)], 60)[
        0
    ]
    assert label_sequence(sequence).observation_type == "blank"


def test_scores_are_averaged_over_the_non_empty_frames_so_one_odd_frame_is_outvoted():
    heron, rat = "Ardea cinerea", "Rattus norvegicus"
    frames = [
        frame("a", 0, empty=True, top_k=[("no_animal", 0.95)]),
        frame("b", 1, top_k=[(heron, 0.7), (rat, 0.2)]),
        frame("c", 2, top_k=[(rat, 0.9), (heron, 0.05)]),  # the single most confident frame says rat
        frame("d", 3, top_k=[(heron, 0.8), (rat, 0.1)]),
    ]
    label = label_sequence(group_sequences(frames, 60)[0])
    assert label.observation_type == "animal"
    assert label.scientific_name == heron
    assert label.probability == round((0.7 + 0.05 + 0.8) / 3, 6)
    assert label.best_media_id == "d"


def test_people_are_human_and_unfinished_sequences_unclassified():
    person = group_sequences([frame("a", 0, top_k=[("Homo sapiens", 0.8)])], 60)[0]
    assert label_sequence(person).observation_type == "human"
    waiting = group_sequences([frame("a", 0, classified=False)], 60)[0]
    assert label_sequence(waiting).observation_type == "unclassified"

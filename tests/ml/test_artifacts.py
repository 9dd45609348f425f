"""Artifacts: round trip, and refusal to serve a damaged or inconsistent one (docs/reliability.md R27)."""

import json

import numpy as np
import pytest

from ml.artifacts import ArtifactError, load_artifact, read_manifest
from ml.engine import Classifier
from tests.factories import TINY_LABELS, jpeg_bytes


def test_round_trip_and_classify(tiny_artifact):
    classifier = Classifier.load(tiny_artifact, top_k=3)
    results = classifier.classify([jpeg_bytes(), b"not an image"])
    assert results[0].ok and results[0].top_k[0][0] == "Testus nativus"
    assert abs(sum(results[0].taxon_scores.values()) - 1.0) < 1e-5
    assert set(results[0].taxon_scores) == {"Testus nativus", "Testus invasor", "no_animal"}
    assert results[1].error_code == "unsupported_format"  # a failure entry, not an exception


def test_temperature_softens_probabilities(tiny_artifact):
    classifier = Classifier.load(tiny_artifact)
    batch = np.stack([classifier.preprocess(jpeg_bytes())])
    sharp = classifier.probabilities(batch).max()
    classifier.manifest.temperature = 4.0
    assert classifier.probabilities(batch).max() < sharp


def test_r27_missing_weights_refused(tiny_artifact):
    (tiny_artifact / "model.safetensors").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact(tiny_artifact)


def test_r27_checksum_mismatch_refused(tiny_artifact):
    path = tiny_artifact / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        load_artifact(tiny_artifact)


def test_r27_label_count_differs_from_head_refused(tiny_artifact):
    manifest_path = tiny_artifact / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["labels"].append("extra")
    manifest["label_taxa"].append(None)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="3-class head"):
        load_artifact(tiny_artifact)


def test_manifest_records_labels_and_preprocessing(tiny_artifact):
    manifest = read_manifest(tiny_artifact)
    assert manifest.label_taxa == TINY_LABELS and manifest.preprocessing.input_size == 64
    assert len(manifest.sha256) == 64

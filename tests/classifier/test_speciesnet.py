"""Issue 25: SpeciesNet's published model folders as a model kind. A stand-in folder in the published
format (bench/speciesnet_stand_in.py: the real 2,498 labels, a pickled module of standard layers that
takes only float32 NHWC 480 x 480) is registered, gated, activated, rolled back and classifies real
photos; broken folders are refused with the reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from bench.speciesnet_stand_in import CLASSIFIER_NAME, LABELS_NAME, write_folder
from classifier import inference
from classifier.models import ModelActivation, ModelVersion
from classifier.services import (
    ActivationRefused,
    ModelRegistrationRefused,
    model_version_activate,
    model_version_add_speciesnet,
    model_version_register,
    model_version_rollback,
)
from ml import speciesnet
from ml.artifacts import ArtifactError
from ml.engine import Classifier
from ml.transforms import SpeciesNetPreprocessing
from tests.conftest import shared_path
from tests.factories import tiny_model_artifact

LABELS = ("speciesnet", "always_crop_99710272_22x8_v12_epoch_00148.labels.txt")
ELEPHANT = ("photos", "speciesnet_test_images", "african_elephants.jpg")

pytestmark = pytest.mark.django_db


@pytest.fixture
def labels_file():
    return shared_path(*LABELS)


@pytest.fixture
def elephant_folder(tmp_path, labels_file):
    """Weights made to prefer the African elephant (about 0.9 of the probability)."""
    return write_folder(tmp_path / "speciesnet", {"african elephant": 10.0}, labels_file=labels_file)


@pytest.fixture(autouse=True)
def _fresh_worker_state():
    inference.reset()
    yield
    inference.reset()


# -- labels -> taxa ---------------------------------------------------------------------------------
def test_every_label_names_the_taxon_the_speciesnet_taxonomy_import_creates(labels_file):
    from ranges.importers.speciesnet import taxon_record

    lines = labels_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2498
    for line in lines:
        parts = line.split(";")
        record = taxon_record(parts[1:6], parts[6], line)
        expected = None if record is None else record.scientific_name
        if parts[6] in ("human",):
            expected = None  # a person is the project's "no animal", not a Homo sapiens to verdict
        assert speciesnet.label_taxon(line) == expected, line


def test_blank_vehicle_human_are_no_animal_and_rank_only_labels_name_their_rank():
    assert speciesnet.label_taxon("f1856211-cfb7-4a5b-9158-c0f72fd09ee6;;;;;;blank") is None
    assert speciesnet.label_taxon("e2895ed5-780b-48f6-8a11-9e27cb594511;;;;;;vehicle") is None
    assert speciesnet.label_taxon("990ae9dd;mammalia;primates;hominidae;homo;sapiens;human") is None
    assert speciesnet.label_taxon("1f689929-883d-4dae-958c-3d57ab5b6c16;;;;;;animal") == "Animalia"
    assert speciesnet.label_taxon("f2d233e3;mammalia;;;;;mammal") == "Mammalia"
    assert speciesnet.label_taxon("837e12c2;aves;galliformes;;;;galliformes order") == "Galliformes"
    assert speciesnet.label_taxon("55631055;mammalia;proboscidea;elephantidae;loxodonta;africana;african elephant") == (
        "Loxodonta africana"
    )
    with pytest.raises(ValueError, match="not a SpeciesNet label"):
        speciesnet.label_taxon("loxodonta africana")


# -- preprocessing ----------------------------------------------------------------------------------
def test_full_image_crop_keeps_max_of_70_percent_and_height_minus_400_rows():
    prep = SpeciesNetPreprocessing()
    assert prep.kept_rows(1000) == 700  # 0.7 h
    assert prep.kept_rows(3000) == 2600  # h - 400
    # A photo whose top and bottom 150 rows are red and the middle green: the crop keeps 700 rows
    # (the 15 % at each end go), so the 480 x 480 input shows only green.
    pixels = np.zeros((1000, 600, 3), dtype=np.uint8)
    pixels[:, :, 1] = 200
    pixels[:150] = (255, 0, 0)
    pixels[850:] = (255, 0, 0)
    x = prep.to_array(Image.fromarray(pixels))
    assert x.shape == (480, 480, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.allclose(x[..., 0], 0.0) and np.allclose(x[..., 1], 200 / 255, atol=1 / 255)


def test_preprocessing_matches_the_speciesnet_packages_torchvision_steps_on_a_real_photo():
    """speciesnet 5.0.6 classifier.py: pil_to_tensor, float, center_crop to max(0.7 h, h - 400) rows,
    resize 480 x 480 (antialias=False), back to uint8, HWC, / 255. Ours differs by float rounding
    only: at most one 8-bit step, on a handful of values."""
    import torchvision.transforms.functional as TF

    from ml.images import load_rgb

    img = load_rgb(shared_path(*ELEPHANT))
    x = TF.convert_image_dtype(TF.pil_to_tensor(img), torch.float32)
    rows = max(int(img.height * 0.7), img.height - 400)
    x = TF.resize(TF.center_crop(x, [rows, img.width]), [480, 480], antialias=False)
    reference = TF.convert_image_dtype(x, torch.uint8).permute(1, 2, 0).numpy() / 255.0

    ours = SpeciesNetPreprocessing().to_array(img)
    difference = np.abs(ours - reference)
    assert difference.max() <= 1 / 255 + 1e-6
    assert (difference > 1e-6).mean() < 0.005


def test_the_stand_in_module_takes_only_nhwc_480(elephant_folder):
    """What makes the classification tests below fail if the pipeline fed another layout or size."""
    module = torch.load(elephant_folder / CLASSIFIER_NAME, weights_only=False)
    assert module(torch.zeros(2, 480, 480, 3)).shape == (2, 2498)
    for wrong in (torch.zeros(1, 3, 480, 480), torch.zeros(1, 224, 224, 3), torch.zeros(1, 480, 640, 3)):
        with pytest.raises(RuntimeError):
            module(wrong)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
@pytest.mark.parametrize("converted", [False, True], ids=["plain-module", "onnx2torch-graph"])
def test_the_elephant_photo_gets_the_taxon_the_weights_prefer(tmp_path, labels_file, backend, converted):
    """A module of plain layers, and the same converted as the published ones are (onnx2torch)."""
    folder = write_folder(tmp_path / "sn", {"african elephant": 10.0}, labels_file=labels_file, onnx2torch=converted)
    classifier = Classifier.load(folder, backend=backend, onnx_cache_dir=tmp_path / "onnx")
    photo = shared_path(*ELEPHANT)
    by_path, by_bytes, junk = classifier.classify([photo, photo.read_bytes(), b"not a photo"])
    assert by_path.top_k[0][0] == by_bytes.top_k[0][0] == "Loxodonta africana"
    assert by_path.top_k[0][1] == pytest.approx(np.exp(10) / (np.exp(10) + 2497), rel=1e-4)
    assert junk.error_code == "unsupported_format"


# -- registration -----------------------------------------------------------------------------------


def test_a_missing_classifier_is_refused_naming_the_file(elephant_folder):
    (elephant_folder / CLASSIFIER_NAME).unlink()
    with pytest.raises(
        ModelRegistrationRefused, match=r"classifier file 'classifier.pt' named in info.json is missing"
    ):
        model_version_add_speciesnet(path=elephant_folder)
    assert not ModelVersion.objects.exists()


def test_a_missing_info_json_is_refused(elephant_folder):
    (elephant_folder / "info.json").unlink()
    with pytest.raises(ModelRegistrationRefused, match="no info.json .* not a SpeciesNet model folder"):
        model_version_add_speciesnet(path=elephant_folder)


def test_labels_and_head_that_do_not_match_are_refused(tmp_path, labels_file):
    folder = write_folder(tmp_path / "sn", {"aardvark": 5.0}, labels_file=labels_file, num_outputs=2000)
    with pytest.raises(ModelRegistrationRefused, match="lists 2498 labels but the classifier has a 2000-class head"):
        model_version_add_speciesnet(path=folder)


def test_a_corrupt_classifier_is_refused(elephant_folder):
    data = (elephant_folder / CLASSIFIER_NAME).read_bytes()
    (elephant_folder / CLASSIFIER_NAME).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelRegistrationRefused, match="classifier.pt is not a loadable torch module"):
        model_version_add_speciesnet(path=elephant_folder)


def test_a_classifier_that_takes_another_input_is_refused(elephant_folder):
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten()), elephant_folder / CLASSIFIER_NAME)
    with pytest.raises(ModelRegistrationRefused, match=r"does not take SpeciesNet's input \(1, 480, 480, 3\)"):
        model_version_add_speciesnet(path=elephant_folder)


def test_labels_that_are_not_speciesnet_labels_are_refused(elephant_folder):
    (elephant_folder / LABELS_NAME).write_text("elephant\nlion\n")
    with pytest.raises(ModelRegistrationRefused, match="not a SpeciesNet label list"):
        model_version_add_speciesnet(path=elephant_folder)


def test_always_crop_is_refused_saying_megadetector_does_not_run_here(tmp_path, labels_file):
    folder = write_folder(tmp_path / "crop", {"lion": 5.0}, labels_file=labels_file, model_type="always_crop")
    with pytest.raises(ModelRegistrationRefused, match="always_crop model.*does not run MegaDetector.*full_image"):
        model_version_add_speciesnet(path=folder)


def test_registration_records_checksums_and_a_swapped_classifier_no_longer_loads(elephant_folder, labels_file):
    done = model_version_add_speciesnet(path=elephant_folder)
    version = done.version
    sums = json.loads((elephant_folder / speciesnet.CHECKSUMS_FILE).read_text())["sha256"]
    assert set(sums) == {"info.json", "classifier", "labels"}
    assert version.sha256 == sums["classifier"] and version.metrics["checksums"] == sums
    assert (version.arch, version.num_labels, version.is_active) == ("speciesnet", 2498, False)
    assert "pickled torch module" in done.warning

    write_folder(elephant_folder, {"lion": 10.0}, labels_file=labels_file)  # someone swaps the weights
    for backend in ("torch", "onnxruntime"):
        with pytest.raises(ArtifactError, match="checksum mismatch"):
            Classifier.load(elephant_folder, backend=backend)


def test_add_speciesnet_activate_force_rollback_and_the_worker_classifies_with_it(tmp_path, elephant_folder):
    """The same gate as any model: the tiny model serves; SpeciesNet has no validation split of its
    own and the active one none either, so activation needs --force, which is logged; the worker's
    classify_photo picks the new version up, and rollback goes back."""
    tiny = model_version_register(path=tiny_model_artifact(tmp_path / "tiny"), activate=True, by="t", reason="first")
    call_command("model_version", "add-speciesnet", str(elephant_folder), "--name", "speciesnet-test")
    version = ModelVersion.objects.get(name="speciesnet-test")

    with pytest.raises(ActivationRefused, match="validation split.*activate anyway with force"):
        model_version_activate(model_version=version, by="alice", reason="camera-trap model")
    with pytest.raises(CommandError, match="activate anyway with force"):
        call_command("model_version", "activate", "speciesnet-test", "--reason", "camera-trap model")
    call_command("model_version", "activate", "speciesnet-test", "--reason", "camera-trap model", "--force")
    logged = ModelActivation.objects.first()
    assert (logged.version, logged.previous, logged.forced) == (version, tiny, True)

    served, result = inference.classify_photo(shared_path(*ELEPHANT).read_bytes())
    assert served == version and result.top_k[0][0] == "Loxodonta africana"

    model_version_rollback(by="carol", reason="back")
    served, result = inference.classify_photo(shared_path(*ELEPHANT).read_bytes())
    assert served == tiny and result.top_k[0][0] != "Loxodonta africana"


def test_add_speciesnet_command_says_why_it_refuses(elephant_folder):
    (elephant_folder / LABELS_NAME).unlink()
    with pytest.raises(CommandError, match="classifier_labels file 'labels.txt' named in info.json is missing"):
        call_command("model_version", "add-speciesnet", str(elephant_folder))


def test_without_onnx2torch_a_published_style_classifier_is_refused_saying_what_to_install(
    tmp_path, labels_file, monkeypatch
):
    folder = write_folder(tmp_path / "sn", {"lion": 5.0}, labels_file=labels_file, onnx2torch=True)
    monkeypatch.setitem(__import__("sys").modules, "onnx2torch", None)  # as if it were not installed
    with pytest.raises(ModelRegistrationRefused, match="needs the Python module 'onnx2torch'.*requirements.txt"):
        model_version_add_speciesnet(path=folder)

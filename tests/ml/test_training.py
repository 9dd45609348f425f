"""Training end to end on a handful of synthetic camera-trap photos written by the tests (CPU, tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ml.training.config import TrainingConfig
from ml.training.data import shared_groups

pytestmark = pytest.mark.slow(reason="trains models end to end with fastai: 10-180 s each")

COLOURS = {"red_deer": (170, 60, 40), "redFox": (40, 70, 170), "empty": (110, 110, 110)}


def write_photos(root, *, locations=4, seqs=2, frames=2):
    """JPEGs coloured by class with noise, in a COCO Camera Traps index with locations and sequences."""
    rng = np.random.default_rng(0)
    cats = [{"id": i + 1, "name": name} for i, name in enumerate(COLOURS)]
    images, annotations = [], []
    for loc in range(locations):
        for s in range(seqs):
            for cat in cats:
                for f in range(frames):
                    name = f"L{loc}_{cat['name']}_{s}_{f}.jpg"
                    base = np.array(COLOURS[cat["name"]], dtype=np.float32)
                    pixels = np.clip(base + rng.normal(0, 25, (40, 48, 3)), 0, 255).astype(np.uint8)
                    Image.fromarray(pixels).save(root / name, quality=90)
                    seq = f"L{loc}-{cat['name']}-{s}"
                    images.append({"id": name, "file_name": name, "location": f"L{loc}", "seq_id": seq, "frame_num": f})
                    annotations.append({"id": f"a-{name}", "image_id": name, "category_id": cat["id"]})
    index = root / "index.cct.json"
    index.write_text(json.dumps({"images": images, "annotations": annotations, "categories": cats}))
    return index


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    return write_photos(root)


def config_for(photos, output, **kw):
    base = dict(
        output=output,
        coco=photos,
        arch="resnet50",
        pretrained="none",
        img_size=32,
        freeze_epochs=1,
        epochs=1,
        lr=1e-3,
        batch_size=8,
        split="location",
        valid_pct=0.25,
        seed=0,
        quiet=True,
        allow_unmatched=True,
        top_losses=4,
    )
    return TrainingConfig(**{**base, **kw})


def test_resnet50_two_epochs_writes_report_and_a_model_that_classifies(photos, tmp_path):
    from ml.engine import Classifier
    from ml.training.train import train

    result = train(config_for(photos, tmp_path / "run"), log=lambda s: None)

    assert shared_groups(result.plan, "location") == set()
    out = result.output
    for name in (
        "metrics.json",
        "report.md",
        "confusion_matrix.png",
        "top_losses.png",
        "training_curves.png",
        "model/manifest.json",
        "model/model.safetensors",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h["phase"] for h in metrics["history"]] == ["frozen", "unfrozen"]
    assert {"macro_f1", "accuracy", "valid_loss", "per_class", "ece_before", "ece_after", "temperature"} <= set(metrics)
    assert [row["class"] for row in metrics["per_class"]] == ["empty", "redFox", "red_deer"]
    assert "macro-F1" in (out / "report.md").read_text()
    classifier = Classifier.load(result.artifact)
    assert classifier.manifest.label_taxa == [
        None,
        "redFox",
        "red_deer",
    ]  # unmatched keep their name, empty is no animal
    assert classifier.manifest.preprocessing.input_size == 32
    assert classifier.manifest.temperature == pytest.approx(metrics["temperature"])
    (found,) = classifier.classify([str(photos.parent / "L0_red_deer_0_0.jpg")])
    assert found.ok and abs(sum(found.taxon_scores.values()) - 1) < 1e-4


def test_resume_continues_from_the_last_checkpoint(photos, tmp_path):
    from ml.training.train import train

    logs = []
    first = train(config_for(photos, tmp_path / "run", epochs=1), log=logs.append)
    assert (first.output / "checkpoints" / "last.pt").is_file()
    resumed = train(config_for(photos, tmp_path / "run", epochs=2, resume=True), log=logs.append)
    assert any("resuming at unfrozen epoch 1" in line for line in logs)
    assert [h["epoch"] for h in resumed.metrics["history"]] == [0, 1, 2]
    assert (resumed.artifact / "manifest.json").is_file()


def test_resume_refuses_another_split(photos, tmp_path):
    from ml.training.train import train

    train(config_for(photos, tmp_path / "run", arch="tiny", epochs=1), log=lambda s: None)
    with pytest.raises(ValueError, match="another data split"):
        train(config_for(photos, tmp_path / "run", arch="tiny", epochs=2, seed=5, resume=True), log=lambda s: None)


def test_same_seed_same_split_and_metrics_on_cpu(photos, tmp_path):
    from ml.training.train import train

    runs = [
        train(
            config_for(photos, tmp_path / f"run{i}", arch="tiny", lr=None, lr_find_iters=10, epochs=2),
            log=lambda s: None,
        )
        for i in range(2)
    ]
    a, b = (r.metrics for r in runs)
    assert [r.id for r in runs[0].plan.valid] == [r.id for r in runs[1].plan.valid]
    assert a["lr"] == b["lr"]
    assert [h["valid_loss"] for h in a["history"]] == [h["valid_loss"] for h in b["history"]]
    assert a["macro_f1"] == b["macro_f1"]


def test_unmatched_classes_are_refused_unless_allowed(photos, tmp_path):
    from ml.training.train import UnmatchedLabels, train

    with pytest.raises(UnmatchedLabels, match="redFox"):
        train(
            config_for(
                photos, tmp_path / "run", arch="tiny", allow_unmatched=False, label_taxa={"red_deer": "Cervus elaphus"}
            ),
            log=lambda s: None,
        )
    assert not (tmp_path / "run" / "model").exists()


# -- the management command ----------------------------------------------------------------------
@pytest.fixture
def taxa(db):
    from tests.factories import TaxonFactory

    return [
        TaxonFactory(scientific_name="Cervus elaphus", common_name="red deer"),
        TaxonFactory(scientific_name="Vulpes vulpes", common_name="Red Fox"),
    ]


@pytest.fixture
def active_old_model(db, tiny_artifact):
    from classifier.services import model_version_register

    return model_version_register(path=tiny_artifact, activate=True)


def command_args(photos, output, *extra):
    return [
        "--coco",
        str(photos),
        "--arch",
        "tiny",
        "--pretrained",
        "none",
        "--img-size",
        "32",
        "--freeze-epochs",
        "1",
        "--epochs",
        "1",
        "--lr",
        "1e-3",
        "--batch-size",
        "8",
        "--valid-pct",
        "0.25",
        "--seed",
        "0",
        "--output",
        str(output),
        *extra,
    ]


@pytest.mark.django_db
def test_command_trains_matches_taxa_registers_and_activates(photos, tmp_path, taxa, active_old_model):
    from django.core.management import call_command

    from classifier.models import ModelVersion
    from ml.engine import Classifier

    call_command("train_classifier", *command_args(photos, tmp_path / "models" / "new", "--activate"))
    active = ModelVersion.objects.get(is_active=True)
    assert active.pk != active_old_model.pk and active.path == str(tmp_path / "models" / "new" / "model")
    assert "macro_f1" in active.metrics
    manifest = Classifier.load(active.path).manifest
    assert dict(zip(manifest.labels, manifest.label_taxa)) == {
        "empty": None,
        "redFox": "Vulpes vulpes",
        "red_deer": "Cervus elaphus",
    }
    assert not (tmp_path / "models" / ".train_classifier.lock").exists()


@pytest.mark.django_db
def test_r32_a_failed_run_keeps_the_old_model_active(photos, tmp_path, taxa, active_old_model):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from classifier.models import ModelVersion

    for image in photos.parent.glob("*.jpg"):
        image.write_bytes(b"not a jpeg")  # every photo unreadable: the run fails after planning
    with pytest.raises(CommandError, match="active model is unchanged"):
        call_command("train_classifier", *command_args(photos, tmp_path / "models" / "broken", "--activate"))
    assert list(ModelVersion.objects.filter(is_active=True)) == [active_old_model]
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_unmatched_classes_refused_by_the_command(photos, tmp_path, active_old_model):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="match no taxon: redFox, red_deer"):
        call_command("train_classifier", *command_args(photos, tmp_path / "models" / "x"))


@pytest.mark.django_db
def test_r32_a_second_concurrent_run_is_refused(photos, tmp_path, taxa):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from ml.training.lock import training_lock

    with training_lock(tmp_path / "models"):
        with pytest.raises(CommandError, match=r"another training run \(PID \d+\)"):
            call_command("train_classifier", *command_args(photos, tmp_path / "models" / "second"))


@pytest.mark.django_db
def test_dry_run_prints_the_plan_and_trains_nothing(photos, tmp_path, taxa, capsys):
    from django.core.management import call_command

    call_command(
        "train_classifier",
        *command_args(photos, tmp_path / "models" / "dry", "--dry-run", "--empty-keep", "0.5", "--first-frame-only"),
    )
    out = capsys.readouterr().out
    assert "split: location" in out and "red_deer -> Cervus elaphus" in out and "empty -> no animal" in out
    assert "not the first frame" in out and "empty, downsampled to 50%" in out
    assert not (tmp_path / "models" / "dry").exists()


def test_r32_retraining_killed_mid_run_keeps_the_previous_model_active(photos, tmp_path, tiny_artifact):
    """Input: `train_classifier --activate` SIGKILLed while it trains (a real process on its own
    SQLite file). The previous model stays the active one, nothing half-made is registered, and
    the next run takes over the dead run's lock."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.local",
        "RANGEWATCH_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_DEBUG": "False",
    }
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        env.pop(name, None)

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300
        )

    def shell(code: str) -> str:
        out = manage("shell", "-c", code)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip().splitlines()[-1]  # after Django's own "objects imported" line

    assert manage("migrate", "--no-input", "-v0").returncode == 0
    setup = (
        "from classifier.services import model_version_register; from tests.factories import TaxonFactory;"
        "TaxonFactory(scientific_name='Cervus elaphus', common_name='red deer'); TaxonFactory(scientific_name='Vulpes vulpes', common_name='Red Fox');"
        f"print(model_version_register(path={str(tiny_artifact)!r}, activate=True).name)"
    )
    old = shell(setup)
    models = tmp_path / "models"
    args = command_args(photos, models / "killed", "--activate")
    args[args.index("--epochs") + 1] = "200"  # long enough to be killed while training
    run = subprocess.Popen(
        [sys.executable, "manage.py", "train_classifier", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = models / "killed" / "checkpoints"
    deadline = time.monotonic() + 180
    while (
        not (checkpoint.is_dir() and any(checkpoint.iterdir())) and run.poll() is None and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert run.poll() is None, "the run ended before it could be killed"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    state = shell(
        "from classifier.models import ModelVersion as M; print(M.objects.count(), [v.name for v in M.objects.filter(is_active=True)])"
    )
    assert state == f"1 [{old!r}]"
    assert (models / ".train_classifier.lock").exists()  # left behind by the killed process
    again = manage("train_classifier", *command_args(photos, models / "next"))
    assert again.returncode == 0, again.stderr[-2000:]

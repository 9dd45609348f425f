"""Load labelled images (COCO Camera Traps JSON, class folders, plain records), filter and split them.

Pure functions over plain records: no torch here, so the plan (and --dry-run) is cheap and testable.
The traps of camera-trap data handled here: a huge empty class (downsampled), labels that belong to a
whole sequence (first frame only, optional), images with two species (dropped), and leakage between
training and validation (split by location or sequence so no group is on both sides).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


@dataclass(frozen=True)
class ImageRecord:
    id: str
    path: str
    label: str | None  # None: unlabelled or ambiguous (see labels)
    labels: tuple[str, ...] = ()
    location: str | None = None
    seq_id: str | None = None
    frame_num: int | None = None
    corrupt: bool = False


@dataclass
class DataPlan:
    classes: list[str]
    train: list[ImageRecord]
    valid: list[ImageRecord]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> images
    warnings: list[str] = field(default_factory=list)
    split: str = "location"

    def counts(self, records: list[ImageRecord]) -> dict[str, int]:
        found = Counter(r.label for r in records)
        return {c: found.get(c, 0) for c in self.classes}

    def to_dict(self) -> dict:
        return {
            "split": self.split,
            "classes": self.classes,
            "train_images": len(self.train),
            "valid_images": len(self.valid),
            "train_counts": self.counts(self.train),
            "valid_counts": self.counts(self.valid),
            "dropped": dict(self.dropped),
            "warnings": list(self.warnings),
        }

    def describe(self) -> str:
        lines = [
            f"split: {self.split}; {len(self.train)} training and {len(self.valid)} validation images, {len(self.classes)} classes"
        ]
        train, valid = self.counts(self.train), self.counts(self.valid)
        width = max([len(c) for c in self.classes] + [5])
        lines.append(f"  {'class':<{width}}  train  valid")
        for c in self.classes:
            lines.append(f"  {c:<{width}}  {train[c]:>5}  {valid[c]:>5}")
        if self.dropped:
            lines.append("dropped: " + ", ".join(f"{n} {reason}" for reason, n in self.dropped.items()))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# -- loading -------------------------------------------------------------------------------------
def load_coco(coco_path: str | Path, images_dir: str | Path | None = None) -> list[ImageRecord]:
    """Records from a COCO Camera Traps file; an image's label is the set of its annotations' categories."""
    coco_path = Path(coco_path)
    images_dir = Path(images_dir) if images_dir else coco_path.parent
    data = json.loads(coco_path.read_text())
    names = {c["id"]: c["name"] for c in data.get("categories", [])}
    labels: dict[str, set[str]] = {}
    for ann in data.get("annotations", []):
        if ann.get("category_id") in names:
            labels.setdefault(str(ann["image_id"]), set()).add(names[ann["category_id"]])
    records = []
    for image in data.get("images", []):
        found = tuple(sorted(labels.get(str(image["id"]), ())))
        records.append(
            ImageRecord(
                id=str(image["id"]),
                path=str(images_dir / image["file_name"]),
                label=found[0] if len(found) == 1 else None,
                labels=found,
                location=_text(image.get("location")),
                seq_id=_text(image.get("seq_id")),
                frame_num=image.get("frame_num"),
                corrupt=bool(image.get("corrupt", False)),
            )
        )
    return records


def load_folders(root: str | Path) -> list[ImageRecord]:
    """Records from one folder per class (images anywhere below it)."""
    root = Path(root)
    records = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(class_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                rel = str(path.relative_to(root))
                records.append(ImageRecord(id=rel, path=str(path), label=class_dir.name, labels=(class_dir.name,)))
    return records


def records_from_dicts(rows: list[dict]) -> list[ImageRecord]:
    """Records from plain dicts (id, path, label, optional location/seq_id/frame_num)."""
    return [
        ImageRecord(
            id=str(row["id"]),
            path=str(row["path"]),
            label=row.get("label"),
            labels=(row["label"],) if row.get("label") else (),
            location=_text(row.get("location")),
            seq_id=_text(row.get("seq_id")),
            frame_num=row.get("frame_num"),
        )
        for row in rows
    ]


def _text(value) -> str | None:
    return None if value is None or value == "" else str(value)


# -- filtering -----------------------------------------------------------------------------------
def keep_first_frames(records: list[ImageRecord]) -> list[ImageRecord]:
    """The first frame of each sequence (lowest frame_num); images without a sequence stay."""
    first: dict[str, ImageRecord] = {}
    out = []
    for r in records:
        if r.seq_id is None:
            out.append(r)
        elif r.seq_id not in first or (r.frame_num or 0) < (first[r.seq_id].frame_num or 0):
            first[r.seq_id] = r
    keep = {id(r) for r in first.values()}
    return [r for r in records if r.seq_id is None or id(r) in keep]


def is_empty_label(label: str | None, empty_names=("empty", "blank")) -> bool:
    return label is not None and label.strip().lower() in {n.lower() for n in empty_names}


def downsample_empty(
    records: list[ImageRecord], keep: float, seed: int, empty_names=("empty", "blank")
) -> list[ImageRecord]:
    """Keep round(keep x n) of the empty sequences (a whole sequence stays or goes), chosen by seed."""
    if keep >= 1.0:
        return list(records)
    groups = sorted({_sequence_key(r) for r in records if is_empty_label(r.label, empty_names)})
    kept = set(random.Random(seed).sample(groups, round(keep * len(groups))))
    return [r for r in records if not is_empty_label(r.label, empty_names) or _sequence_key(r) in kept]


def _sequence_key(r: ImageRecord) -> str:
    return f"seq:{r.seq_id}" if r.seq_id is not None else f"img:{r.id}"


def group_key(r: ImageRecord, split: str) -> str:
    """What must not straddle training and validation: the camera location, the sequence, or nothing."""
    if split == "location":
        return f"loc:{r.location}" if r.location is not None else _sequence_key(r)
    if split == "sequence":
        return _sequence_key(r)
    return f"img:{r.id}"


def split_records(
    records: list[ImageRecord], split: str, valid_pct: float, seed: int
) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """Whole groups go to validation in a seeded order until about valid_pct of the images are there.

    A group that would overshoot the target is skipped (a smaller one may fit) unless validation is
    still empty. The same records, split and seed always give the same split.
    """
    groups: dict[str, list[ImageRecord]] = {}
    for r in records:
        groups.setdefault(group_key(r, split), []).append(r)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    target = valid_pct * len(records)
    valid_keys: set[str] = set()
    count = 0
    for key in order:
        size = len(groups[key])
        if count >= target:
            break
        if count + size <= math.ceil(target) or not valid_keys:
            valid_keys.add(key)
            count += size
    if len(valid_keys) == len(groups) and len(groups) > 1:
        valid_keys.discard(order[0] if order[0] in valid_keys else next(iter(valid_keys)))
    train = [r for r in records if group_key(r, split) not in valid_keys]
    valid = [r for r in records if group_key(r, split) in valid_keys]
    return train, valid


def build_plan(
    records: list[ImageRecord],
    *,
    split: str = "location",
    valid_pct: float = 0.2,
    seed: int = 42,
    empty_keep: float = 1.0,
    empty_names=("empty", "blank"),
    first_frame_only: bool = False,
    min_per_class: int = 1,
) -> DataPlan:
    """Filter the records (counting what was dropped and why), then split them."""
    dropped: Counter = Counter()
    warnings: list[str] = []

    def keep(rows, reason, kept):
        dropped[reason] += len(rows) - len(kept)
        return kept

    rows = keep(records, "marked corrupt", [r for r in records if not r.corrupt])
    rows = keep(rows, "missing file", [r for r in rows if Path(r.path).is_file()])
    rows = keep(rows, "unlabelled", [r for r in rows if r.labels])
    rows = keep(rows, "with two or more species (herds under one image)", [r for r in rows if r.label is not None])
    if first_frame_only:
        rows = keep(rows, "not the first frame of their sequence", keep_first_frames(rows))
    rows = keep(rows, f"empty, downsampled to {empty_keep:.0%}", downsample_empty(rows, empty_keep, seed, empty_names))
    per_class = Counter(r.label for r in rows)
    small = sorted(c for c, n in per_class.items() if n < min_per_class)
    if small:
        rows = keep(
            rows,
            f"in classes with fewer than {min_per_class} images ({', '.join(small)})",
            [r for r in rows if r.label not in small],
        )
    if not rows:
        raise ValueError(
            "no usable images left after filtering: " + ", ".join(f"{n} {k}" for k, n in dropped.items() if n)
        )
    if split == "location" and any(r.location is None for r in rows):
        warnings.append(
            f"{sum(r.location is None for r in rows)} images have no location: grouped by sequence (or alone) instead"
        )
    train, valid = split_records(rows, split, valid_pct, seed)
    classes = sorted({r.label for r in rows})
    unseen = sorted({r.label for r in valid} - {r.label for r in train})
    if unseen:
        warnings.append(f"{len(unseen)} classes have validation images but no training images: {', '.join(unseen)}")
    return DataPlan(
        classes=classes,
        train=train,
        valid=valid,
        dropped={k: n for k, n in dropped.items() if n},
        warnings=warnings,
        split=split,
    )


def shared_groups(plan: DataPlan, split: str) -> set[str]:
    """Groups (locations or sequences) that appear on both sides: empty for a leak-free split."""
    return {group_key(r, split) for r in plan.train} & {group_key(r, split) for r in plan.valid}
